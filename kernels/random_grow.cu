// random_grow.cu - SET growth scores: every position of a chunk of rows gets a uniform random
// key from Philox4x32-10 (philox.cuh), counter (position, 0, 0, 0), key (seed low, seed high);
// the key is (word0 >> 1) + 1, so 0 stays "not a candidate" (grow_exclude_present_v1 in
// gradient_grow.cu clears present positions). Taking the k largest keys (topk_select.cu, ties by
// position) is then a uniformly random k-subset of the absent positions, the same on the CPU
// (src/SparseKernels/Topology/Philox.cs) and on any device for the same seed.
//
// Versions:
//   random_grow_scores_v1  grid-stride over the chunk's rows * n elements; writes keys and
//                          positions at out_offset + (i - r0) * n + j. Assumes m * n < 2^31.
#include "common.cuh"
#include "philox.cuh"

extern "C" __global__ void random_grow_scores_v1(int n, int r0, int rows, unsigned int seed_lo, unsigned int seed_hi,
                                                 unsigned int* __restrict__ keys, int* __restrict__ positions,
                                                 long long out_offset)
{
    const long long total = (long long)rows * n;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x)
    {
        const int position = r0 * n + (int)e;
        const sk_philox4x32 r = sk_philox4x32_10((unsigned int)position, 0u, 0u, 0u, seed_lo, seed_hi);
        keys[out_offset + e] = (r.v[0] >> 1) + 1u;
        positions[out_offset + e] = position;
    }
}
