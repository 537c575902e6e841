// philox.cuh - Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
// the Random123 generator), a counter-based RNG: the 4 x 32-bit output is a pure function of a
// 4 x 32-bit counter and a 2 x 32-bit key, so any thread draws any element of the stream directly.
// The C# twin is src/SparseKernels/Topology/Philox.cs (same rounds, same constants); both are
// checked against Random123's known-answer vectors (tests/.../Topology/PhiloxTests.cs).
#pragma once

#define SK_PHILOX_M0 0xD2511F53u
#define SK_PHILOX_M1 0xCD9E8D57u
#define SK_PHILOX_W0 0x9E3779B9u
#define SK_PHILOX_W1 0xBB67AE85u

struct sk_philox4x32
{
    unsigned int v[4];
};

// Ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1).
__device__ __forceinline__ sk_philox4x32 sk_philox4x32_10(unsigned int c0, unsigned int c1, unsigned int c2, unsigned int c3,
                                                          unsigned int k0, unsigned int k1)
{
    for (int round = 0; round < 10; ++round)
    {
        if (round > 0) { k0 += SK_PHILOX_W0; k1 += SK_PHILOX_W1; }
        const unsigned int hi0 = __umulhi(SK_PHILOX_M0, c0);
        const unsigned int lo0 = SK_PHILOX_M0 * c0;
        const unsigned int hi1 = __umulhi(SK_PHILOX_M1, c2);
        const unsigned int lo1 = SK_PHILOX_M1 * c2;
        const unsigned int n0 = hi1 ^ c1 ^ k0;
        const unsigned int n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }
    sk_philox4x32 r;
    r.v[0] = c0; r.v[1] = c1; r.v[2] = c2; r.v[3] = c3;
    return r;
}
