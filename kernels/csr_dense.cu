// csr_dense.cu - moving a CSR matrix's values to and from a dense row-major m x n matrix, for the dense path of a
// sparse layer (below the SpMM crossover the layer's matmuls run as dense GEMMs on the scattered weight, and the
// weight gradient is gathered back at the pattern).
//
// Versions:
//   csr_scatter_dense_v1  dense = the CSR matrix, zeros elsewhere. One warp per row (block = (32, R), row
//                 blockIdx.x * R + threadIdx.y): the lanes zero the whole row (coalesced), __syncwarp, then write
//                 the row's nonzeros (duplicate columns are not allowed in a valid CSR, so each element has one
//                 writer). No separate memset: every element of dense is written.
//   csr_gather_dense_v1   values[p] = dense[row(p) * n + column(p)] for every nonzero p, same launch shape.
// Assumes: blockDim.x == 32; grid.x * blockDim.y >= m; valid CSR (columns in [0, n)); dense does not alias the
// CSR arrays. Row offsets into dense in 64 bits (m * n may exceed 2^31).
#include "common.cuh"

extern "C" __global__ void csr_scatter_dense_v1(int m, int n,
                                                const int* __restrict__ row_offsets,
                                                const int* __restrict__ column_indices,
                                                const float* __restrict__ values,
                                                float* __restrict__ dense)
{
    const int row = (int)(blockIdx.x * blockDim.y + threadIdx.y);
    if (row >= m) return;  // warp-uniform
    const int lane = (int)threadIdx.x;
    float* __restrict__ d = dense + (long long)row * n;
    for (int c = lane; c < n; c += SK_WARP_SIZE) d[c] = 0.0f;
    __syncwarp(SK_FULL_MASK);
    const int end = row_offsets[row + 1];
    for (int p = row_offsets[row] + lane; p < end; p += SK_WARP_SIZE) d[column_indices[p]] = values[p];
}

extern "C" __global__ void csr_gather_dense_v1(int m, int n,
                                               const int* __restrict__ row_offsets,
                                               const int* __restrict__ column_indices,
                                               const float* __restrict__ dense,
                                               float* __restrict__ values)
{
    const int row = (int)(blockIdx.x * blockDim.y + threadIdx.y);
    if (row >= m) return;
    const int lane = (int)threadIdx.x;
    const float* __restrict__ d = dense + (long long)row * n;
    const int end = row_offsets[row + 1];
    for (int p = row_offsets[row] + lane; p < end; p += SK_WARP_SIZE) values[p] = d[column_indices[p]];
}
