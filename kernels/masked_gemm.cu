// masked_gemm.cu - masked dense GEMM for the low-sparsity end of a sparse layer:
//   C[m x n] = X[m x k] . (W o mask)^T,   X m x k, W n x k (the layer's weight, out x in), mask n x k bytes
//   (nonzero = keep), C m x n; all row-major. A null mask computes the plain dense X . W^T (the emulated
//   device's stand-in for cuBLAS).
//
// Versions:
//   masked_gemm_v1  Plain fp32, tiled in shared memory with register blocking. blockDim = (16, 16); a block
//                computes a 64 x 64 tile of C (rows blockIdx.y*64.., columns blockIdx.x*64..), stepping k by
//                16: the 256 threads load a 64x16 tile of X and of W (4 elements each, zero outside the
//                matrices, W multiplied by its mask on the way in) into shared memory stored k-major, then
//                each thread accumulates a 4 x 4 register block (rows ty + 16*i, columns tx + 16*j, so the
//                final stores of a warp are contiguous) in fp32. Any m, n, k (edges are masked).
//                Assumes: blockDim == (16, 16); grid == (ceil(n/64), ceil(m/64)); C aliases neither input.
//                Indexes rows in 64 bits.
//   masked_gemm_v2  v1 with the shared tiles padded so that the staging stores do not conflict. Same launch
//                configuration, tiling, load mapping, arithmetic order and results as v1; xs and ws are
//                [16][64 + 2] instead of [16][64] (2 x 4224 bytes of shared memory instead of 2 x 4096).
//                Bank analysis of the staging store: lane l of warp w stores element e = 32w + l + 256r at
//                row rr = e / 16 = 2w + 16r + (l >= 16), k-column kk = l % 16 (this mapping keeps the global
//                loads as in v1: each half warp reads 16 consecutive floats of one row, 64 contiguous bytes,
//                and 16 consecutive mask bytes). v1 writes word kk*64 + rr: bank rr mod 32, the same for the
//                16 lanes of a half warp: 16-way (the two half warps use banks rr and rr+1). v2 writes word
//                kk*66 + rr: bank (2*kk + rr) mod 32; the first half warp covers rr0 + {0, 2, ..., 30}, the
//                second rr0 + 1 + {0, 2, ..., 30}: 32 distinct banks, conflict-free (1 wavefront instead of
//                16 per store instruction, 8 store instructions per k-step).
//                The compute loop's reads are unchanged and conflict-free in both: a warp reads
//                xs[kk][ty + 16i] at 2 addresses (2 values of ty; adjacent words, different banks, each a
//                broadcast to its 16 lanes) and ws[kk][tx + 16j] at 16 consecutive words.
//                Registers (ptxas, CUDA 11.8): 64 on sm_90, 56 on sm_80 (as v1), no spills; 8448 bytes smem.
//   A TF32 mma path (behind #ifndef SK_EMULATED) is not written yet: the fp32 version is the only one,
//   so the tolerance is the fp32 dot-product tolerance of the tests.
#include "common.cuh"

#define SK_MG_BM 64
#define SK_MG_BN 64
#define SK_MG_BK 16

extern "C" __global__ void masked_gemm_v1(int m, int n, int k,
                                          const float* __restrict__ x,
                                          const float* __restrict__ w,
                                          const unsigned char* __restrict__ mask,
                                          float* __restrict__ c)
{
    __shared__ float xs[SK_MG_BK][SK_MG_BM];
    __shared__ float ws[SK_MG_BK][SK_MG_BN];
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int tid = ty * 16 + tx;
    const int m0 = (int)blockIdx.y * SK_MG_BM, n0 = (int)blockIdx.x * SK_MG_BN;
    float acc[4][4];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < k; k0 += SK_MG_BK)
    {
        for (int r = 0; r < 4; ++r)
        {
            const int e = tid + 256 * r;          // 0 .. 1023
            const int rr = e / SK_MG_BK, kk = e % SK_MG_BK;
            const int gk = k0 + kk;
            const int gm = m0 + rr, gn = n0 + rr;
            xs[kk][rr] = (gm < m && gk < k) ? x[(long long)gm * k + gk] : 0.0f;
            float wv = 0.0f;
            if (gn < n && gk < k)
            {
                const long long at = (long long)gn * k + gk;
                wv = w[at];
                if (mask != nullptr && mask[at] == 0) wv = 0.0f;
            }
            ws[kk][rr] = wv;
        }
        __syncthreads();
        for (int kk = 0; kk < SK_MG_BK; ++kk)
        {
            float a[4], bb[4];
            for (int i = 0; i < 4; ++i) a[i] = xs[kk][ty + 16 * i];
            for (int j = 0; j < 4; ++j) bb[j] = ws[kk][tx + 16 * j];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bb[j];
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i)
    {
        const int gm = m0 + ty + 16 * i;
        if (gm >= m) continue;
        for (int j = 0; j < 4; ++j)
        {
            const int gn = n0 + tx + 16 * j;
            if (gn < n) c[(long long)gm * n + gn] = acc[i][j];
        }
    }
}

// ---------------------------------------------------------------- v2

#define SK_MG_V2_PAD 2   // words of padding per shared row: bank (2*kk + rr) mod 32 for the staging stores

extern "C" __global__ void masked_gemm_v2(int m, int n, int k,
                                          const float* __restrict__ x,
                                          const float* __restrict__ w,
                                          const unsigned char* __restrict__ mask,
                                          float* __restrict__ c)
{
    __shared__ float xs[SK_MG_BK][SK_MG_BM + SK_MG_V2_PAD];
    __shared__ float ws[SK_MG_BK][SK_MG_BN + SK_MG_V2_PAD];
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int tid = ty * 16 + tx;
    const int m0 = (int)blockIdx.y * SK_MG_BM, n0 = (int)blockIdx.x * SK_MG_BN;
    float acc[4][4];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < k; k0 += SK_MG_BK)
    {
        for (int r = 0; r < 4; ++r)
        {
            const int e = tid + 256 * r;          // 0 .. 1023; a half warp: one row, 16 consecutive k
            const int rr = e / SK_MG_BK, kk = e % SK_MG_BK;
            const int gk = k0 + kk;
            const int gm = m0 + rr, gn = n0 + rr;
            xs[kk][rr] = (gm < m && gk < k) ? x[(long long)gm * k + gk] : 0.0f;
            float wv = 0.0f;
            if (gn < n && gk < k)
            {
                const long long at = (long long)gn * k + gk;
                wv = w[at];
                if (mask != nullptr && mask[at] == 0) wv = 0.0f;
            }
            ws[kk][rr] = wv;
        }
        __syncthreads();
        for (int kk = 0; kk < SK_MG_BK; ++kk)
        {
            float a[4], bb[4];
            for (int i = 0; i < 4; ++i) a[i] = xs[kk][ty + 16 * i];
            for (int j = 0; j < 4; ++j) bb[j] = ws[kk][tx + 16 * j];
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bb[j];
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i)
    {
        const int gm = m0 + ty + 16 * i;
        if (gm >= m) continue;
        for (int j = 0; j < 4; ++j)
        {
            const int gn = n0 + tx + 16 * j;
            if (gn < n) c[(long long)gm * n + gn] = acc[i][j];
        }
    }
}
