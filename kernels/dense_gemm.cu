// dense_gemm.cu - plain dense SGEMM for the emulated device (a CUDA device uses cuBLAS instead):
//   C[m x n] = op(A) . op(B), row-major, op(X) = X or X^T (trans_a / trans_b != 0), C overwritten.
//   A is m x k (k x m when trans_a), B is k x n (n x k when trans_b).
//
// Versions:
//   dense_gemm_v1 Simple shared-memory tiling, 16 x 16 output tile per block of 16 x 16 threads,
//                 K walked in tiles of 16 (the last one partial: out-of-range loads read 0).
//                 Assumes: blockDim = (16, 16); 2 * 16 * 16 * 4 bytes of dynamic shared memory; grid = (ceil(n/16), ceil(m/16)); C aliases neither
//                 A nor B. Not tuned (the CUDA path is cuBLAS).
#include "common.cuh"

#define SK_GEMM_TILE 16

extern "C" __global__ void dense_gemm_v1(int m, int n, int k, int trans_a, int trans_b,
                                         const float* __restrict__ a,
                                         const float* __restrict__ b,
                                         float* __restrict__ c)
{
    // Dynamic shared memory (2 * 16 * 16 floats, given at launch): the emulator keeps static __shared__
    // in the module's static TLS block, which is small.
    SK_DYNAMIC_SHARED(float, smem);
    float (*as)[SK_GEMM_TILE] = (float (*)[SK_GEMM_TILE])smem;
    float (*bs)[SK_GEMM_TILE] = (float (*)[SK_GEMM_TILE])(smem + SK_GEMM_TILE * SK_GEMM_TILE);
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int row = (int)blockIdx.y * SK_GEMM_TILE + ty;
    const int col = (int)blockIdx.x * SK_GEMM_TILE + tx;
    float acc = 0.0f;
    for (int t0 = 0; t0 < k; t0 += SK_GEMM_TILE)
    {
        const int ka = t0 + tx;  // A element (row, ka)
        float va = 0.0f;
        if (row < m && ka < k)
            va = trans_a ? a[(long long)ka * m + row] : a[(long long)row * k + ka];
        as[ty][tx] = va;
        const int kb = t0 + ty;  // B element (kb, col)
        float vb = 0.0f;
        if (kb < k && col < n)
            vb = trans_b ? b[(long long)col * k + kb] : b[(long long)kb * n + col];
        bs[ty][tx] = vb;
        __syncthreads();
        for (int t = 0; t < SK_GEMM_TILE; ++t) acc += as[ty][t] * bs[t][tx];
        __syncthreads();
    }
    if (row < m && col < n) c[(long long)row * n + col] = acc;
}
