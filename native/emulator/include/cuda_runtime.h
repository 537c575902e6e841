// Emulated device: stand-in for <cuda_runtime.h>; everything the kernels need comes from sk_emulator.h (force-included).
#pragma once
#include "sk_emulator.h"
