// global_avg_pool.cu - the mean of each H x W plane of a CNHW batch (C x (batch * HW) -> C x batch, which is the
// feature-major layout of C features), and its gradient.
//
// Versions:
//   global_avg_pool_forward_v1    one thread per (c, b) plane: fp32 sum in order, times 1 / HW.
//   global_avg_pool_backward_v1   dx[e] = dy[e / HW] / HW; one thread per input element.
// Assumes: outputs alias nothing.
#include "common.cuh"

extern "C" __global__ void global_avg_pool_forward_v1(int planes, int plane, const float* __restrict__ x, float* __restrict__ y)
{
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < planes; e += (long long)gridDim.x * blockDim.x)
    {
        const float* in = x + e * plane;
        float s = 0.0f;
        for (int p = 0; p < plane; p++) s += in[p];
        y[e] = s / (float)plane;
    }
}

extern "C" __global__ void global_avg_pool_backward_v1(int planes, int plane, const float* __restrict__ dy, float* __restrict__ dx)
{
    const long long count = (long long)planes * plane;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
        dx[e] = dy[e / plane] / (float)plane;
}
