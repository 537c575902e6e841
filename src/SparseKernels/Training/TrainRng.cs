namespace SparseKernels.Training;

/// <summary>
/// A small seeded random generator (SplitMix64) whose whole state is one 64-bit word, so that a checkpoint can
/// save and restore it exactly (System.Random cannot). Used for patterns, initialisation and shuffling.
/// </summary>
public sealed class TrainRng(ulong seed)
{
    /// <summary>The whole generator state; set it to restore a saved generator exactly.</summary>
    public ulong State { get; set; } = seed;

    /// <summary>The next 64 random bits (SplitMix64).</summary>
    public ulong NextUInt64()
    {
        ulong z = State += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "The bound must be positive.");
        return (int)(NextDouble() * n);
    }

    /// <summary>A standard normal sample (Box-Muller; no cached second sample, so the state stays one word).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
