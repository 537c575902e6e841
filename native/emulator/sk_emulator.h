// sk_emulator.h - compiles CUDA kernel sources (kernels/*.cu) as C++17 for the emulated device.
// Force-included (-include sk_emulator.h) in every kernel translation unit by native/emulator/CMakeLists.txt.
// All threads of a block run as fibers on one worker thread; threadIdx & co read the current fiber's
// state; barriers, warp votes and shuffles park the fiber in the runtime (sk_emu_runtime.cpp) until
// every thread they wait for has arrived.
#pragma once
#define SK_EMULATED 1

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstddef>
#include <climits>
#include <cfloat>
#include <math.h>

// ---- qualifiers -------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__
// Static shared memory: one instance per worker thread, and a worker runs one block at a time, so
// each block sees its own (poisoned with 0xFF at block start).
#define __shared__ thread_local
// Dynamic shared memory (the launch's sharedBytes), 16-byte aligned, poisoned at block start.
#define SK_DYNAMIC_SHARED(type, name) type* const name = reinterpret_cast<type*>(::sk_emu_dynamic_shared())

#define SK_EMU_NOSAN __attribute__((no_sanitize("thread")))

// ---- vector types (CUDA sizes and alignment) ----------------------------------------------------
#define SK_VEC2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    static __forceinline__ N##2 make_##N##2(T x, T y) { N##2 r; r.x = x; r.y = y; return r; }
#define SK_VEC3(T, N) struct N##3 { T x, y, z; }; \
    static __forceinline__ N##3 make_##N##3(T x, T y, T z) { N##3 r; r.x = x; r.y = y; r.z = z; return r; }
#define SK_VEC4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    static __forceinline__ N##4 make_##N##4(T x, T y, T z, T w) { N##4 r; r.x = x; r.y = y; r.z = z; r.w = w; return r; }
#define SK_VEC1(T, N) struct N##1 { T x; }; static __forceinline__ N##1 make_##N##1(T x) { N##1 r; r.x = x; return r; }

SK_VEC1(float, float) SK_VEC2(float, float, 8) SK_VEC3(float, float) SK_VEC4(float, float, 16)
SK_VEC1(int, int) SK_VEC2(int, int, 8) SK_VEC3(int, int) SK_VEC4(int, int, 16)
SK_VEC1(unsigned int, uint) SK_VEC2(unsigned int, uint, 8) SK_VEC3(unsigned int, uint) SK_VEC4(unsigned int, uint, 16)
SK_VEC1(double, double) SK_VEC2(double, double, 16) SK_VEC3(double, double) SK_VEC4(double, double, 16)
SK_VEC1(long long, longlong) SK_VEC2(long long, longlong, 16) SK_VEC4(long long, longlong, 16)
SK_VEC1(unsigned long long, ulonglong) SK_VEC2(unsigned long long, ulonglong, 16) SK_VEC4(unsigned long long, ulonglong, 16)
SK_VEC1(short, short) SK_VEC2(short, short, 4) SK_VEC4(short, short, 8)
SK_VEC1(unsigned short, ushort) SK_VEC2(unsigned short, ushort, 4) SK_VEC4(unsigned short, ushort, 8)
SK_VEC1(char, char) SK_VEC2(char, char, 2) SK_VEC4(char, char, 4)
SK_VEC1(unsigned char, uchar) SK_VEC2(unsigned char, uchar, 2) SK_VEC4(unsigned char, uchar, 4)
#undef SK_VEC1
#undef SK_VEC2
#undef SK_VEC3
#undef SK_VEC4

struct dim3
{
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

// ---- runtime entry points (sk_emu_runtime.cpp; not instrumented) --------------------------------
extern "C" {
uint3 sk_emu_thread_idx(void);
uint3 sk_emu_block_idx(void);
uint3 sk_emu_block_dim(void);
uint3 sk_emu_grid_dim(void);
void* sk_emu_dynamic_shared(void);
void sk_emu_syncthreads(const char* file, int line);
int sk_emu_syncthreads_op(int op, int predicate, const char* file, int line); // op: 0 count, 1 and, 2 or
void sk_emu_syncwarp(unsigned mask, const char* file, int line);
unsigned long long sk_emu_shfl(int kind, unsigned mask, unsigned long long bits, int lane_or_delta, int width, const char* file, int line);
unsigned sk_emu_vote(int kind, unsigned mask, int predicate, const char* file, int line); // 0 ballot, 1 any, 2 all
unsigned sk_emu_activemask(void);
unsigned sk_emu_match_any(unsigned mask, unsigned long long bits, const char* file, int line); // lanes holding the same bits
void sk_emu_check_atomic(const void* address, int bytes); // bounds check for atomics (no race tracking)
void sk_emu_trap(const char* what, const char* file, int line);
}

#define threadIdx (::sk_emu_thread_idx())
#define blockIdx (::sk_emu_block_idx())
#define blockDim (dim3(::sk_emu_block_dim()))
#define gridDim (dim3(::sk_emu_grid_dim()))
static constexpr int warpSize = 32;

// ---- synchronisation (file/line of the call site name the barrier in reports) --------------------
#define SK_SITE const char* sk_file = __builtin_FILE(), int sk_line = __builtin_LINE()
static __forceinline__ void __syncthreads(SK_SITE) { ::sk_emu_syncthreads(sk_file, sk_line); }
static __forceinline__ int __syncthreads_count(int p, SK_SITE) { return ::sk_emu_syncthreads_op(0, p != 0, sk_file, sk_line); }
static __forceinline__ int __syncthreads_and(int p, SK_SITE) { return ::sk_emu_syncthreads_op(1, p != 0, sk_file, sk_line); }
static __forceinline__ int __syncthreads_or(int p, SK_SITE) { return ::sk_emu_syncthreads_op(2, p != 0, sk_file, sk_line); }
static __forceinline__ void __syncwarp(unsigned mask = 0xFFFFFFFFu, SK_SITE) { ::sk_emu_syncwarp(mask, sk_file, sk_line); }
static __forceinline__ unsigned __ballot_sync(unsigned mask, int p, SK_SITE) { return ::sk_emu_vote(0, mask, p != 0, sk_file, sk_line); }
static __forceinline__ int __any_sync(unsigned mask, int p, SK_SITE) { return ::sk_emu_vote(1, mask, p != 0, sk_file, sk_line) != 0; }
static __forceinline__ int __all_sync(unsigned mask, int p, SK_SITE) { return ::sk_emu_vote(2, mask, p != 0, sk_file, sk_line) != 0; }
static __forceinline__ unsigned __activemask() { return ::sk_emu_activemask(); }
static __forceinline__ void __trap(SK_SITE) { ::sk_emu_trap("__trap()", sk_file, sk_line); }
static __forceinline__ void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static __forceinline__ void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

namespace sk_emu_detail {
template <typename T>
static __forceinline__ SK_EMU_NOSAN T shfl(int kind, unsigned mask, T v, int lane, int width, const char* file, int line)
{
    static_assert(sizeof(T) <= 8, "__shfl_*_sync: values of at most 8 bytes");
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    bits = ::sk_emu_shfl(kind, mask, bits, lane, width, file, line);
    T r;
    std::memcpy(&r, &bits, sizeof(T));
    return r;
}
} // namespace sk_emu_detail

template <typename T> static __forceinline__ T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32, SK_SITE) { return sk_emu_detail::shfl(0, mask, v, srcLane, width, sk_file, sk_line); }
template <typename T> static __forceinline__ T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32, SK_SITE) { return sk_emu_detail::shfl(1, mask, v, static_cast<int>(delta), width, sk_file, sk_line); }
template <typename T> static __forceinline__ T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32, SK_SITE) { return sk_emu_detail::shfl(2, mask, v, static_cast<int>(delta), width, sk_file, sk_line); }
template <typename T> static __forceinline__ T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32, SK_SITE) { return sk_emu_detail::shfl(3, mask, v, laneMask, width, sk_file, sk_line); }
// __match_any_sync (sm_70+): the lanes of mask whose value equals this lane's, compared bit for bit (CUDA's
// overloads: 32- and 64-bit integers, float, double).
template <typename T> static __forceinline__ SK_EMU_NOSAN unsigned __match_any_sync(unsigned mask, T v, SK_SITE)
{
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "__match_any_sync: 32- or 64-bit values");
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return ::sk_emu_match_any(mask, bits, sk_file, sk_line);
}
#undef SK_SITE

// ---- atomics: real atomics (blocks run concurrently on worker threads), bounds-checked, never
// counted as races (not instrumented). --------------------------------------------------------------
namespace sk_emu_detail {
template <typename T> static __forceinline__ SK_EMU_NOSAN T atomic_fetch_add(T* p, T v) { ::sk_emu_check_atomic(p, sizeof(T)); return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
template <typename T> static __forceinline__ SK_EMU_NOSAN T atomic_fetch_sub(T* p, T v) { ::sk_emu_check_atomic(p, sizeof(T)); return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
template <typename T> static __forceinline__ SK_EMU_NOSAN T atomic_exch(T* p, T v) { ::sk_emu_check_atomic(p, sizeof(T)); return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
template <typename T> static __forceinline__ SK_EMU_NOSAN T atomic_cas(T* p, T expected, T desired)
{
    ::sk_emu_check_atomic(p, sizeof(T));
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected; // the old value either way
}
template <typename T, typename F> static __forceinline__ SK_EMU_NOSAN T atomic_update(T* p, F f)
{
    ::sk_emu_check_atomic(p, sizeof(T));
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (!__atomic_compare_exchange_n(p, &old, f(old), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    return old;
}
template <typename T, typename B> static __forceinline__ SK_EMU_NOSAN T atomic_float_add(T* p, T v)
{
    ::sk_emu_check_atomic(p, sizeof(T));
    B* bp = reinterpret_cast<B*>(p);
    B oldb = __atomic_load_n(bp, __ATOMIC_SEQ_CST);
    for (;;)
    {
        T oldv; std::memcpy(&oldv, &oldb, sizeof(T));
        T newv = oldv + v; B newb; std::memcpy(&newb, &newv, sizeof(T));
        if (__atomic_compare_exchange_n(bp, &oldb, newb, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return oldv;
    }
}
} // namespace sk_emu_detail

static __forceinline__ int atomicAdd(int* p, int v) { return sk_emu_detail::atomic_fetch_add(p, v); }
static __forceinline__ unsigned atomicAdd(unsigned* p, unsigned v) { return sk_emu_detail::atomic_fetch_add(p, v); }
static __forceinline__ unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return sk_emu_detail::atomic_fetch_add(p, v); }
static __forceinline__ float atomicAdd(float* p, float v) { return sk_emu_detail::atomic_float_add<float, unsigned>(p, v); }
static __forceinline__ double atomicAdd(double* p, double v) { return sk_emu_detail::atomic_float_add<double, unsigned long long>(p, v); }
static __forceinline__ int atomicSub(int* p, int v) { return sk_emu_detail::atomic_fetch_sub(p, v); }
static __forceinline__ unsigned atomicSub(unsigned* p, unsigned v) { return sk_emu_detail::atomic_fetch_sub(p, v); }
static __forceinline__ float atomicSub(float* p, float v) { return sk_emu_detail::atomic_float_add<float, unsigned>(p, -v); }
static __forceinline__ int atomicExch(int* p, int v) { return sk_emu_detail::atomic_exch(p, v); }
static __forceinline__ unsigned atomicExch(unsigned* p, unsigned v) { return sk_emu_detail::atomic_exch(p, v); }
static __forceinline__ unsigned long long atomicExch(unsigned long long* p, unsigned long long v) { return sk_emu_detail::atomic_exch(p, v); }
static __forceinline__ SK_EMU_NOSAN float atomicExch(float* p, float v)
{
    unsigned b; std::memcpy(&b, &v, 4);
    unsigned o = sk_emu_detail::atomic_exch(reinterpret_cast<unsigned*>(p), b);
    float r; std::memcpy(&r, &o, 4); return r;
}
static __forceinline__ int atomicCAS(int* p, int c, int v) { return sk_emu_detail::atomic_cas(p, c, v); }
static __forceinline__ unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return sk_emu_detail::atomic_cas(p, c, v); }
static __forceinline__ unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) { return sk_emu_detail::atomic_cas(p, c, v); }
#define SK_ATOMIC_MINMAX(T) \
    static __forceinline__ T atomicMin(T* p, T v) { return sk_emu_detail::atomic_update(p, [v](T o) { return v < o ? v : o; }); } \
    static __forceinline__ T atomicMax(T* p, T v) { return sk_emu_detail::atomic_update(p, [v](T o) { return v > o ? v : o; }); }
SK_ATOMIC_MINMAX(int) SK_ATOMIC_MINMAX(unsigned) SK_ATOMIC_MINMAX(unsigned long long) SK_ATOMIC_MINMAX(long long)
#undef SK_ATOMIC_MINMAX
static __forceinline__ unsigned atomicAnd(unsigned* p, unsigned v) { ::sk_emu_check_atomic(p, 4); return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
static __forceinline__ unsigned atomicOr(unsigned* p, unsigned v) { ::sk_emu_check_atomic(p, 4); return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
static __forceinline__ int atomicAnd(int* p, int v) { ::sk_emu_check_atomic(p, 4); return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
static __forceinline__ int atomicOr(int* p, int v) { ::sk_emu_check_atomic(p, 4); return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }

// ---- integer and float intrinsics ---------------------------------------------------------------
static __forceinline__ int __popc(unsigned x) { return __builtin_popcount(x); }
static __forceinline__ int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static __forceinline__ int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
static __forceinline__ int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
static __forceinline__ int __ffs(int x) { return __builtin_ffs(x); }
static __forceinline__ int __ffsll(long long x) { return __builtin_ffsll(x); }
static __forceinline__ unsigned __brev(unsigned x) { return __builtin_bitreverse32(x); }
static __forceinline__ unsigned long long __brevll(unsigned long long x) { return __builtin_bitreverse64(x); }
static __forceinline__ unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
static __forceinline__ int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }
static __forceinline__ float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
static __forceinline__ float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
static __forceinline__ long long __double_as_longlong(double d) { long long u; std::memcpy(&u, &d, 8); return u; }
static __forceinline__ double __longlong_as_double(long long u) { double d; std::memcpy(&d, &u, 8); return d; }
static __forceinline__ float __fdividef(float a, float b) { return a / b; }
#define __expf(x) ::expf((x))
#define __logf(x) ::logf((x))
#define __sinf(x) ::sinf((x))
#define __cosf(x) ::cosf((x))
#define __powf(a, b) ::powf((a), (b))
#define __tanhf(x) ::tanhf((x))
static __forceinline__ float rsqrtf(float x) { return 1.0f / ::sqrtf(x); }
static __forceinline__ double rsqrt(double x) { return 1.0 / ::sqrt(x); }
static __forceinline__ float __frcp_rn(float x) { return 1.0f / x; }
static __forceinline__ float __fsqrt_rn(float x) { return ::sqrtf(x); }
static __forceinline__ float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static __forceinline__ float __fmaf_rn(float a, float b, float c) { return ::fmaf(a, b, c); }
static __forceinline__ double __fma_rn(double a, double b, double c) { return ::fma(a, b, c); }
static __forceinline__ float __fadd_rn(float a, float b) { return a + b; }
static __forceinline__ float __fmul_rn(float a, float b) { return a * b; }
static __forceinline__ int __float2int_rn(float x) { return static_cast<int>(::nearbyintf(x)); }
static __forceinline__ int __float2int_rz(float x) { return static_cast<int>(x); }
static __forceinline__ float __int2float_rn(int x) { return static_cast<float>(x); }
static __forceinline__ int __mul24(int a, int b) { return a * b; }
static __forceinline__ int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
static __forceinline__ unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32); }

template <typename T> static __forceinline__ T __ldg(const T* p) { return *p; }
template <typename T> static __forceinline__ T __ldcs(const T* p) { return *p; }
template <typename T> static __forceinline__ void __stcs(T* p, T v) { *p = v; }

static __forceinline__ int min(int a, int b) { return a < b ? a : b; }
static __forceinline__ int max(int a, int b) { return a > b ? a : b; }
static __forceinline__ unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static __forceinline__ unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static __forceinline__ unsigned min(int a, unsigned b) { return min(static_cast<unsigned>(a), b); }
static __forceinline__ unsigned min(unsigned a, int b) { return min(a, static_cast<unsigned>(b)); }
static __forceinline__ unsigned max(int a, unsigned b) { return max(static_cast<unsigned>(a), b); }
static __forceinline__ unsigned max(unsigned a, int b) { return max(a, static_cast<unsigned>(b)); }
static __forceinline__ long min(long a, long b) { return a < b ? a : b; }
static __forceinline__ long max(long a, long b) { return a > b ? a : b; }
static __forceinline__ unsigned long min(unsigned long a, unsigned long b) { return a < b ? a : b; }
static __forceinline__ unsigned long max(unsigned long a, unsigned long b) { return a > b ? a : b; }
static __forceinline__ long long min(long long a, long long b) { return a < b ? a : b; }
static __forceinline__ long long max(long long a, long long b) { return a > b ? a : b; }
static __forceinline__ unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
static __forceinline__ unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
static __forceinline__ float min(float a, float b) { return ::fminf(a, b); }
static __forceinline__ float max(float a, float b) { return ::fmaxf(a, b); }
static __forceinline__ double min(double a, double b) { return ::fmin(a, b); }
static __forceinline__ double max(double a, double b) { return ::fmax(a, b); }

using std::fabs; using std::sqrt; using std::exp; using std::log; using std::floor; using std::ceil;
using std::isnan; using std::isinf; using std::isfinite;

// Device-side assert: fails the launch (naming kernel, block and thread) instead of aborting the process.
#include <cassert>
#undef assert
#define assert(e) ((e) ? (void)0 : ::sk_emu_trap("assert(" #e ") failed", __FILE__, __LINE__))
