namespace SparseKernels.Cpu;

/// <summary>
/// Philox4x32-10 (Salmon et al., SC'11; Random123), the counter-based RNG of kernels/philox.cuh, on the
/// host: the same rounds and constants, so the CPU and any device draw the same numbers for the same
/// counter and key. Checked against Random123's known-answer vectors.
/// </summary>
internal static class Philox
{
    private const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    /// <summary>The four output words for counter (c0..c3) and key (k0, k1).</summary>
    public static (uint X0, uint X1, uint X2, uint X3) Philox4x32_10(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            uint n0 = hi1 ^ c1 ^ k0;
            uint n2 = hi0 ^ c3 ^ k1;
            c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The random-growth key of a linear position (kernels/random_grow.cu): (word 0 >> 1) + 1, never 0.</summary>
    /// Positions of 2^32 and above (CPU only: 64-bit positions) put their high 32 bits in counter word 1.
    public static uint GrowKey(long position, ulong seed)
        => (Philox4x32_10((uint)position, (uint)((ulong)position >> 32), 0, 0, (uint)seed, (uint)(seed >> 32)).X0 >> 1) + 1u;
}
