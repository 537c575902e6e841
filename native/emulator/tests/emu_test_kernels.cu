// Test kernels for the emulated device itself (built into libsparsekernels_emu_tests.so, loaded by
// tests/SparseKernels.Tests/Emulator/*). Valid CUDA as well: under nvcc SK_DYNAMIC_SHARED comes from here.
#ifndef SK_EMULATED
#define SK_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

// out[i] = the shuffle of in[i] across each warp. kind: 0 idx, 1 up, 2 down, 3 xor.
extern "C" __global__ void emu_test_shfl(const float* in, float* out, int n, int kind, int param, int width)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    float r;
    switch (kind)
    {
        case 0: r = __shfl_sync(0xFFFFFFFFu, v, param, width); break;
        case 1: r = __shfl_up_sync(0xFFFFFFFFu, v, (unsigned)param, width); break;
        case 2: r = __shfl_down_sync(0xFFFFFFFFu, v, (unsigned)param, width); break;
        default: r = __shfl_xor_sync(0xFFFFFFFFu, v, param, width); break;
    }
    if (i < n) out[i] = r;
}

// Per warp: ballot, any, all of in[i] > 0; written by lane 0 as three ints.
extern "C" __global__ void emu_test_vote(const float* in, unsigned* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int p = i < n && in[i] > 0.0f;
    unsigned ballot = __ballot_sync(0xFFFFFFFFu, p);
    int any = __any_sync(0xFFFFFFFFu, p);
    int all = __all_sync(0xFFFFFFFFu, p);
    int warp = i / 32;
    if (threadIdx.x % 32 == 0)
    {
        out[warp * 3 + 0] = ballot;
        out[warp * 3 + 1] = (unsigned)any;
        out[warp * 3 + 2] = (unsigned)all;
    }
}

// __match_any_sync: out[i] = the lanes of i's warp holding in[i] (full mask); out[n + i] = the same among the
// even lanes only (mask 0x55555555, odd lanes do not call it and write 0); out[2n + i] = the match of the
// 64-bit value in[i] << 32 | 7 over the full warp. Every lane of every warp takes part (i < n or not).
extern "C" __global__ void emu_test_match_any(const unsigned* in, unsigned* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned v = i < n ? in[i] : 0xFFFFFFFFu;
    unsigned all = __match_any_sync(0xFFFFFFFFu, v);
    unsigned even = 0u;
    if ((threadIdx.x & 1u) == 0u) even = __match_any_sync(0x55555555u, v);
    unsigned wide = __match_any_sync(0xFFFFFFFFu, ((unsigned long long)v << 32) | 7ull);
    if (i < n)
    {
        out[i] = all;
        out[n + i] = even;
        out[2 * n + i] = wide;
    }
}

// Every thread of every block hits the same few addresses.
// ints[0] += 1, ints[1] -= 2, ints[2] = min, ints[3] = max, ints[4] counts successful CAS claims (ints[5] is the CAS target);
// floats[0] += in[i]; doubles[0] += in[i]; ulls[0] += 3; ulls[1] = max.
extern "C" __global__ void emu_test_atomics(const float* in, int* ints, float* floats, double* doubles, unsigned long long* ulls, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(&ints[0], 1);
    atomicSub(&ints[1], 2);
    atomicMin(&ints[2], i);
    atomicMax(&ints[3], i);
    if (atomicCAS(&ints[5], 0, i + 1) == 0) atomicAdd(&ints[4], 1);
    atomicAdd(&floats[0], in[i]);
    atomicAdd(&doubles[0], (double)in[i]);
    atomicAdd(&ulls[0], 3ull);
    atomicMax(&ulls[1], (unsigned long long)i);
    atomicExch((unsigned*)&ints[6], 7u);
}

// Reverses each block's slice through static shared memory, then a tree reduction (log2 barriers):
// out[i] = in[block_end - 1 - t]; sums[block] = sum of the block's in[] (blockDim.x a power of two <= 256).
extern "C" __global__ void emu_test_reverse_reduce(const float* in, float* out, float* sums)
{
    __shared__ float tile[256];
    __shared__ float partial[256];
    unsigned t = threadIdx.x, n = blockDim.x;
    unsigned base = blockIdx.x * n;
    tile[t] = in[base + t];
    partial[t] = in[base + t];
    __syncthreads();
    out[base + t] = tile[n - 1 - t];
    for (unsigned s = n / 2; s > 0; s /= 2)
    {
        __syncthreads();
        if (t < s) partial[t] += partial[t + s];
    }
    __syncthreads();
    if (t == 0) sums[blockIdx.x] = partial[0];
}

// Each block stores its own index in static shared memory, waits, and reports what it sees there
// together with whether the memory was poisoned (0xFFFFFFFF) at block start.
extern "C" __global__ void emu_test_block_shared(int* seen, int* poisoned_at_start)
{
    __shared__ int mine;
    __shared__ unsigned before;
    if (threadIdx.x == 0) { before = *(volatile unsigned*)&mine; }
    __syncthreads();
    if (threadIdx.x == 0) mine = (int)(blockIdx.x * 1000 + blockIdx.y);
    __syncthreads();
    int b = blockIdx.y * gridDim.x + blockIdx.x;
    seen[b * blockDim.x + threadIdx.x] = mine;
    if (threadIdx.x == 0) poisoned_at_start[b] = before == 0xFFFFFFFFu;
}

// Dynamic shared memory of `count` floats per block (the launch's sharedBytes): reverse a block's slice.
extern "C" __global__ void emu_test_dynamic_shared(const float* in, float* out, int count)
{
    SK_DYNAMIC_SHARED(float, buf);
    int base = blockIdx.x * count;
    for (int j = threadIdx.x; j < count; j += blockDim.x) buf[j] = in[base + j];
    __syncthreads();
    for (int j = threadIdx.x; j < count; j += blockDim.x) out[base + j] = buf[count - 1 - j];
}

// __syncthreads_count/_and/_or of in[i] > 0, per block: out[3b..3b+2]; threads in 2D blocks.
extern "C" __global__ void emu_test_sync_ops(const float* in, int* out)
{
    int t = threadIdx.y * blockDim.x + threadIdx.x;
    int i = blockIdx.x * blockDim.x * blockDim.y + t;
    int p = in[i] > 0.0f;
    int c = __syncthreads_count(p);
    int a = __syncthreads_and(p);
    int o = __syncthreads_or(p);
    if (t == 0) { out[blockIdx.x * 3] = c; out[blockIdx.x * 3 + 1] = a; out[blockIdx.x * 3 + 2] = o; }
}

// A warp-synchronous shared-memory reduction ordered by __syncwarp (correct: must not be reported).
extern "C" __global__ void emu_test_warp_reduce_shared(const float* in, float* out)
{
    __shared__ float s[64];
    unsigned t = threadIdx.x;
    s[t] = in[blockIdx.x * blockDim.x + t];
    __syncwarp();
    for (unsigned off = 16; off > 0; off /= 2)
    {
        unsigned lane = t % 32;
        float v = lane < off ? s[t + off] : 0.0f;
        __syncwarp();
        if (lane < off) s[t] += v;
        __syncwarp();
    }
    if (t % 32 == 0) out[blockIdx.x * (blockDim.x / 32) + t / 32] = s[t];
}

// Warp sum with __shfl_down_sync (correct) - lane 0 of each warp writes the warp's sum.
extern "C" __global__ void emu_test_warp_sum(const float* in, float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xFFFFFFFFu, v, off);
    if (threadIdx.x % 32 == 0) out[i / 32] = v;
}

// ---- planted bugs: each must be reported (or give a wrong result) -----------------------------------

// BUG: off-by-one - the last thread copies one element past the end (i <= n).
extern "C" __global__ void emu_bug_off_by_one(const float* in, float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) out[i] = in[i] * 2.0f;
}

// BUG: reads a neighbour's shared slot without the __syncthreads that orders it after the write.
extern "C" __global__ void emu_bug_missing_syncthreads(const float* in, float* out)
{
    __shared__ float tile[128];
    unsigned t = threadIdx.x, n = blockDim.x;
    tile[t] = in[blockIdx.x * n + t];
    // missing: __syncthreads();
    out[blockIdx.x * n + t] = tile[(t + 1) % n];
}

// BUG: warp sum that shuffles from the wrong lane (down by off + 1), so lane 0 misses values.
extern "C" __global__ void emu_bug_wrong_lane(const float* in, float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xFFFFFFFFu, v, off + 1);
    if (threadIdx.x % 32 == 0) out[i / 32] = v;
}

// BUG: every thread adds into one shared accumulator without an atomic.
extern "C" __global__ void emu_bug_shared_accumulator(const float* in, float* out)
{
    __shared__ float acc;
    if (threadIdx.x == 0) acc = 0.0f;
    __syncthreads();
    acc += in[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

// BUG: __syncthreads in divergent code (the two halves of the block wait at different barriers).
extern "C" __global__ void emu_bug_divergent_syncthreads(float* out)
{
    if (threadIdx.x < blockDim.x / 2)
        __syncthreads();
    else
        out[threadIdx.x] = 2.0f, __syncthreads();
    out[threadIdx.x] = 1.0f;
}

// Correct on a GPU: threads past the end return before the barrier (exited threads count as arrived).
extern "C" __global__ void emu_test_early_exit_then_barrier(const float* in, float* out, int n)
{
    __shared__ float tile[64];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    tile[threadIdx.x] = in[i];
    __syncthreads();
    int last = min((int)blockDim.x, n - (int)(blockIdx.x * blockDim.x)) - 1;
    out[i] = tile[last - threadIdx.x];
}

// BUG: reads one float past the end of the dynamic shared memory.
extern "C" __global__ void emu_bug_dynamic_shared_overflow(float* out, int count)
{
    SK_DYNAMIC_SHARED(float, buf);
    buf[threadIdx.x] = 1.0f;
    __syncthreads();
    if (threadIdx.x == 0) out[0] = buf[count];
}

// BUG: a full-mask shuffle that half the warp never reaches (they wait at __syncthreads instead).
extern "C" __global__ void emu_bug_shuffle_deadlock(float* out)
{
    float v = 1.0f;
    if (threadIdx.x < 16) v = __shfl_xor_sync(0xFFFFFFFFu, v, 1);
    else __syncthreads();
    out[threadIdx.x] = v;
}

// BUG: reads memory after the buffer was freed (the test frees it before launching).
extern "C" __global__ void emu_bug_use_after_free(const float* in, float* out)
{
    out[threadIdx.x] = in[threadIdx.x];
}

// BUG: a device-side assert that fails in one thread.
extern "C" __global__ void emu_bug_assert(const int* in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) assert(in[i] >= 0);
}

#ifdef SK_EMULATED
// CUDA's sizes and alignments of the vector types.
static_assert(sizeof(float2) == 8 && alignof(float2) == 8, "float2");
static_assert(sizeof(float3) == 12 && alignof(float3) == 4, "float3");
static_assert(sizeof(float4) == 16 && alignof(float4) == 16, "float4");
static_assert(sizeof(int2) == 8 && alignof(int2) == 8, "int2");
static_assert(sizeof(int4) == 16 && alignof(int4) == 16, "int4");
static_assert(sizeof(uint4) == 16 && alignof(uint4) == 16, "uint4");
static_assert(sizeof(double2) == 16 && alignof(double2) == 16, "double2");
static_assert(sizeof(dim3) == 12, "dim3");
#endif

// Bit and float intrinsics of in[i], 8 results per input.
extern "C" __global__ void emu_test_bits(const unsigned* in, unsigned* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned x = in[i];
    unsigned* o = out + 8 * i;
    o[0] = (unsigned)__popc(x);
    o[1] = (unsigned)__clz((int)x);
    o[2] = (unsigned)__ffs((int)x);
    o[3] = __brev(x);
    o[4] = __float_as_uint(__uint_as_float(x));
    o[5] = (unsigned)__popcll(((unsigned long long)x << 32) | x);
    o[6] = (unsigned)max((int)x, -5) ;
    o[7] = __float_as_uint(fminf(__int_as_float((int)(x & 0x3FFFFFFFu)), 1.5f));
    float4 v = make_float4(1.0f, 2.0f, 3.0f, (float)(x & 0xFF));
    int4 w = make_int4(1, 2, 3, 4);
    if (v.w + w.w < 0.0f) o[0] = 0xDEADu; // never; keeps the vector types in use
}

#include <cuda_runtime.h>
#include <math_constants.h>
// Compile check of the header stand-ins: -inf sentinel as a max-reduction would use it.
extern "C" __global__ void emu_test_neg_inf(float* out) { out[threadIdx.x] = -CUDART_INF_F; }
