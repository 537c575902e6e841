using SparseKernels.Runtime;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Topology;

/// <summary>Data for the topology tests: values with many exact ties (a few magnitudes, both signs, never zero).</summary>
internal static class TopologyTestData
{
    public static float[] Tied(Random rng, int n, int distinct)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            float mag = (1 + rng.Next(distinct)) / (float)distinct;
            v[i] = rng.Next(2) == 0 ? mag : -mag;
        }
        return v;
    }

    public static float[] Distinct(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) + (rng.Next(2) == 0 ? 1e-3f : -1e-3f);
        return v;
    }

    /// <summary>A flag buffer of at least n bytes (rounded up to whole 32-bit words), poisoned.</summary>
    public static DeviceBuffer<byte> PoisonedFlags(IDevice device, long n)
    {
        var b = device.Allocate<byte>(Math.Max(4, (n + 3) / 4 * 4));
        device.Fill32(b, TestDevice.PoisonBits);
        return b;
    }

    public static int Count(bool[] flags) => flags.Count(f => f);

    public static bool[] ToBool(byte[] flags, long n) => flags.Take((int)n).Select(b => b switch { 0 => false, 1 => true, _ => throw new InvalidOperationException($"flag byte {b} is neither 0 nor 1") }).ToArray();
}
