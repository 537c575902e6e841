// common.cuh - shared definitions for the SparseKernels CUDA kernels.
//
// Every kernel file includes this header. The kernels compile two ways:
//   * as CUDA with nvcc (PTX for compute_80/compute_90, fatbin for sm_80/sm_90), and
//   * as plain C++ for the emulated device: clang++ -x c++ -include sk_emulator.h, where the
//     emulator header defines SK_EMULATED and the CUDA built-ins (threadIdx, __syncthreads,
//     __shfl_*_sync, atomics, __ldg, its own SK_DYNAMIC_SHARED, ...).
// So: no inline PTX, no cooperative groups, no runtime API, no printf, no std library here.
#pragma once

#ifndef SK_EMULATED
// Dynamic shared memory: the one way kernels may declare it (the emulator defines its own version).
#define SK_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

// Threads in a warp, and the mask naming all of them (for the *_sync intrinsics).
#define SK_WARP_SIZE 32
#define SK_FULL_MASK 0xffffffffu

// Sum of v over the 32 lanes of a full warp; the result is valid in lane 0.
// Every lane of the warp must call it (all kernels here launch whole warps and keep their
// early exits warp-uniform).
__device__ __forceinline__ float sk_warp_sum_to_lane0(float v)
{
    for (int offset = SK_WARP_SIZE / 2; offset > 0; offset /= 2)
        v += __shfl_down_sync(SK_FULL_MASK, v, offset);
    return v;
}
