using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;
using SparseKernels.Topology;

namespace SparseKernels.Tests.Topology;

internal static class MaskCases
{
    /// <summary>Row 0 empty, row 1 full, the rest random at the density.</summary>
    public static byte[] Mask(Random rng, int m, int n, double density)
    {
        var mask = new byte[m * n];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
                mask[r * n + c] = (byte)(r == 1 || (r != 0 && rng.NextDouble() < density) ? 1 + rng.Next(255) : 0);
        return mask;
    }
}

[TestFixture]
public class MaskCsrCpuTests
{
    [Test]
    public void BackendMatchesReferenceAndRoundTrips()
    {
        var rng = TestRng.Fresh();
        var mask = MaskCases.Mask(rng, 37, 29, 0.3);
        var dense = TestData.Dense(rng, 37, 29);
        var a = CpuReference.MaskToCsr(mask, 37, 29, dense);
        var b = CpuBackend.Default.MaskToCsr(mask, 37, 29, dense);
        GrowAndRebuildCpuTests.AssertSame(b, [], a, []);
        Assert.That(a.RowLength(0), Is.Zero);
        Assert.That(a.RowLength(1), Is.EqualTo(29));
        var back = CpuBackend.Default.CsrToMask(a);
        Assert.That(back, Is.EqualTo(mask.Select(x => x != 0 ? (byte)1 : (byte)0).ToArray()));
        Assert.That(CpuReference.CsrToMask(a), Is.EqualTo(back));
    }

    [Test]
    public void MismatchedShapesAreNamed()
    {
        var rng = TestRng.Fresh();
        var e = Assert.Throws<ArgumentException>(() => CpuBackend.Default.MaskToCsr(new byte[20], 4, 5, TestData.Dense(rng, 5, 4), "emb"))!;
        Assert.That(e.Message, Does.Contain("emb").And.Contain("4x5").And.Contain("5x4"));
    }
}

[TestFixture, Category("Gpu")]
public class MaskCsrTests
{
    [TestCase(37, 29, 0.3), TestCase(3, 1, 0.5), TestCase(64, 70, 0.05)]
    public void MatchesReferenceAndRoundTrips(int m, int n, double density)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var mask = MaskCases.Mask(rng, m, n, density);
        var dense = TestData.Dense(rng, m, n);
        using var dmask = device.Allocate<byte>(mask.Length);
        dmask.CopyFrom(mask);
        using var ddense = dense.ToDevice(device);
        using var csr = MaskCsr.ToCsr(device, dmask, m, n, ddense, "fc");
        GrowAndRebuildCpuTests.AssertSame(csr.ToHost(), [], CpuReference.MaskToCsr(mask, m, n, dense), []);
        using var back = MaskCsr.ToMask(device, csr, "fc");
        Assert.That(back.ToArray().Take(m * n), Is.EqualTo(CpuReference.CsrToMask(CpuReference.MaskToCsr(mask, m, n))));
        using var ones = MaskCsr.ToCsr(device, dmask, m, n, null, "fc");
        Assert.That(ones.ToHost().Values, Is.All.EqualTo(1f));
    }

    [Test]
    public void MismatchedShapesAreNamed()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        using var dmask = device.Allocate<byte>(20);
        dmask.CopyFrom(new byte[20]);
        using var ddense = TestData.Dense(rng, 5, 4).ToDevice(device);
        var e = Assert.Throws<ArgumentException>(() => MaskCsr.ToCsr(device, dmask, 4, 5, ddense, "emb"))!;
        Assert.That(e.Message, Does.Contain("emb").And.Contain("4x5").And.Contain("5x4"));
        e = Assert.Throws<ArgumentException>(() => MaskCsr.ToCsr(device, dmask, 5, 5, null, "emb"))!;
        Assert.That(e.Message, Does.Contain("emb").And.Contain("20 bytes"));
    }
}

[TestFixture]
public class GrowMemoryTests
{
    [Test]
    public void GrowOf4096LayerStaysFarBelowTheDenseGradient()
    {
        long dense = 4096L * 4096 * 4;
        long k90 = (long)(0.1 * 4096 * 4096 * 0.3);
        long bytes = GradientGrow.BytesNeeded(4096, 4096, k90);
        TestContext.Out.WriteLine($"4096x4096, 90 % sparse, k = {k90}: {bytes / 1048576.0:F1} MiB (dense gradient {dense / 1048576} MiB)");
        Assert.That(bytes, Is.LessThan(dense / 3));
        Assert.That(GradientGrow.BytesNeeded(4096, 4096, k90, 1 << 16), Is.LessThan(bytes), "a smaller chunk needs less");
    }
}
