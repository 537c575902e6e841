// Emulated device: stand-in for <device_launch_parameters.h>; everything the kernels need comes from sk_emulator.h (force-included).
#pragma once
#include "sk_emulator.h"
