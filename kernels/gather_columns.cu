// gather_columns.cu - builds a feature-major batch from a sample-major dataset on the device.
//
// Versions:
//   gather_columns_v1  out[f, b] = data[index[b], f] for f < features, b < batch (data: samples x
//                      features, row-major; out: features x batch) and, when labels != null,
//                      out_labels[b] = labels[index[b]]. Grid-stride over features*batch.
// Assumes: index entries lie in [0, samples) (the host builds them); out aliases nothing.
#include "common.cuh"

extern "C" __global__ void gather_columns_v1(int features, int batch, const float* __restrict__ data,
                                             const int* __restrict__ index, const int* __restrict__ labels,
                                             float* __restrict__ out, int* __restrict__ out_labels)
{
    const long long count = (long long)features * batch;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x)
    {
        const int f = (int)(i / batch), b = (int)(i % batch);
        const int s = index[b];
        out[i] = data[(long long)s * features + f];
        if (labels != nullptr && f == 0) out_labels[b] = labels[s];
    }
}
