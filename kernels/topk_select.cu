// topk_select.cu - exact selection of the k largest keys of an array by radix selection on the
// key bits (histogram passes, no sort), ties broken by position (the lower index wins), plus the
// order-preserving compaction of the selected positions. The launcher (src/SparseKernels/Topology/
// TopkSelect.cs) drives the passes: it reads each 256-bin histogram back and picks the next digit.
//
// Keys are unsigned 32-bit. For |x| of floats the key is the float's bits with the sign cleared
// (for non-negative IEEE floats the bit pattern orders like the value); NaN is reported, never keyed.
//
// Versions (all v1: simple, correct, not tuned):
//   topk_select_keys_v1       keys[offset + i] = bits(|x[i]|); a NaN at i lowers *nan_first to i
//                             (atomicMin; the launcher fills it with ~0 first and checks it after).
//   topk_select_histogram_v1  one radix pass: among keys whose bits under prefix_mask equal prefix,
//                             counts digit (key >> shift) & 255 into hist[256] (global atomics after
//                             a per-block shared histogram). With by_index != 0 it counts the digit
//                             of the INDEX i of the elements whose key equals tie_key instead (the
//                             tie-break passes: the r smallest positions among the ties).
//   topk_select_mark_v1       flags[i] = key > threshold || (key == threshold && i <= last_tie).
//   topk_select_tile_counts_v1 per tile of 1024 elements (block of 256 threads, 4 each): the number
//                             of set flags.
//   topk_select_compact_v1    writes the positions of the set flags, in order: tile t starts at
//                             tile_offsets[t] (the exclusive scan of the tile counts, by the launcher);
//                             inside the tile a Hillis-Steele scan over the 256 threads.
//   topk_select_histogram_v2  topk_select_histogram_v1 with the shared atomics aggregated per warp. In the
//                             first pass (shift 24, no prefix) the digit is the top byte of |x|'s bits: sign
//                             (0) and the 7 high exponent bits, so the keys of weights of similar magnitude
//                             fall into a handful of bins (about 5 for trained layers), and v1's 32 lanes of
//                             a warp issue 32 atomicAdds onto those few shared words, which the hardware
//                             serialises per address. v2: each lane computes its bin (or "none": past n,
//                             outside the prefix, or not a tie in the index passes), __match_any_sync groups
//                             the lanes with the same bin, and the lowest lane of each group adds the group's
//                             size (__popc of the match mask): at most one atomic per distinct bin per warp
//                             (about 5 instead of 32 in the first pass). The counts, hence hist, are
//                             exactly v1's. Same arguments and shared memory (1024 bytes) as v1.
//                             Assumes in addition: blockDim.x % 32 == 0 (whole warps: the element loop is
//                             warp-uniform so that every lane reaches every __match_any_sync; the launcher
//                             uses 256); sm_70+ (__match_any_sync; the build targets sm_80/sm_90).
//                             Registers (ptxas, CUDA 11.8): 22 on sm_90, 13 on sm_80 (v1: 14, 13), no spills.
// Assumes: 1-D grids; histogram v1: any blockDim.x; tile kernels: blockDim.x == 256 and one block per
// tile; n < 2^31 (indices are int); hist, nan_first zero/~0-filled by the launcher. Shared memory is
// dynamic (SK_DYNAMIC_SHARED; the launcher passes the bytes): histogram 1024, tile counts 4, compact 2048.
#include "common.cuh"

#define SK_TOPK_TILE_THREADS 256
#define SK_TOPK_TILE_ITEMS 4
#define SK_TOPK_TILE (SK_TOPK_TILE_THREADS * SK_TOPK_TILE_ITEMS)

extern "C" __global__ void topk_select_keys_v1(long long n, const float* __restrict__ x, unsigned int* __restrict__ keys,
                                               long long key_offset, unsigned long long* __restrict__ nan_first)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        unsigned int bits = __float_as_uint(x[i]) & 0x7FFFFFFFu;
        if (bits > 0x7F800000u)
        {
            atomicMin(nan_first, (unsigned long long)i);
            bits = 0u;
        }
        keys[key_offset + i] = bits;
    }
}

extern "C" __global__ void topk_select_histogram_v1(long long n, const unsigned int* __restrict__ keys, int by_index,
                                                    unsigned int tie_key, unsigned int prefix, unsigned int prefix_mask,
                                                    int shift, unsigned int* __restrict__ hist)
{
    SK_DYNAMIC_SHARED(unsigned int, s_hist);  // 256 bins (sharedBytes >= 1024)
    for (int b = (int)threadIdx.x; b < 256; b += (int)blockDim.x) s_hist[b] = 0u;
    __syncthreads();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        const unsigned int key = keys[i];
        unsigned int v = key;
        if (by_index)
        {
            if (key != tie_key) continue;
            v = (unsigned int)i;
        }
        if ((v & prefix_mask) == prefix) atomicAdd(&s_hist[(v >> shift) & 255u], 1u);
    }
    __syncthreads();
    for (int b = (int)threadIdx.x; b < 256; b += (int)blockDim.x)
    {
        const unsigned int c = s_hist[b];
        if (c != 0u) atomicAdd(&hist[b], c);
    }
}

extern "C" __global__ void topk_select_histogram_v2(long long n, const unsigned int* __restrict__ keys, int by_index,
                                                    unsigned int tie_key, unsigned int prefix, unsigned int prefix_mask,
                                                    int shift, unsigned int* __restrict__ hist)
{
    SK_DYNAMIC_SHARED(unsigned int, s_hist);  // 256 bins (sharedBytes >= 1024)
    for (int b = (int)threadIdx.x; b < 256; b += (int)blockDim.x) s_hist[b] = 0u;
    __syncthreads();
    const int lane = (int)(threadIdx.x % SK_WARP_SIZE);
    const unsigned int none = 256u;           // "counts nowhere": no real bin has this value
    // The warp's first element; the loop condition is the same for all its lanes (warp-uniform).
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long w0 = (long long)blockIdx.x * blockDim.x + (threadIdx.x - (unsigned)lane); w0 < n; w0 += stride)
    {
        const long long i = w0 + lane;
        unsigned int bin = none;
        if (i < n)
        {
            const unsigned int key = keys[i];
            unsigned int v = key;
            bool counted = true;
            if (by_index)
            {
                counted = key == tie_key;
                v = (unsigned int)i;
            }
            if (counted && (v & prefix_mask) == prefix) bin = (v >> shift) & 255u;
        }
        const unsigned int peers = __match_any_sync(SK_FULL_MASK, bin);
        if (bin != none && lane == __ffs((int)peers) - 1) atomicAdd(&s_hist[bin], (unsigned int)__popc(peers));
    }
    __syncthreads();
    for (int b = (int)threadIdx.x; b < 256; b += (int)blockDim.x)
    {
        const unsigned int c = s_hist[b];
        if (c != 0u) atomicAdd(&hist[b], c);
    }
}

extern "C" __global__ void topk_select_mark_v1(long long n, const unsigned int* __restrict__ keys, unsigned int threshold,
                                               long long last_tie, unsigned char* __restrict__ flags)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        const unsigned int key = keys[i];
        flags[i] = (key > threshold || (key == threshold && i <= last_tie)) ? (unsigned char)1 : (unsigned char)0;
    }
}

extern "C" __global__ void topk_select_tile_counts_v1(long long n, const unsigned char* __restrict__ flags, unsigned int* __restrict__ counts)
{
    SK_DYNAMIC_SHARED(unsigned int, s_count);  // one counter (sharedBytes >= 4)
    if (threadIdx.x == 0) s_count[0] = 0u;
    __syncthreads();
    const long long base = (long long)blockIdx.x * SK_TOPK_TILE + (long long)threadIdx.x * SK_TOPK_TILE_ITEMS;
    unsigned int c = 0u;
    for (int j = 0; j < SK_TOPK_TILE_ITEMS; ++j)
        if (base + j < n && flags[base + j]) ++c;
    if (c != 0u) atomicAdd(&s_count[0], c);
    __syncthreads();
    if (threadIdx.x == 0) counts[blockIdx.x] = s_count[0];
}

extern "C" __global__ void topk_select_compact_v1(long long n, const unsigned char* __restrict__ flags,
                                                  const long long* __restrict__ tile_offsets, int* __restrict__ out_indices)
{
    SK_DYNAMIC_SHARED(unsigned int, s_scan);  // two rows of 256 (sharedBytes >= 2048)
    const int t = (int)threadIdx.x;
    const long long base = (long long)blockIdx.x * SK_TOPK_TILE + (long long)t * SK_TOPK_TILE_ITEMS;
    unsigned int c = 0u;
    for (int j = 0; j < SK_TOPK_TILE_ITEMS; ++j)
        if (base + j < n && flags[base + j]) ++c;
    s_scan[t] = c;
    __syncthreads();
    int in = 0;
    for (int off = 1; off < SK_TOPK_TILE_THREADS; off <<= 1)
    {
        unsigned int v = s_scan[in * SK_TOPK_TILE_THREADS + t];
        if (t >= off) v += s_scan[in * SK_TOPK_TILE_THREADS + t - off];
        s_scan[(1 - in) * SK_TOPK_TILE_THREADS + t] = v;
        in = 1 - in;
        __syncthreads();
    }
    long long out = tile_offsets[blockIdx.x] + (long long)(s_scan[in * SK_TOPK_TILE_THREADS + t] - c);
    for (int j = 0; j < SK_TOPK_TILE_ITEMS; ++j)
        if (base + j < n && flags[base + j]) out_indices[out++] = (int)(base + j);
}
