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
//   sddmm_csr_v2_scalar / sddmm_csr_v2_vec4  Sputnik-style. blockDim = (32, 4): one warp per row, rows taken
//                through a row swizzle (swizzle[slot], rows ordered by length, longest first, cached per
//                pattern by the launcher). The warp splits into 32/S subwarps of S lanes (S = 8, 16 or 32,
//                the `subwarp` argument, from k): each subwarp computes one nonzero's dot product, so a
//                warp works on 32/S nonzeros of its row at once; lanes stride over k by S*V with float4
//                loads of X and Y (vec4: needs k % 4 == 0 and X, Y 16-byte aligned, checked by the
//                launcher) or scalar loads (any k; the last chunk is partial: the residue). The S
//                partial sums are reduced with __shfl_xor_sync inside the subwarp (xor offsets < S never
//                leave it); the subwarp's lane 0 writes. The loop over the row's nonzeros advances the
//                whole warp together (lanes past the row end contribute 0 and do not write), so every
//                lane reaches every shuffle. Empty rows write nothing.
//                Assumes: blockDim == (32, 4); grid.x * 4 >= m; swizzle a permutation of [0, m); valid
//                CSR; out_values does not alias X or Y. Row offsets into X and Y in 64 bits.
//   sddmm_csr_v3_scalar / sddmm_csr_v3_vec4  v2 with the row of X kept in registers (the idea of Sputnik's SDDMM,
//                Gale et al., SC'20, which keeps its lhs tile in registers; written here from that idea). Same
//                launch configuration, arguments and assumptions as v2 (one warp per swizzled row, subwarps of
//                S lanes per nonzero, S from k, float4 or scalar). v2 reloads X[row, :] from global memory
//                (L1 at best) for every nonzero of the row, so its inner loop issues two loads per product
//                term; v3 loads the lane's share of the row once per chunk into registers and issues only
//                the loads of Y for each nonzero, halving the load instructions and the L1/LSU traffic of
//                the inner loop (the X row was also competing with Y for L1).
//                * Chunks: a lane holds L loads of V floats (V = 4, L = 4 vec4; V = 1, L = 16 scalar: 16
//                  floats either way), elements k0 + (l*S + sub_lane)*V + 0..V-1, so a chunk covers S*V*L
//                  elements of k (512 at S = 32). Any k: the row is walked in chunks; the first chunk writes
//                  out_values[p], later ones add to it (the same thread, lane 0 of the subwarp, reads back
//                  what it wrote: no race, no atomics; the sum is then chunk-by-chunk, within the fp32
//                  dot-product tolerance of v2). Elements past k (the residue) are zero in registers and
//                  their Y loads are skipped.
//                * Loads of X and of Y rows are the same coalesced pattern as v2 (consecutive lanes,
//                  consecutive V-float pieces); shuffle reduction inside the subwarp as in v2, every lane
//                  reaches every shuffle (the nonzero loop advances the whole warp; an empty row returns
//                  before it, warp-uniformly).
//                No shared memory. Registers (ptxas, CUDA 11.8): vec4 56 (sm_90) / 66 (sm_80), scalar 58 /
//                64 (v2: vec4 42 / 56, scalar 40 / 40); no spills.
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

// ---------------------------------------------------------------- v2

template <int V>
__device__ __forceinline__ void sk_sddmm_csr_v2(int m, int k, int subwarp,
                                                const int* __restrict__ swizzle,
                                                const int* __restrict__ row_offsets,
                                                const int* __restrict__ column_indices,
                                                const float* __restrict__ x,
                                                const float* __restrict__ y,
                                                float* __restrict__ out_values)
{
    const int slot = (int)(blockIdx.x * blockDim.y + threadIdx.y);
    if (slot >= m) return;                                   // warp-uniform
    const int S = subwarp;
    const int lane = (int)threadIdx.x;
    const int sub_lane = lane % S;
    const int group = lane / S;
    const int groups = SK_WARP_SIZE / S;
    const int row = swizzle[slot];
    const int start = row_offsets[row];
    const int end = row_offsets[row + 1];
    const float* __restrict__ x_row = x + (long long)row * k;
    for (int base = start; base < end; base += groups)
    {
        const int p = base + group;
        float partial = 0.0f;
        if (p < end)
        {
            const float* __restrict__ y_row = y + (long long)column_indices[p] * k;
            if (V == 4)
            {
                for (int t = sub_lane * 4; t < k; t += S * 4)
                {
                    const float4 xv = *reinterpret_cast<const float4*>(x_row + t);
                    const float4 yv = *reinterpret_cast<const float4*>(y_row + t);
                    partial += xv.x * yv.x + xv.y * yv.y + xv.z * yv.z + xv.w * yv.w;
                }
            }
            else
            {
                for (int t = sub_lane; t < k; t += S)
                    partial += x_row[t] * y_row[t];
            }
        }
        for (int offset = S / 2; offset > 0; offset /= 2)
            partial += __shfl_xor_sync(SK_FULL_MASK, partial, offset);
        if (p < end && sub_lane == 0) out_values[p] = partial;
    }
}

extern "C" __global__ void sddmm_csr_v2_scalar(int m, int n, int k, int subwarp,
                                               const int* __restrict__ swizzle,
                                               const int* __restrict__ row_offsets,
                                               const int* __restrict__ column_indices,
                                               const float* __restrict__ x,
                                               const float* __restrict__ y,
                                               float* __restrict__ out_values)
{
    (void)n;
    sk_sddmm_csr_v2<1>(m, k, subwarp, swizzle, row_offsets, column_indices, x, y, out_values);
}

extern "C" __global__ void sddmm_csr_v2_vec4(int m, int n, int k, int subwarp,
                                             const int* __restrict__ swizzle,
                                             const int* __restrict__ row_offsets,
                                             const int* __restrict__ column_indices,
                                             const float* __restrict__ x,
                                             const float* __restrict__ y,
                                             float* __restrict__ out_values)
{
    (void)n;
    sk_sddmm_csr_v2<4>(m, k, subwarp, swizzle, row_offsets, column_indices, x, y, out_values);
}

// ---------------------------------------------------------------- v3

// Loads of X each lane keeps in registers per k-chunk: SK_SDDMM_V3_LOADS(V) of V floats (16 floats either way).
#define SK_SDDMM_V3_LOADS(V) ((V) == 4 ? 4 : 16)

template <int V>
__device__ __forceinline__ void sk_sddmm_csr_v3(int m, int k, int subwarp,
                                                const int* __restrict__ swizzle,
                                                const int* __restrict__ row_offsets,
                                                const int* __restrict__ column_indices,
                                                const float* __restrict__ x,
                                                const float* __restrict__ y,
                                                float* __restrict__ out_values)
{
    constexpr int L = SK_SDDMM_V3_LOADS(V);                  // loads of X (and of each Y row) per lane per chunk
    const int slot = (int)(blockIdx.x * blockDim.y + threadIdx.y);
    if (slot >= m) return;                                   // warp-uniform
    const int S = subwarp;
    const int lane = (int)threadIdx.x;
    const int sub_lane = lane % S;
    const int group = lane / S;
    const int groups = SK_WARP_SIZE / S;
    const int chunk = S * V * L;                             // k-elements per chunk (one pass over the row)
    const int row = swizzle[slot];
    const int start = row_offsets[row];
    const int end = row_offsets[row + 1];
    if (start == end) return;                                // warp-uniform: an empty row has no outputs
    const float* __restrict__ x_row = x + (long long)row * k;

    for (int k0 = 0; k0 < k; k0 += chunk)
    {
        // This lane's share of X[row, k0 .. k0 + chunk): elements k0 + (l*S + sub_lane)*V + 0..V-1. Loaded once
        // per chunk and reused for every nonzero of the row (v2 re-reads them for each nonzero).
        float xr[L][V];
#pragma unroll
        for (int l = 0; l < L; ++l)
        {
            const int t = k0 + (l * S + sub_lane) * V;
            if (V == 4)
            {
                float4 xv = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                if (t < k) xv = *reinterpret_cast<const float4*>(x_row + t);   // k % 4 == 0: t < k => t + 3 < k
                xr[l][0] = xv.x; xr[l][1 % V] = xv.y; xr[l][2 % V] = xv.z; xr[l][3 % V] = xv.w;
            }
            else
            {
                xr[l][0] = t < k ? x_row[t] : 0.0f;
            }
        }

        for (int base = start; base < end; base += groups)
        {
            const int p = base + group;
            float partial = 0.0f;
            if (p < end)
            {
                const float* __restrict__ y_row = y + (long long)column_indices[p] * k;
#pragma unroll
                for (int l = 0; l < L; ++l)
                {
                    const int t = k0 + (l * S + sub_lane) * V;
                    if (t < k)
                    {
                        if (V == 4)
                        {
                            const float4 yv = *reinterpret_cast<const float4*>(y_row + t);
                            partial += xr[l][0] * yv.x + xr[l][1 % V] * yv.y + xr[l][2 % V] * yv.z + xr[l][3 % V] * yv.w;
                        }
                        else
                        {
                            partial += xr[l][0] * y_row[t];
                        }
                    }
                }
            }
            for (int offset = S / 2; offset > 0; offset /= 2)
                partial += __shfl_xor_sync(SK_FULL_MASK, partial, offset);
            if (p < end && sub_lane == 0)
                out_values[p] = k0 == 0 ? partial : out_values[p] + partial;   // later chunks accumulate
        }
    }
}

extern "C" __global__ void sddmm_csr_v3_scalar(int m, int n, int k, int subwarp,
                                               const int* __restrict__ swizzle,
                                               const int* __restrict__ row_offsets,
                                               const int* __restrict__ column_indices,
                                               const float* __restrict__ x,
                                               const float* __restrict__ y,
                                               float* __restrict__ out_values)
{
    (void)n;
    sk_sddmm_csr_v3<1>(m, k, subwarp, swizzle, row_offsets, column_indices, x, y, out_values);
}

extern "C" __global__ void sddmm_csr_v3_vec4(int m, int n, int k, int subwarp,
                                             const int* __restrict__ swizzle,
                                             const int* __restrict__ row_offsets,
                                             const int* __restrict__ column_indices,
                                             const float* __restrict__ x,
                                             const float* __restrict__ y,
                                             float* __restrict__ out_values)
{
    (void)n;
    sk_sddmm_csr_v3<4>(m, k, subwarp, swizzle, row_offsets, column_indices, x, y, out_values);
}
