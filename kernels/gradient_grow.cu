// gradient_grow.cu - RigL regrowth scores, one bounded chunk of rows at a time, and the helpers
// both growth ops (GradientGrow, RandomGrow) share to keep a running top-k of candidates.
//
// The dense gradient of a layer W (m x n, out x in) is G = dY^T.X, dY batch x m, X batch x n, both
// row-major. It is never materialised whole: the launcher computes rows [r0, r0 + rows) at a time.
// Candidate keys: 0 = not a candidate (a present position), else bits(|G[i, j]|) + 1, so that the
// radix select of topk_select.cu orders them by |G| and never prefers a present position.
//
// Versions:
//   gradient_grow_scores_v1  (dense_gradient_chunk) 16 x 16 output tile per block, block (16, 16),
//                 dY^T and X tiles of 16 batch rows staged in shared memory. Each output is ONE fp32
//                 fused multiply-add chain over the batch in order b = 0, 1, ..., batch-1
//                 (__fmaf_rn, zero-padded terms add exactly 0), so the CPU reference
//                 (MathF.FusedMultiplyAdd in the same order) reproduces every score bit for bit and
//                 the selected set is identical, not merely close. (cuBLAS would not give that.)
//                 Writes keys[out_offset + (i - r0) * n + j] and positions (i * n + j); a NaN
//                 lowers *nan_first to its position. Assumes blockDim = (16, 16), grid (ceil(n/16),
//                 ceil(rows/16)), m * n < 2^31.
//   grow_exclude_present_v1  for each chunk row i and each nonzero p of row i of the pattern with
//                 keep == null or keep[p] != 0: keys[out_offset + (i - r0) * n + col[p]] = 0.
//                 One thread per row (grid-stride). Runs after the score kernel (separate launch).
//   grow_gather_v1           out_keys[j] = keys[idx[j]], out_pos[j] = pos[idx[j]], j < count (gathers
//                 the selected candidates, in order, into separate buffers).
#include "common.cuh"

#define SK_GROW_TILE 16
#define S_A(b, i) s_tiles[(b) * (SK_GROW_TILE + 1) + (i)]
#define S_B(b, j) s_tiles[SK_GROW_TILE * (SK_GROW_TILE + 1) + (b) * (SK_GROW_TILE + 1) + (j)]

extern "C" __global__ void gradient_grow_scores_v1(int m, int n, int batch, int r0, int rows,
                                                   const float* __restrict__ dy, const float* __restrict__ x,
                                                   unsigned int* __restrict__ keys, int* __restrict__ positions,
                                                   long long out_offset, unsigned long long* __restrict__ nan_first)
{
    // Dynamic shared memory, 2 * 16 * 17 floats (sharedBytes >= 2176):
    //   S_A(b, i) = dY[b0 + b, r0 + tile_i + i],  S_B(b, j) = X[b0 + b, tile_j + j]
    SK_DYNAMIC_SHARED(float, s_tiles);
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int local_row = (int)blockIdx.y * SK_GROW_TILE + ty;
    const int col = (int)blockIdx.x * SK_GROW_TILE + tx;
    const int load_row = r0 + (int)blockIdx.y * SK_GROW_TILE + tx;  // the dY column this thread stages
    float acc = 0.0f;
    for (int b0 = 0; b0 < batch; b0 += SK_GROW_TILE)
    {
        const int b = b0 + ty;
        S_A(ty, tx) = (b < batch && load_row < r0 + rows) ? dy[(long long)b * m + load_row] : 0.0f;
        S_B(ty, tx) = (b < batch && col < n) ? x[(long long)b * n + col] : 0.0f;
        __syncthreads();
        const int count = batch - b0 < SK_GROW_TILE ? batch - b0 : SK_GROW_TILE;
        for (int t = 0; t < count; ++t)
            acc = __fmaf_rn(S_A(t, ty), S_B(t, tx), acc);
        __syncthreads();
    }
    if (local_row < rows && col < n)
    {
        const long long at = out_offset + (long long)local_row * n + col;
        const int position = (r0 + local_row) * n + col;
        unsigned int bits = __float_as_uint(acc) & 0x7FFFFFFFu;
        if (bits > 0x7F800000u)
        {
            atomicMin(nan_first, (unsigned long long)position);
            bits = 0u;
        }
        else
        {
            bits += 1u;
        }
        keys[at] = bits;
        positions[at] = position;
    }
}

extern "C" __global__ void grow_exclude_present_v1(int n, int r0, int rows, const int* __restrict__ row_offsets,
                                                   const int* __restrict__ column_indices, const unsigned char* __restrict__ keep,
                                                   unsigned int* __restrict__ keys, long long out_offset)
{
    for (int li = (int)(blockIdx.x * blockDim.x + threadIdx.x); li < rows; li += (int)(gridDim.x * blockDim.x))
    {
        const int row = r0 + li;
        for (int p = row_offsets[row]; p < row_offsets[row + 1]; ++p)
            if (keep == nullptr || keep[p] != 0)
                keys[out_offset + (long long)li * n + column_indices[p]] = 0u;
    }
}

extern "C" __global__ void grow_gather_v1(int count, const int* __restrict__ idx, const unsigned int* __restrict__ keys,
                                          const int* __restrict__ positions, unsigned int* __restrict__ out_keys,
                                          int* __restrict__ out_positions)
{
    for (int j = (int)(blockIdx.x * blockDim.x + threadIdx.x); j < count; j += (int)(gridDim.x * blockDim.x))
    {
        const int s = idx[j];
        out_keys[j] = keys[s];
        out_positions[j] = positions[s];
    }
}
