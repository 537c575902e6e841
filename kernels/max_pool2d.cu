// max_pool2d.cu - max pooling over k x k windows with stride s (no padding) of a CNHW batch, and its gradient.
//
// Layout: x is C x (batch * H * W) (CNHW, see im2col.cu), y is C x (batch * Ho * Wo), Ho = (H - k) / s + 1.
// which[o] is the position of the window's maximum inside its window (i * k + j, stored as a float: exact, < k*k);
// the first maximum in (i, j) order wins, as PyTorch's CPU kernel.
//
// Versions:
//   max_pool2d_forward_v1    one thread per output element, grid-stride.
//   max_pool2d_backward_v1   one thread per input element (gather, no atomics): the sum of dy over the windows that
//                            contain it and chose it; dx is overwritten.
// Assumes: outputs alias nothing.
#include "common.cuh"

extern "C" __global__ void max_pool2d_forward_v1(int rows, int height, int width, int k, int stride, int outH, int outW,
                                                 const float* __restrict__ x, float* __restrict__ y, float* __restrict__ which)
{
    // rows = channels * batch planes
    const long long count = (long long)rows * outH * outW;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
    {
        const long long plane = e / ((long long)outH * outW);
        const int p = (int)(e - plane * outH * outW);
        const int oy = p / outW, ox = p - oy * outW;
        const float* in = x + plane * height * width + (long long)(oy * stride) * width + ox * stride;
        float best = in[0];
        int arg = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                const float v = in[(long long)i * width + j];
                if (v > best || (v != v && best == best)) { best = v; arg = i * k + j; }
            }
        y[e] = best;
        which[e] = (float)arg;
    }
}

extern "C" __global__ void max_pool2d_backward_v1(int rows, int height, int width, int k, int stride, int outH, int outW,
                                                  const float* __restrict__ dy, const float* __restrict__ which, float* __restrict__ dx)
{
    const long long count = (long long)rows * height * width;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
    {
        const long long plane = e / ((long long)height * width);
        const int p = (int)(e - plane * height * width);
        const int y = p / width, xx = p - y * width;
        float s = 0.0f;
        for (int i = 0; i < k; i++)
        {
            const int ty = y - i;
            if (ty < 0 || ty % stride != 0 || ty / stride >= outH) continue;
            for (int j = 0; j < k; j++)
            {
                const int tx = xx - j;
                if (tx < 0 || tx % stride != 0 || tx / stride >= outW) continue;
                const long long o = plane * outH * outW + (long long)(ty / stride) * outW + tx / stride;
                if ((int)which[o] == i * k + j) s += dy[o];
            }
        }
        dx[e] = s;
    }
}
