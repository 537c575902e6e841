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
//   spmm_csr_v2_scalar / spmm_csr_v2_vec4  Sputnik-style (Gale et al., SC'20; written from the paper's
//                description, not from its code). One launch config, two dense access widths:
//                * Row swizzle: slot s of the grid processes row swizzle[s], a permutation of [0, m) with
//                  rows ordered by length (longest first), computed once per pattern on the host and
//                  cached with the device matrix by the launcher (RowSwizzle.For in
//                  src/SparseKernels/Ops/RowSwizzle.cs). Neighbouring subwarps, hence each warp, get rows
//                  of similar length.
//                * Subwarp tiling: blockDim = (32, 4); each warp splits into 32/S subwarps of S lanes
//                  (S = 4, 8, 16 or 32, the `subwarp` argument, chosen by the launcher from n), each
//                  owning one row; grid.y tiles the n columns in tiles of S*V (V = 1 scalar, 4 vec4).
//                * Sparse row tile staged in shared memory: the subwarp loads 4*S nonzeros at a time,
//                  each lane one int4 of column indices and one float4 of values (so values and
//                  column_indices must be 16-byte aligned: device allocations are), stores them in its
//                  slice of shared memory, __syncwarp(subwarp mask), and every lane then reads all of
//                  them (broadcast) while walking its own columns.
//                * Row-offset alignment trick instead of padding: the first tile starts at the row
//                  start rounded down to a multiple of 4; the leading entries that belong to the
//                  previous row are loaded (they are inside the array) but skipped. A trailing quad
//                  that would run past the row end is loaded element by element (the sparse residue),
//                  so nothing is read past the arrays and the CSR needs no padding.
//                * Byte-offset index pre-scaling: while staging, a column index c becomes the byte
//                  offset c*n*4 of its row of B, so the inner loop is one add. Guard: only when
//                  k*n*4 (the largest such offset plus a row) fits in int32 (`prescale` = 1, decided by the
//                  launcher); otherwise `prescale` = 0 and the staged value is the column, scaled in 64 bits.
//                * vec4: float4 loads of B and float4 stores of C; needs n % 4 == 0 and B, C 16-byte
//                  aligned (the launcher checks, else uses scalar). scalar: any n. In both, lanes whose
//                  columns fall past n (the dense residue of the last column tile) stage and
//                  synchronise but neither load B nor store C.
//                Assumes: blockDim == (32, 4); grid.x * 4 * (32/S) >= m; grid.y * S * V >= n; valid CSR;
//                swizzle a permutation of [0, m); B and C do not alias. Accumulates in fp32 in CSR order.
//   spmm_csr_v3_scalar / spmm_csr_v3_vec4  v2 with the shared-memory bank conflicts of the staged tile removed.
//                Same launch configuration, arguments, assumptions, accumulation order and residue handling
//                as v2 (the same products summed in the same order); two changes to the staging:
//                * Vector staging stores: each lane writes its quad with one 16-byte store per array (int4 of
//                  column indices or byte offsets, float4 of values) instead of four 4-byte stores at a
//                  4-word lane stride. v2's scalar store: lane L of a warp writes word 4L+e, i.e. banks
//                  {0, 4, ..., 28}, 4 lanes per bank: 4-way, 4 stores = 16 wavefronts per array. A 16-byte
//                  store is served per quarter warp (8 lanes, 128 bytes): 4 wavefronts when each quarter's
//                  8 quads fall in distinct 4-bank groups.
//                * Padded per-subwarp slices: slice g starts at word g*(4S+4) (v2: g*4S), so the stride is
//                  a multiple of 4 words (every quad and slice stays 16-byte aligned) and not a multiple of
//                  32. In the inner loop all lanes of a subwarp read the same word (broadcast), and the
//                  32/S subwarps of a warp read word g*stride + j (+ 0..3 in the first tile, the alignment
//                  skip): distinct words, so distinct banks are needed to avoid serialising. Per warp
//                  (bank of subwarp g's word = (g*stride + j) mod 32, g = 0 .. 32/S-1):
//                    S = 4  (8 subwarps): v2 stride 16 -> banks 0,16,0,16,...   4-way;
//                                         v3 stride 20 -> 0,20,8,28,16,4,24,12  conflict-free.
//                    S = 8  (4 subwarps): v2 stride 32 -> all bank 0            4-way;
//                                         v3 stride 36 -> 0,4,8,12              conflict-free.
//                    S = 16 (2 subwarps): v2 stride 64 -> 0,0                    2-way;
//                                         v3 stride 68 -> 0,4                    conflict-free.
//                    S = 32 (1 subwarp):  one word per read, conflict-free in both.
//                  Each subwarp owns a window of 4 consecutive banks, so the first tile's skip of 0..3
//                  entries (different per subwarp) stays conflict-free too. These reads happen 4*S times
//                  per staged tile against one store, so they dominate the shared traffic.
//                  Staging stores with the padding: S >= 8, a quarter warp is 8 lanes of one slice, 32
//                  consecutive words: conflict-free (4 wavefronts). S = 4, a quarter warp spans two slices
//                  (words 20g .. 20g+15 and 20g+20 .. 20g+35): 4 of their banks overlap, 2-way (8
//                  wavefronts; v2 had 16). No stride is conflict-free for both at S = 4 (stores need
//                  stride = 16 mod 32, reads an odd multiple of 4), and the reads dominate.
//                Shared memory: 2 x 640 words (the S = 4 layout, 32 slices of 20 words) = 5 KiB per block.
//                Registers (ptxas, CUDA 11.8): 40 on sm_80 and sm_90 (v2: 44), no spills, 5120 bytes smem.
//
// Transposed use (C = A^T . B, A m x k, B m x n, C k x n, the data gradient dX = dY.W): the launcher takes a
// CSR of A^T (k x m) that the caller keeps beside A, and runs the same kernels on it. We keep a CSR transpose
// rather than a CSC view because a CSC view walked by output row is a scatter (atomics, nondeterministic
// sums, poor locality) while a CSR transpose gives every output row exactly one writer and reuses the tuned
// gather kernel; keeping it in sync costs one O(nnz) value permutation per weight update (the pattern, and
// so the permutation, is fixed between pattern changes), against O(nnz*n) for each product.
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

// ---------------------------------------------------------------- v2

#define SK_SPMM_V2_WARPS 4                                   // blockDim.y
#define SK_SPMM_V2_TILE (SK_SPMM_V2_WARPS * SK_WARP_SIZE * 4)  // staged nonzeros per block (4 per thread)

template <int V>
__device__ __forceinline__ void sk_spmm_csr_v2(int m, int n, int subwarp, int prescale,
                                               const int* __restrict__ swizzle,
                                               const int* __restrict__ row_offsets,
                                               const int* __restrict__ column_indices,
                                               const float* __restrict__ values,
                                               const float* __restrict__ b,
                                               float* __restrict__ c)
{
    __shared__ __align__(16) float s_values[SK_SPMM_V2_TILE];
    __shared__ __align__(16) int s_offsets[SK_SPMM_V2_TILE];

    const int S = subwarp;
    const int lane = (int)threadIdx.x;
    const int sub_lane = lane % S;
    const int thread = (int)threadIdx.y * SK_WARP_SIZE + lane;
    const int group = thread / S;                               // subwarp index in the block
    const int slot = (int)blockIdx.x * (SK_SPMM_V2_WARPS * SK_WARP_SIZE / S) + group;
    if (slot >= m) return;                                      // uniform within the subwarp
    const unsigned mask = (S == SK_WARP_SIZE) ? SK_FULL_MASK : (((1u << S) - 1u) << (lane - sub_lane));

    const int row = swizzle[slot];
    const int start = row_offsets[row];
    const int end = row_offsets[row + 1];
    const int col = ((int)blockIdx.y * S + sub_lane) * V;       // this lane's first column
    const bool active = col < n;                                // dense residue: lanes past n only stage

    float* s_val = s_values + group * 4 * S;
    int* s_off = s_offsets + group * 4 * S;

    float acc[V];
    for (int v = 0; v < V; ++v) acc[v] = 0.0f;

    for (int base = start & ~3; base < end; base += 4 * S)
    {
        // Stage 4*S nonzeros: lane sub_lane loads the quad [q, q + 4).
        const int q = base + 4 * sub_lane;
        int ci[4] = {0, 0, 0, 0};
        float vv[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (q + 4 <= end)
        {
            const int4 c4 = *reinterpret_cast<const int4*>(column_indices + q);   // aligned: q % 4 == 0
            const float4 v4 = *reinterpret_cast<const float4*>(values + q);
            ci[0] = c4.x; ci[1] = c4.y; ci[2] = c4.z; ci[3] = c4.w;
            vv[0] = v4.x; vv[1] = v4.y; vv[2] = v4.z; vv[3] = v4.w;
        }
        else
        {
            for (int e = 0; e < 4; ++e)
                if (q + e >= start && q + e < end) { ci[e] = column_indices[q + e]; vv[e] = values[q + e]; }
        }
        for (int e = 0; e < 4; ++e)
        {
            s_val[4 * sub_lane + e] = vv[e];
            s_off[4 * sub_lane + e] = prescale ? ci[e] * n * (int)sizeof(float) : ci[e];
        }
        __syncwarp(mask);

        if (active)
        {
            const int first = start > base ? start - base : 0;  // entries of the previous row (alignment)
            const int count = end - base < 4 * S ? end - base : 4 * S;
            for (int j = first; j < count; ++j)
            {
                const float a = s_val[j];
                const float* __restrict__ b_row = prescale
                    ? reinterpret_cast<const float*>(reinterpret_cast<const char*>(b) + s_off[j])
                    : b + (long long)s_off[j] * n;
                if (V == 4)
                {
                    const float4 bv = *reinterpret_cast<const float4*>(b_row + col);
                    acc[0] += a * bv.x; acc[1 % V] += a * bv.y; acc[2 % V] += a * bv.z; acc[3 % V] += a * bv.w;
                }
                else
                {
                    acc[0] += a * b_row[col];
                }
            }
        }
        __syncwarp(mask);                                       // the tile is reused
    }

    if (active)
    {
        float* __restrict__ c_row = c + (long long)row * n + col;
        if (V == 4)
            *reinterpret_cast<float4*>(c_row) = make_float4(acc[0], acc[1 % V], acc[2 % V], acc[3 % V]);
        else
            c_row[0] = acc[0];
    }
}

extern "C" __global__ void spmm_csr_v2_scalar(int m, int k, int n, int subwarp, int prescale,
                                              const int* __restrict__ swizzle,
                                              const int* __restrict__ row_offsets,
                                              const int* __restrict__ column_indices,
                                              const float* __restrict__ values,
                                              const float* __restrict__ b,
                                              float* __restrict__ c)
{
    (void)k;
    sk_spmm_csr_v2<1>(m, n, subwarp, prescale, swizzle, row_offsets, column_indices, values, b, c);
}

extern "C" __global__ void spmm_csr_v2_vec4(int m, int k, int n, int subwarp, int prescale,
                                            const int* __restrict__ swizzle,
                                            const int* __restrict__ row_offsets,
                                            const int* __restrict__ column_indices,
                                            const float* __restrict__ values,
                                            const float* __restrict__ b,
                                            float* __restrict__ c)
{
    (void)k;
    sk_spmm_csr_v2<4>(m, n, subwarp, prescale, swizzle, row_offsets, column_indices, values, b, c);
}

// ---------------------------------------------------------------- v3

#define SK_SPMM_V3_WARPS 4                                      // blockDim.y
// Words per subwarp slice: 4*S staged entries plus 4 words of padding (keeps every slice 16-byte aligned).
#define SK_SPMM_V3_STRIDE(S) (4 * (S) + 4)
// The whole block's slices at the smallest subwarp (S = 4: 32 slices of 20 words); larger S need fewer words.
#define SK_SPMM_V3_WORDS ((SK_SPMM_V3_WARPS * SK_WARP_SIZE / 4) * SK_SPMM_V3_STRIDE(4))

template <int V>
__device__ __forceinline__ void sk_spmm_csr_v3(int m, int n, int subwarp, int prescale,
                                               const int* __restrict__ swizzle,
                                               const int* __restrict__ row_offsets,
                                               const int* __restrict__ column_indices,
                                               const float* __restrict__ values,
                                               const float* __restrict__ b,
                                               float* __restrict__ c)
{
    __shared__ __align__(16) float s_values[SK_SPMM_V3_WORDS];
    __shared__ __align__(16) int s_offsets[SK_SPMM_V3_WORDS];

    const int S = subwarp;
    const int lane = (int)threadIdx.x;
    const int sub_lane = lane % S;
    const int thread = (int)threadIdx.y * SK_WARP_SIZE + lane;
    const int group = thread / S;                               // subwarp index in the block
    const int slot = (int)blockIdx.x * (SK_SPMM_V3_WARPS * SK_WARP_SIZE / S) + group;
    if (slot >= m) return;                                      // uniform within the subwarp
    const unsigned mask = (S == SK_WARP_SIZE) ? SK_FULL_MASK : (((1u << S) - 1u) << (lane - sub_lane));

    const int row = swizzle[slot];
    const int start = row_offsets[row];
    const int end = row_offsets[row + 1];
    const int col = ((int)blockIdx.y * S + sub_lane) * V;       // this lane's first column
    const bool active = col < n;                                // dense residue: lanes past n only stage

    // This subwarp's padded slice; the lane's quad at word 4*sub_lane (16-byte aligned: the stride is a
    // multiple of 4 words).
    float* s_val = s_values + group * SK_SPMM_V3_STRIDE(S);
    int* s_off = s_offsets + group * SK_SPMM_V3_STRIDE(S);

    float acc[V];
    for (int v = 0; v < V; ++v) acc[v] = 0.0f;

    for (int base = start & ~3; base < end; base += 4 * S)
    {
        // Stage 4*S nonzeros: lane sub_lane loads the quad [q, q + 4) and stores it with one 16-byte store
        // per array.
        const int q = base + 4 * sub_lane;
        int4 c4 = make_int4(0, 0, 0, 0);
        float4 v4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (q + 4 <= end)
        {
            c4 = *reinterpret_cast<const int4*>(column_indices + q);   // aligned: q % 4 == 0
            v4 = *reinterpret_cast<const float4*>(values + q);
        }
        else
        {
            // The sparse residue: element by element (q + 3 >= end here, so the last entry is never loaded).
            // Entries before start (the previous row's, in the first tile) are skipped by the reader; they
            // are loaded here only when the quad is whole (they lie inside the arrays).
            if (q + 0 >= start && q + 0 < end) { c4.x = column_indices[q + 0]; v4.x = values[q + 0]; }
            if (q + 1 >= start && q + 1 < end) { c4.y = column_indices[q + 1]; v4.y = values[q + 1]; }
            if (q + 2 >= start && q + 2 < end) { c4.z = column_indices[q + 2]; v4.z = values[q + 2]; }
        }
        if (prescale)
        {
            const int scale = n * (int)sizeof(float);
            c4.x *= scale; c4.y *= scale; c4.z *= scale; c4.w *= scale;
        }
        *reinterpret_cast<float4*>(s_val + 4 * sub_lane) = v4;
        *reinterpret_cast<int4*>(s_off + 4 * sub_lane) = c4;
        __syncwarp(mask);

        if (active)
        {
            const int first = start > base ? start - base : 0;  // entries of the previous row (alignment)
            const int count = end - base < 4 * S ? end - base : 4 * S;
            for (int j = first; j < count; ++j)
            {
                const float a = s_val[j];
                const float* __restrict__ b_row = prescale
                    ? reinterpret_cast<const float*>(reinterpret_cast<const char*>(b) + s_off[j])
                    : b + (long long)s_off[j] * n;
                if (V == 4)
                {
                    const float4 bv = *reinterpret_cast<const float4*>(b_row + col);
                    acc[0] += a * bv.x; acc[1 % V] += a * bv.y; acc[2 % V] += a * bv.z; acc[3 % V] += a * bv.w;
                }
                else
                {
                    acc[0] += a * b_row[col];
                }
            }
        }
        __syncwarp(mask);                                       // the tile is reused
    }

    if (active)
    {
        float* __restrict__ c_row = c + (long long)row * n + col;
        if (V == 4)
            *reinterpret_cast<float4*>(c_row) = make_float4(acc[0], acc[1 % V], acc[2 % V], acc[3 % V]);
        else
            c_row[0] = acc[0];
    }
}

extern "C" __global__ void spmm_csr_v3_scalar(int m, int k, int n, int subwarp, int prescale,
                                              const int* __restrict__ swizzle,
                                              const int* __restrict__ row_offsets,
                                              const int* __restrict__ column_indices,
                                              const float* __restrict__ values,
                                              const float* __restrict__ b,
                                              float* __restrict__ c)
{
    (void)k;
    sk_spmm_csr_v3<1>(m, n, subwarp, prescale, swizzle, row_offsets, column_indices, values, b, c);
}

extern "C" __global__ void spmm_csr_v3_vec4(int m, int k, int n, int subwarp, int prescale,
                                            const int* __restrict__ swizzle,
                                            const int* __restrict__ row_offsets,
                                            const int* __restrict__ column_indices,
                                            const float* __restrict__ values,
                                            const float* __restrict__ b,
                                            float* __restrict__ c)
{
    (void)k;
    sk_spmm_csr_v3<4>(m, n, subwarp, prescale, swizzle, row_offsets, column_indices, values, b, c);
}
