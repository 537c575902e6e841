using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Topology;

/// <summary>
/// Growth and rebuild of layers with more than 2^31 weights (64-bit positions on the CPU path that RigL and SET use):
/// 784-65536-65536-10's middle layer has 2^32.
/// </summary>
public class LargeLayerGrowthTests
{
    [Test]
    public void RebuildPlacesGrownPositionsBeyond32Bits()
    {
        const int m = 65536, n = 65536;
        var ro = new int[m + 1];
        for (int r = 1; r <= m; r++) ro[r] = r > m - 2 ? 2 : 0;   // row m - 2 holds columns 5 and 9000
        var w = new CsrMatrix(m, n, ro, [5, 9000], [1.5f, -2.5f]);
        long last = (long)m * n - 1;
        long[] grown = [3L * n + 7, (long)(m - 2) * n + 6, last];   // row 3, row m - 2 (between the kept two), the very last weight
        var (nw, state) = new CpuBackend(2).CsrRebuild(w, [new float[] { 10f, 20f }], [true, true], grown, "huge");
        Assert.That(nw.Nnz, Is.EqualTo(5));
        Assert.That(nw.RowOffsets[4] - nw.RowOffsets[3], Is.EqualTo(1));
        Assert.That(nw.ColumnIndices[nw.RowOffsets[3]], Is.EqualTo(7));
        int r2 = nw.RowOffsets[m - 2];
        Assert.That(nw.ColumnIndices.AsSpan(r2, 3).ToArray(), Is.EqualTo(new[] { 5, 6, 9000 }));
        Assert.That(nw.Values.AsSpan(r2, 3).ToArray(), Is.EqualTo(new[] { 1.5f, 0f, -2.5f }));
        Assert.That(state[0].AsSpan(r2, 3).ToArray(), Is.EqualTo(new[] { 10f, 0f, 20f }));
        Assert.That(nw.ColumnIndices[^1], Is.EqualTo(n - 1));
        Assert.That(nw.RowOffsets[m] - nw.RowOffsets[m - 1], Is.EqualTo(1), "the last row holds the last weight");
        var e = Assert.Throws<ArgumentException>(() => new CpuBackend(2).CsrRebuild(w, [], [true, true], [last + 1], "huge"))!;
        Assert.That(e.Message, Does.Contain("outside the 65536x65536 layer"));
    }

    [Test]
    public void PhiloxGrowKeysOfHighPositionsDoNotAliasLowOnes()
    {
        // Below 2^32 the key is the device's (counter word 1 = 0); above, the high bits reach counter word 1.
        for (long p = 0; p < 1000; p++)
        {
            Assert.That(Philox.GrowKey(p, 42), Is.EqualTo((Philox.Philox4x32_10((uint)p, 0, 0, 0, 42, 0).X0 >> 1) + 1u));
            Assert.That(Philox.GrowKey(p + (1L << 32), 42), Is.Not.EqualTo(Philox.GrowKey(p, 42)), $"position {p}");
        }
    }

    [Test]
    public void GrowthOverMoreThan2To31PositionsIsRefusedByTheInt32Api()
    {
        var w = new CsrMatrix(65536, 65536, new int[65537], [], []);
        var dy = DenseTensor.FromArray(1, 65536, TestData.NonZeroArray(TestRng.Fresh(), 65536));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CpuBackend(2).GradientGrow(w, null, dy, dy, 1, "huge"))!;
        Assert.That(e.Message, Does.Contain("do not fit in 32-bit positions"));
    }
}
