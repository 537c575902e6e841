// device_sort.cu - a full sort of 32-bit keys on the device, the baseline the selection benchmarks
// compare against (select must beat sorting the same array).
//
// Versions:
//   device_sort_bitonic_step_v1  one compare-exchange step (j, k) of a bitonic sorting network over a
//                 power-of-two array (the launcher pads with 0 keys and runs the log2(n)(log2(n)+1)/2
//                 steps). Sorts descending. Simple, not tuned (no shared-memory stages).
//                 Assumes: n a power of two, 1-D grid-stride, n < 2^31.
#include "common.cuh"

extern "C" __global__ void device_sort_bitonic_step_v1(long long n, unsigned int* __restrict__ keys, long long j, long long k)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        const long long partner = i ^ j;
        if (partner <= i) continue;
        const unsigned int a = keys[i], b = keys[partner];
        const bool descending = (i & k) == 0;
        if (descending ? a < b : a > b)
        {
            keys[i] = b;
            keys[partner] = a;
        }
    }
}
