// col2im.cu - the adjoint of im2col: the input gradient of a convolution from the gradient of its columns
// (dcol = W^T . dY), each input element the sum of the column entries im2col copied it to.
//
// Layout: as im2col.cu. dcol is (C * kh * kw) x (bc * Ho * Wo) for samples [b0, b0 + bc); dx is CNHW, C x (batch * H * W);
// only the chunk's samples of dx are written (overwritten, not accumulated).
//
// Versions:
//   col2im_v1   one thread per input element (gather, no atomics): sums dcol over the kernel offsets (i, j) whose
//               output pixel oy = (y + p - i) / s, ox = (x + p - j) / s is integral and inside the output; fp32 sum
//               in (i, j) order.
// Assumes: dx aliases nothing; 0 <= b0, b0 + bc <= batch.
#include "common.cuh"

extern "C" __global__ void col2im_v1(int channels, int height, int width, int kh, int kw, int stride, int pad,
                                     int outH, int outW, int batch, int b0, int bc,
                                     const float* __restrict__ dcol, float* __restrict__ dx)
{
    const long long inPlane = (long long)height * width;
    const long long plane = (long long)outH * outW;
    const long long cols = (long long)bc * plane;
    const long long count = (long long)channels * bc * inPlane;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count; e += (long long)gridDim.x * blockDim.x)
    {
        const int c = (int)(e / ((long long)bc * inPlane));
        const long long rem = e - (long long)c * bc * inPlane;
        const int b = (int)(rem / inPlane);
        const long long pix = rem - (long long)b * inPlane;
        const int y = (int)(pix / width), xx = (int)(pix - (long long)y * width);
        float s = 0.0f;
        for (int i = 0; i < kh; i++)
        {
            const int ty = y + pad - i;
            if (ty < 0 || ty % stride != 0) continue;
            const int oy = ty / stride;
            if (oy >= outH) continue;
            for (int j = 0; j < kw; j++)
            {
                const int tx = xx + pad - j;
                if (tx < 0 || tx % stride != 0) continue;
                const int ox = tx / stride;
                if (ox >= outW) continue;
                const long long row = ((long long)c * kh + i) * kw + j;
                s += dcol[row * cols + (long long)b * plane + (long long)oy * outW + ox];
            }
        }
        dx[(long long)c * batch * inPlane + (long long)(b0 + b) * inPlane + pix] = s;
    }
}
