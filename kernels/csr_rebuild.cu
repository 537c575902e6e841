// csr_rebuild.cu - merges the kept nonzeros of a CSR pattern and the grown positions into a new
// CSR with sorted columns in every row (the last step of a drop-and-grow update, and of pruning
// alone with no grown positions).
//
// Inputs: the old pattern (m x n, row_offsets, column_indices, sorted rows), keep_idx[nkeep]: the
// kept nonzeros' positions in the old CSR, ascending; grown[ngrown]: grown linear positions
// (row * n + col), ascending, none of them kept.
//
// Versions:
//   csr_rebuild_row_offsets_v1  new_row_offsets[r] = #kept in rows < r + #grown in rows < r
//                 (two binary searches per row), for r = 0..m. One thread per entry (grid-stride).
//   csr_rebuild_merge_v1        one thread per row: merges the row's kept and grown columns by
//                 column. Kept: out = src[keep_idx[a]]. Grown: out = src[p] when the column was
//                 in the old row at p (dropped and regrown in the same update keeps its value and
//                 state, RigL's rule), else 0. Writes out_cols when non-null. The launcher calls it
//                 once for the values (with out_cols) and once per optimizer-state array. A grown position
//                 that is also kept (bad input) increments *conflicts; the launcher checks it.
// Assumes: 1-D grids; m * n < 2^31; inputs as above (the launcher builds them).
#include "common.cuh"

__device__ __forceinline__ int sk_lower_bound(const int* __restrict__ a, int count, int value)
{
    int lo = 0, hi = count;
    while (lo < hi)
    {
        const int mid = lo + (hi - lo) / 2;
        if (a[mid] < value) lo = mid + 1; else hi = mid;
    }
    return lo;
}

extern "C" __global__ void csr_rebuild_row_offsets_v1(int m, int n, const int* __restrict__ row_offsets,
                                                      const int* __restrict__ keep_idx, int nkeep,
                                                      const int* __restrict__ grown, int ngrown,
                                                      int* __restrict__ new_row_offsets)
{
    for (int r = (int)(blockIdx.x * blockDim.x + threadIdx.x); r <= m; r += (int)(gridDim.x * blockDim.x))
        new_row_offsets[r] = sk_lower_bound(keep_idx, nkeep, row_offsets[r]) + sk_lower_bound(grown, ngrown, r * n);
}

extern "C" __global__ void csr_rebuild_merge_v1(int m, int n, const int* __restrict__ row_offsets,
                                                const int* __restrict__ column_indices,
                                                const int* __restrict__ keep_idx, int nkeep,
                                                const int* __restrict__ grown, int ngrown,
                                                const int* __restrict__ new_row_offsets,
                                                const float* __restrict__ src, int* __restrict__ out_cols,
                                                float* __restrict__ out_values, unsigned int* __restrict__ conflicts)
{
    for (int r = (int)(blockIdx.x * blockDim.x + threadIdx.x); r < m; r += (int)(gridDim.x * blockDim.x))
    {
        const int row_start = row_offsets[r], row_end = row_offsets[r + 1];
        int a = sk_lower_bound(keep_idx, nkeep, row_start);
        const int a_end = sk_lower_bound(keep_idx, nkeep, row_end);
        int g = sk_lower_bound(grown, ngrown, r * n);
        const int g_end = sk_lower_bound(grown, ngrown, (r + 1) * n);
        int out = new_row_offsets[r];
        while (a < a_end || g < g_end)
        {
            const int kept_col = a < a_end ? column_indices[keep_idx[a]] : n;
            const int grown_col = g < g_end ? grown[g] - r * n : n;
            int col;
            float v;
            if (kept_col == grown_col && kept_col < n) atomicAdd(conflicts, 1u);  // a grown position that is kept
            if (kept_col < grown_col)
            {
                col = kept_col;
                v = src[keep_idx[a]];
                ++a;
            }
            else
            {
                col = grown_col;
                const int p = row_start + sk_lower_bound(column_indices + row_start, row_end - row_start, col);
                v = (p < row_end && column_indices[p] == col) ? src[p] : 0.0f;
                ++g;
            }
            if (out_cols != nullptr) out_cols[out] = col;
            out_values[out] = v;
            ++out;
        }
    }
}
