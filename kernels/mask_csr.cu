// mask_csr.cu - a dense m x n byte mask (nonzero = present) to CSR and back, for masked-dense layers
// and for export.
//
// Versions:
//   mask_csr_row_counts_v1  counts[r] = number of nonzero mask bytes in row r (one thread per row,
//                 grid-stride). The launcher scans the counts into row offsets.
//   mask_csr_fill_v1        one thread per row writes the row's columns (ascending) and values:
//                 dense[r * n + c] when dense is non-null, else 1.
//   mask_from_csr_v1        one thread per row sets mask[r * n + col] = 1 for each nonzero (the
//                 launcher zeroes the mask first).
// Assumes: 1-D grids; m * n < 2^31; valid CSR for mask_from_csr_v1.
#include "common.cuh"

extern "C" __global__ void mask_csr_row_counts_v1(int m, int n, const unsigned char* __restrict__ mask, int* __restrict__ counts)
{
    for (int r = (int)(blockIdx.x * blockDim.x + threadIdx.x); r < m; r += (int)(gridDim.x * blockDim.x))
    {
        int c = 0;
        const unsigned char* row = mask + (long long)r * n;
        for (int j = 0; j < n; ++j) c += row[j] != 0;
        counts[r] = c;
    }
}

extern "C" __global__ void mask_csr_fill_v1(int m, int n, const unsigned char* __restrict__ mask, const float* __restrict__ dense,
                                            const int* __restrict__ row_offsets, int* __restrict__ cols, float* __restrict__ values)
{
    for (int r = (int)(blockIdx.x * blockDim.x + threadIdx.x); r < m; r += (int)(gridDim.x * blockDim.x))
    {
        int out = row_offsets[r];
        const long long base = (long long)r * n;
        for (int j = 0; j < n; ++j)
            if (mask[base + j] != 0)
            {
                cols[out] = j;
                values[out] = dense != nullptr ? dense[base + j] : 1.0f;
                ++out;
            }
    }
}

extern "C" __global__ void mask_from_csr_v1(int m, int n, const int* __restrict__ row_offsets, const int* __restrict__ cols,
                                            unsigned char* __restrict__ mask)
{
    for (int r = (int)(blockIdx.x * blockDim.x + threadIdx.x); r < m; r += (int)(gridDim.x * blockDim.x))
        for (int p = row_offsets[r]; p < row_offsets[r + 1]; ++p) mask[(long long)r * n + cols[p]] = 1;
}
