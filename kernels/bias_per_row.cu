// bias_per_row.cu - per-row bias of a feature-major activation x (features x batch, row-major), and
// row sums (the bias gradient: sum over the batch of dY), and the sum of a whole array.
//
// Versions:
//   bias_per_row_add_v1   x[r, c] += bias[r]; grid-stride over rows*cols; 1-D blocks.
//   bias_per_row_sum_v1   out[r] = scale * sum_c x[r, c] (+ out[r] when accumulate != 0). One block per
//                      row (grid.x = rows), blockDim.x a power of two, blockDim.x floats of dynamic shared memory, a tree.
//                      Also the whole-array sum: rows = 1, cols = n.
// Assumes: out aliases no input of the sum; a sum's summation order depends on the block size.
#include "common.cuh"

extern "C" __global__ void bias_per_row_add_v1(int rows, int cols, const float* __restrict__ bias, float* __restrict__ x)
{
    const long long count = (long long)rows * cols;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x)
        x[i] += bias[i / cols];
}

extern "C" __global__ void bias_per_row_sum_v1(int rows, int cols, float scale, int accumulate,
                                            const float* __restrict__ x, float* __restrict__ out)
{
    SK_DYNAMIC_SHARED(float, partial);  // blockDim.x floats, given at launch
    const int r = (int)blockIdx.x;
    if (r >= rows) return;  // block-uniform
    const float* row = x + (long long)r * cols;
    float s = 0.0f;
    for (int c = (int)threadIdx.x; c < cols; c += (int)blockDim.x) s += row[c];
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int half = (int)blockDim.x / 2; half > 0; half /= 2)
    {
        if ((int)threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[r] = scale * partial[0] + (accumulate ? out[r] : 0.0f);
}
