// Literal `extern __shared__ T name[]` (as nvcc code writes it, without SK_DYNAMIC_SHARED): two names,
// two types, one dynamic shared area per block.

// Reverses each block's `count` floats through dynamic shared memory; the int view of the same memory
// stores the bit patterns, read back through the float view.
extern "C" __global__ void emu_test_extern_shared(const float* in, float* out, int count)
{
    extern __shared__ __align__(16) float xs_f[];
    extern __shared__ int xs_i[];
    int base = blockIdx.x * count;
    for (int j = threadIdx.x; j < count; j += blockDim.x) xs_i[j] = __float_as_int(in[base + j]);
    __syncthreads();
    for (int j = threadIdx.x; j < count; j += blockDim.x) out[base + j] = xs_f[count - 1 - j];
}

// BUG: writes one element past the launch's dynamic shared memory through the literal extern array.
extern "C" __global__ void emu_bug_extern_shared_overflow(int count)
{
    extern __shared__ float xs_f[];
    xs_f[count + threadIdx.x] = 1.0f;
}
