// C entry points of libsparsekernels_emu.so (host side) and the registration interface used by the
// generated per-.cu wrapper translation units. See native/SparseKernels.Native/Emulator.cs.
#pragma once

#define SK_EMU_API __attribute__((visibility("default")))
#define SK_EMU_ABI_VERSION 2

extern "C" {
typedef void (*sk_emu_thunk)(void** args);
typedef void* (*sk_emu_tls_anchor)(void);

SK_EMU_API int sk_emu_abi_version(void);
// dynamic_area: null, or the translation unit's thread-local area that its literal `extern __shared__ T name[]`
// declarations alias (then it is the dynamic shared memory of its kernels).
SK_EMU_API void sk_emu_register_kernel(const char* name, sk_emu_thunk thunk, int params, sk_emu_tls_anchor anchor, const char* source,
    sk_emu_tls_anchor dynamic_area);
SK_EMU_API int sk_emu_kernel_count(void);
SK_EMU_API const char* sk_emu_kernel_name(int index);
SK_EMU_API int sk_emu_kernel_param_count(const char* name);
// Returns 0 on success, 1 for a bad launch (nothing ran), 2 when a check failed while running (error says which).
SK_EMU_API int sk_emu_launch(const char* kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned shared_bytes, void** args, char* error, int error_capacity);
SK_EMU_API void* sk_emu_malloc(unsigned long long bytes);
SK_EMU_API int sk_emu_free(void* ptr);
SK_EMU_API int sk_emu_park(void* ptr, int parked);
SK_EMU_API int sk_emu_check_range(const void* ptr, unsigned long long bytes, char* error, int error_capacity);
SK_EMU_API void sk_emu_memcpy(void* dst, const void* src, unsigned long long bytes);
SK_EMU_API void sk_emu_memset32(void* dst, unsigned value, unsigned long long count);
SK_EMU_API void sk_emu_mem_info(unsigned long long* free_bytes, unsigned long long* total_bytes);
}
