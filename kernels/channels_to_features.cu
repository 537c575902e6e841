// channels_to_features.cu - between the convolutional layout and the fully connected one: CNHW activations
// (C x (batch * HW), see im2col.cu) to feature-major (C * HW) x batch (feature c * HW + hw of sample b, PyTorch's
// flatten order), and back (the network's image input, and flatten's gradient).
//
// Versions:
//   channels_to_features_v1   y[(c * HW + p) * batch + b] = x[c * batch * HW + b * HW + p]; one thread per element.
//   features_to_channels_v1   the inverse permutation.
// Assumes: y aliases nothing.
#include "common.cuh"

extern "C" __global__ void channels_to_features_v1(int channels, int batch, int plane, const float* __restrict__ x, float* __restrict__ y)
{
    const long long count = (long long)channels * batch * plane;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
    {
        const long long f = e / batch;          // feature c * plane + p
        const int b = (int)(e - f * batch);
        const long long c = f / plane, p = f - c * plane;
        y[e] = x[c * batch * plane + (long long)b * plane + p];
    }
}

extern "C" __global__ void features_to_channels_v1(int channels, int batch, int plane, const float* __restrict__ x, float* __restrict__ y)
{
    const long long count = (long long)channels * batch * plane;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
    {
        const long long c = e / ((long long)batch * plane);
        const long long rem = e - c * batch * plane;
        const int b = (int)(rem / plane);
        const long long p = rem - (long long)b * plane;
        y[e] = x[(c * plane + p) * batch + b];
    }
}
