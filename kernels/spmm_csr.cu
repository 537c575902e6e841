// spmm_csr.cu - sparse (CSR) times dense: C[m x n] = A[m x k] . B[k x n], all dense operands row-major.
//
// Versions:
//   spmm_csr_v1  The simple, correct baseline (not tuned). One warp per row of A: block = (32, R)
//                threads holds R warps, warp threadIdx.y of block blockIdx.x owns row
//                blockIdx.x * R + threadIdx.y. The warp's lanes stride over the n columns of C
//                (any n: the last chunk is partial), and for each column walk the row's nonzeros,
//                accumulating in fp32 in CSR order. Empty rows write zeros. Rows past m exit
//                (whole warps, so no partial-warp hazards).
//                Assumes: blockDim.x == 32; grid.x * blockDim.y >= m; CSR is valid (offsets
//                nondecreasing, 0 <= column < k) - the C# launcher validates on the host side;
//                B and C do not alias. Indexes row*n and column*n in 64 bits (m*n or k*n may
//                exceed 2^31).
//                Transposed use (C = A^T . B, A m x k, B m x n, C k x n) is done by the launcher
//                with the CSR of A^T (k x m); a dedicated transposed kernel may come later.
#include "common.cuh"

extern "C" __global__ void spmm_csr_v1(int m, int k, int n,
                                       const int* __restrict__ row_offsets,
                                       const int* __restrict__ column_indices,
                                       const float* __restrict__ values,
                                       const float* __restrict__ b,
                                       float* __restrict__ c)
{
    (void)k;  // B's row count; the column indices are trusted to lie in [0, k)
    const int row = (int)(blockIdx.x * blockDim.y + threadIdx.y);
    if (row >= m) return;  // warp-uniform: threadIdx.y is the same across a warp
    const int lane = (int)threadIdx.x;
    const int start = row_offsets[row];
    const int end = row_offsets[row + 1];
    float* __restrict__ c_row = c + (long long)row * n;
    for (int col = lane; col < n; col += SK_WARP_SIZE)
    {
        float acc = 0.0f;
        for (int p = start; p < end; ++p)
            acc += values[p] * b[(long long)column_indices[p] * n + col];
        c_row[col] = acc;
    }
}
