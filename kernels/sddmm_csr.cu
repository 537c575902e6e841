// sddmm_csr.cu - sampled dense-dense matmul: for each nonzero p = (i, j) of an m x n CSR pattern,
//   out_values[p] = sum_t X[i, t] * Y[j, t],   X m x k, Y n x k, both row-major.
// (The pattern's own values are not read: scaling by them, if wanted, is a separate elementwise op.)
//
// Versions:
//   sddmm_csr_v1 The simple, correct baseline (not tuned). One warp per row of the pattern:
//                block = (32, R) threads holds R warps, warp threadIdx.y of block blockIdx.x owns
//                row blockIdx.x * R + threadIdx.y. For each nonzero of its row, the lanes stride
//                over the k dimension (any k: the last chunk is partial), then a __shfl_down_sync
//                tree sums the 32 partial dot products and lane 0 writes out_values[p]. Empty
//                rows write nothing (they have no outputs).
//                Assumes: blockDim.x == 32 (whole warps, all lanes reach every shuffle: the only
//                early exit is warp-uniform); grid.x * blockDim.y >= m; valid CSR with columns in
//                [0, n); out_values does not alias X or Y. Row offsets into X and Y in 64 bits.
#include "common.cuh"

extern "C" __global__ void sddmm_csr_v1(int m, int n, int k,
                                        const int* __restrict__ row_offsets,
                                        const int* __restrict__ column_indices,
                                        const float* __restrict__ x,
                                        const float* __restrict__ y,
                                        float* __restrict__ out_values)
{
    (void)n;  // Y's row count; the column indices are trusted to lie in [0, n)
    const int row = (int)(blockIdx.x * blockDim.y + threadIdx.y);
    if (row >= m) return;  // warp-uniform
    const int lane = (int)threadIdx.x;
    const int start = row_offsets[row];
    const int end = row_offsets[row + 1];
    const float* __restrict__ x_row = x + (long long)row * k;
    for (int p = start; p < end; ++p)
    {
        const float* __restrict__ y_row = y + (long long)column_indices[p] * k;
        float partial = 0.0f;
        for (int t = lane; t < k; t += SK_WARP_SIZE)
            partial += x_row[t] * y_row[t];
        const float sum = sk_warp_sum_to_lane0(partial);
        if (lane == 0) out_values[p] = sum;
    }
}
