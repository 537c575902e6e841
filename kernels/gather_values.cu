// gather_values.cu - dst[i] = src[perm[i]]: a transposed CSR's values refreshed from the weight's values through the
// stored permutation (SparsePermutation), O(nnz) per refresh.
//
// Versions:
//   gather_values_v1  grid-stride over i < n, one element per thread per step.
// Assumes: perm entries lie in [0, length of src); dst aliases neither src nor perm.
#include "common.cuh"

extern "C" __global__ void gather_values_v1(long long n, const float* __restrict__ src, const int* __restrict__ perm, float* __restrict__ dst)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = src[perm[i]];
}
