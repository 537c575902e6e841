using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tests.Support;
using SparseKernels.Topology;

namespace SparseKernels.Tests.Topology;

/// <summary>TopkSelect on the CPU backend against CpuReference (exact sets).</summary>
[TestFixture]
public class TopkSelectCpuTests
{
    [TestCase(1, 0), TestCase(1, 1), TestCase(1000, 1), TestCase(1000, 500), TestCase(70001, 7000), TestCase(70001, 70000), TestCase(70001, 70001), TestCase(5000, 0)]
    public void BackendMatchesReferenceWithTies(int n, int k)
    {
        var rng = TestRng.Fresh();
        var v = TopologyTestData.Tied(rng, n, 7);
        var expected = CpuReference.TopkSelect(v, k);
        Assert.That(TopologyTestData.Count(expected), Is.EqualTo(k));
        Assert.That(CpuBackend.Default.TopkSelect(v, k), Is.EqualTo(expected));
    }

    [Test]
    public void BackendMatchesReferenceDistinct()
    {
        var rng = TestRng.Fresh();
        var v = TopologyTestData.Distinct(rng, 100_003);
        Assert.That(CpuBackend.Default.TopkSelect(v, 12_345), Is.EqualTo(CpuReference.TopkSelect(v, 12_345)));
    }

    [Test]
    public void ReferenceSelectsTheLargestMagnitudesAndLowerPositionsOnTies()
    {
        float[] v = [0.5f, -2f, 1f, -1f, 1f, 0.25f];
        Assert.That(CpuReference.TopkSelect(v, 3), Is.EqualTo(new[] { false, true, true, true, false, false }));
        Assert.That(CpuBackend.Default.TopkSelect(v, 3), Is.EqualTo(new[] { false, true, true, true, false, false }));
    }

    [Test]
    public void GlobalOverLayersOfDifferentSizes()
    {
        var rng = TestRng.Fresh();
        var layers = new[] { TopologyTestData.Tied(rng, 300, 5), TopologyTestData.Tied(rng, 17, 5), TopologyTestData.Tied(rng, 1000, 5) };
        var expected = CpuReference.TopkSelect(layers, ["a", "b", "c"], 600);
        Assert.That(expected.Sum(TopologyTestData.Count), Is.EqualTo(600));
        Assert.That(CpuBackend.Default.TopkSelect(layers, ["a", "b", "c"], 600), Is.EqualTo(expected));
    }

    [Test]
    public void BadInputNamesLayerAndValue()
    {
        float[] v = [1f, 2f, float.NaN, 3f];
        var e = Assert.Throws<ArgumentException>(() => CpuBackend.Default.TopkSelect([v], ["fc1"], 2))!;
        Assert.That(e.Message, Does.Contain("fc1").And.Contain("NaN").And.Contain("position 2"));
        e = Assert.Throws<ArgumentException>(() => CpuReference.TopkSelect([v], ["fc1"], 2))!;
        Assert.That(e.Message, Does.Contain("fc1").And.Contain("position 2"));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => CpuBackend.Default.TopkSelect([new float[3]], ["fc2"], 4))!;
        Assert.That(r.Message, Does.Contain("fc2").And.Contain("k = 4"));
        r = Assert.Throws<ArgumentOutOfRangeException>(() => CpuReference.TopkSelect([new float[3]], ["fc2"], -1))!;
        Assert.That(r.Message, Does.Contain("fc2").And.Contain("k = -1"));
    }
}

/// <summary>TopkSelect kernels (kernels/topk_select.cu, every histogram version) on the test device against CpuReference (exact sets).</summary>
[TestFixture(TopkSelectVersion.V1), TestFixture(TopkSelectVersion.V2), Category("Gpu")]
public class TopkSelectTests(TopkSelectVersion version)
{
    private bool[] RunDevice(IDevice device, float[] v, long k)
    {
        using var dv = device.Allocate<float>(Math.Max(v.Length, 1));
        dv.CopyFrom(v);
        using var flags = TopologyTestData.PoisonedFlags(device, v.Length);
        if (v.Length == 0) return [];
        TopkSelect.Run(device, dv, k, flags, "layer", version);
        return TopologyTestData.ToBool(flags.ToArray(), v.Length);
    }

    [TestCase(1, 0), TestCase(1, 1), TestCase(777, 1), TestCase(777, 388), TestCase(777, 776), TestCase(777, 777), TestCase(70001, 9999), TestCase(70001, 0)]
    public void MatchesReferenceWithManyTies(int n, int k)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var v = TopologyTestData.Tied(rng, n, 6);
        var expected = CpuReference.TopkSelect(v, k);
        var got = RunDevice(device, v, k);
        Assert.That(TopologyTestData.Count(got), Is.EqualTo(k), "exactly k selected");
        Assert.That(got, Is.EqualTo(expected));
    }

    [Test]
    public void MatchesReferenceDistinct()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var v = TopologyTestData.Distinct(rng, 20_011);
        Assert.That(RunDevice(device, v, 2_001), Is.EqualTo(CpuReference.TopkSelect(v, 2_001)));
    }

    [TestCase(70_001, 21_000)]   // weights of similar magnitude: the first pass counts into a few exponent bins
    [TestCase(4_099, 1)]         // n not a multiple of a warp or a block
    public void MatchesReferenceSimilarMagnitudes(int n, int k)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)((rng.NextDouble() - 0.5) * 0.02);   // |x| < 0.01: top bytes 0x3b, 0x3c
        v[n / 2] = v[n / 3];                                                             // at least one tie
        Assert.That(RunDevice(device, v, k), Is.EqualTo(CpuReference.TopkSelect(v, k)));
    }

    /// <summary>Each histogram pass (value digits, then index digits among ties) gives exactly the counts of a host count.</summary>
    [TestCase(false, 0u, 0u, 0u, 24)]            // the first pass
    [TestCase(false, 0u, 0x3C000000u, 0xFF000000u, 16)]
    [TestCase(true, 0x3C000000u, 0u, 0u, 8)]     // an index pass among the keys equal to the tie key
    [TestCase(true, 0x3C000000u, 0x100u, 0xFFFFFF00u, 0)]
    public void HistogramCountsMatchAHostCount(bool byIndex, uint tieKey, uint prefix, uint mask, int shift)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        const int n = 3_001;
        var keys = new uint[n];
        for (int i = 0; i < n; i++)
            keys[i] = rng.Next(5) == 0 ? tieKey : (uint)rng.Next(0x3B000000, 0x3D000000) & (rng.Next(2) == 0 ? 0xFFFFFFFFu : 0xFF00FFFFu);
        var want = new uint[256];
        for (int i = 0; i < n; i++)
        {
            if (byIndex && keys[i] != tieKey) continue;
            uint v = byIndex ? (uint)i : keys[i];
            if ((v & mask) == prefix) want[(v >> shift) & 255]++;
        }
        using var dKeys = device.Allocate<uint>(n);
        dKeys.CopyFrom(keys);
        using var hist = device.Allocate<uint>(256);
        var got = new uint[256];
        TopkSelect.Histogram(device, dKeys, n, byIndex, tieKey, prefix, mask, shift, hist, got, version);
        Assert.That(got, Is.EqualTo(want));
        Assert.That(got.Sum(c => (long)c), Is.GreaterThan(0), "the case counts something");
    }

    [Test]
    public void UnknownVersionIsRejected()
    {
        var device = TestDevice.Get();
        using var dv = device.Allocate<float>(4);
        dv.CopyFrom(new float[4]);
        using var flags = device.Allocate<byte>(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => TopkSelect.Run(device, dv, 1, flags, "fc", (TopkSelectVersion)7));
    }

    [Test]
    public void AllEqualValuesTakeTheFirstK()
    {
        var device = TestDevice.Get();
        var v = Enumerable.Repeat(-0.5f, 66_000).ToArray();
        var got = RunDevice(device, v, 65_537);
        Assert.That(Array.IndexOf(got, false), Is.EqualTo(65_537));
        Assert.That(TopologyTestData.Count(got), Is.EqualTo(65_537));
    }

    [Test]
    public void GlobalOverLayersOfDifferentSizes()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var layers = new[] { TopologyTestData.Tied(rng, 300, 5), TopologyTestData.Tied(rng, 17, 5), TopologyTestData.Tied(rng, 1000, 5) };
        string[] names = ["a", "b", "c"];
        var expected = CpuReference.TopkSelect(layers, names, 600);
        var bufs = layers.Select(l => { var b = device.Allocate<float>(l.Length); b.CopyFrom(l); return b; }).ToArray();
        var flags = layers.Select(l => TopologyTestData.PoisonedFlags(device, l.Length)).ToArray();
        try
        {
            TopkSelect.Run(device, bufs, names, 600, flags, version);
            for (int a = 0; a < layers.Length; a++)
                Assert.That(TopologyTestData.ToBool(flags[a].ToArray(), layers[a].Length), Is.EqualTo(expected[a]), $"layer {names[a]}");
        }
        finally
        {
            foreach (var b in bufs) b.Dispose();
            foreach (var b in flags) b.Dispose();
        }
    }

    [Test]
    public void CompactListsTheSelectedInOrder()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var v = TopologyTestData.Tied(rng, 5000, 9);
        var expected = CpuReference.TopkSelect(v, 1234);
        using var dv = device.Allocate<float>(v.Length);
        dv.CopyFrom(v);
        using var flags = TopologyTestData.PoisonedFlags(device, v.Length);
        TopkSelect.Run(device, dv, 1234, flags, "values", version);
        var (idx, count) = TopkSelect.Compact(device, flags, v.Length);
        using (idx)
        {
            Assert.That(count, Is.EqualTo(1234));
            var want = Enumerable.Range(0, v.Length).Where(i => expected[i]).ToArray();
            Assert.That(idx.ToArray().Take(count).ToArray(), Is.EqualTo(want));
        }
    }

    [Test]
    public void NaNIsReportedWithLayerAndPosition()
    {
        var device = TestDevice.Get();
        var v = new float[3000];
        Array.Fill(v, 1f);
        v[2047] = float.NaN;
        v[2900] = float.NaN;
        using var dv = device.Allocate<float>(v.Length);
        dv.CopyFrom(v);
        using var flags = device.Allocate<byte>(v.Length);
        var e = Assert.Throws<ArgumentException>(() => TopkSelect.Run(device, dv, 10, flags, "encoder.q", version))!;
        Assert.That(e.Message, Does.Contain("encoder.q").And.Contain("NaN").And.Contain("position 2047"));
    }

    [Test]
    public void BadCountsAreRejected()
    {
        var device = TestDevice.Get();
        using var dv = device.Allocate<float>(10);
        dv.CopyFrom(new float[10]);
        using var flags = device.Allocate<byte>(10);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TopkSelect.Run(device, dv, 11, flags, "fc3", version))!;
        Assert.That(e.Message, Does.Contain("fc3").And.Contain("k = 11"));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => TopkSelect.Run(device, dv, -2, flags, "fc3", version))!;
        Assert.That(e.Message, Does.Contain("fc3").And.Contain("k = -2"));
    }
}

/// <summary>The sort baseline (kernels/device_sort.cu) on the test device.</summary>
[TestFixture, Category("Gpu")]
public class DeviceSortTests
{
    [TestCase(1), TestCase(1000), TestCase(1024)]
    public void SortsMagnitudesDescending(int n)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var v = TopologyTestData.Tied(rng, n, 50);
        using var dv = device.Allocate<float>(n);
        dv.CopyFrom(v);
        using var sorted = DeviceSort.SortMagnitudes(device, dv);
        var want = v.Select(f => BitConverter.SingleToUInt32Bits(f) & 0x7FFFFFFFu).OrderByDescending(k => k).ToArray();
        Assert.That(sorted.ToArray().Take(n).ToArray(), Is.EqualTo(want));
    }
}
