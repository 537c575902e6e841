// elementwise.cu - element-wise float32 kernels over flat arrays.
//
// Versions: one each (v1, unsuffixed names). Every kernel is a grid-stride loop over a 64-bit
// element count (long long, passed as a C# long), so any grid covers any n; n == 0 does nothing.
//   elementwise_add          out[i] = a[i] + b[i]
//   elementwise_mul          out[i] = a[i] * b[i]
//   elementwise_scale        out[i] = alpha * x[i]
//   elementwise_axpy         y[i] += alpha * x[i]            (in place)
//   elementwise_relu         out[i] = x[i] > 0 ? x[i] : 0
//   elementwise_relu_backward dx[i] = x[i] > 0 ? dy[i] : 0
//   elementwise_add_bias_per_column x[r, c] += bias[c]              (in place, x rows x cols row-major)
//   elementwise_fill         out[i] = value
// Assumes: 1-D blocks and grid; out may equal an input (each element is read then written by the
// same thread) except where noted; NaN inputs propagate (relu of NaN gives 0 as "NaN > 0" is false).
#include "common.cuh"

#define SK_GRID_STRIDE_LOOP(i, count)                                                     \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (count);     \
         i += (long long)gridDim.x * blockDim.x)

extern "C" __global__ void elementwise_add(long long n, const float* a, const float* b, float* out)
{
    SK_GRID_STRIDE_LOOP(i, n) out[i] = a[i] + b[i];
}

extern "C" __global__ void elementwise_mul(long long n, const float* a, const float* b, float* out)
{
    SK_GRID_STRIDE_LOOP(i, n) out[i] = a[i] * b[i];
}

extern "C" __global__ void elementwise_scale(long long n, float alpha, const float* x, float* out)
{
    SK_GRID_STRIDE_LOOP(i, n) out[i] = alpha * x[i];
}

extern "C" __global__ void elementwise_axpy(long long n, float alpha, const float* x, float* y)
{
    SK_GRID_STRIDE_LOOP(i, n) y[i] += alpha * x[i];
}

extern "C" __global__ void elementwise_relu(long long n, const float* x, float* out)
{
    SK_GRID_STRIDE_LOOP(i, n)
    {
        const float v = x[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}

extern "C" __global__ void elementwise_relu_backward(long long n, const float* x, const float* dy, float* dx)
{
    SK_GRID_STRIDE_LOOP(i, n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

extern "C" __global__ void elementwise_add_bias_per_column(int rows, int cols, const float* bias, float* x)
{
    const long long count = (long long)rows * cols;
    SK_GRID_STRIDE_LOOP(i, count) x[i] += bias[i % cols];
}

extern "C" __global__ void elementwise_fill(long long n, float value, float* out)
{
    SK_GRID_STRIDE_LOOP(i, n) out[i] = value;
}
