// optimizer_update.cu - optimizer steps over flat value arrays (dense weights, CSR values, biases),
// in place, one thread per element (grid-stride). State arrays have one entry per value.
//
// Versions:
//   sgd_momentum_v1  g' = g + wd*w; v = mu*v + g'; step = nesterov ? g' + mu*v : v; w -= lr*step.
//   adam_v1          g' = g + wd*w (L2, as torch.optim.Adam); m = b1*m + (1-b1)g'; v = b2*v + (1-b2)g'^2;
//                    w -= lr * (m / bc1) / (sqrt(v / bc2) + eps), bc1 = 1-b1^t, bc2 = 1-b2^t (host).
// Assumes: 1-D blocks and grid; w, g and the state arrays do not alias one another.
#include "common.cuh"

extern "C" __global__ void sgd_momentum_v1(long long n, float lr, float momentum, float weight_decay, int nesterov,
                                           float* __restrict__ w, const float* __restrict__ g, float* __restrict__ v)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        const float gi = g[i] + weight_decay * w[i];
        const float vi = momentum * v[i] + gi;
        v[i] = vi;
        w[i] -= lr * (nesterov ? gi + momentum * vi : vi);
    }
}

extern "C" __global__ void adam_v1(long long n, float lr, float beta1, float beta2, float eps, float weight_decay,
                                   float bc1, float bc2,
                                   float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        const float gi = g[i] + weight_decay * w[i];
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}
