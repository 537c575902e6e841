// im2col.cu - the columns of a 2-D convolution's input: the im2col matrix that turns the convolution into one matmul
// with the out_channels x (in_channels * kh * kw) weight (forward: SpMM or GEMM of the weight with these columns).
//
// Layout: x is CNHW, C x (batch * H * W) row-major (channel c, sample b, row y, column x at c*B*H*W + b*H*W + y*W + x).
// The columns of samples [b0, b0 + bc) are col, (C * kh * kw) x (bc * Ho * Wo) row-major: row (c, i, j) =
// (c * kh + i) * kw + j, column (b - b0, oy, ox) = (b - b0) * Ho * Wo + oy * Wo + ox, value x[c, b, oy*s - p + i,
// ox*s - p + j] or 0 outside the input (zero padding).
//
// Versions:
//   im2col_v1   one thread per column element, grid-stride; coalesced writes (consecutive threads: consecutive
//               output pixels of one row of col), reads strided by the stride.
// Assumes: col aliases nothing; 0 <= b0, b0 + bc <= batch; sizes fit in int per dimension, products in 64 bits.
#include "common.cuh"

extern "C" __global__ void im2col_v1(int channels, int height, int width, int kh, int kw, int stride, int pad,
                                     int outH, int outW, int batch, int b0, int bc,
                                     const float* __restrict__ x, float* __restrict__ col)
{
    const long long plane = (long long)outH * outW;
    const long long cols = (long long)bc * plane;
    const long long count = (long long)channels * kh * kw * cols;
    const long long inPlane = (long long)height * width;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
    {
        const long long row = e / cols, column = e - row * cols;
        const int j = (int)(row % kw), i = (int)((row / kw) % kh), c = (int)(row / ((long long)kw * kh));
        const int b = (int)(column / plane);
        const long long p = column - (long long)b * plane;
        const int oy = (int)(p / outW), ox = (int)(p - (long long)oy * outW);
        const int y = oy * stride - pad + i, xx = ox * stride - pad + j;
        float v = 0.0f;
        if (y >= 0 && y < height && xx >= 0 && xx < width)
            v = x[(long long)c * batch * inPlane + (long long)(b0 + b) * inPlane + (long long)y * width + xx];
        col[e] = v;
    }
}
