using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Ops;
using SparseKernels.Tests.Support;
using SparseKernels.Topology;

namespace SparseKernels.Tests.Topology;

/// <summary>gradient_grow / random_grow / csr_rebuild kernels and MagnitudePrune on the test device against CpuReference (exact).</summary>
[TestFixture, Category("Gpu")]
public class GrowAndRebuildDeviceTests
{
    private static DeviceBuffer<byte> Flags(IDevice device, bool[] keep)
    {
        var b = TopologyTestData.PoisonedFlags(device, keep.Length);
        if (keep.Length > 0) b.CopyFrom(keep.Select(f => f ? (byte)1 : (byte)0).ToArray());
        return b;
    }

    private static int[] Take(IDevice device, (DeviceBuffer<int> Positions, int Count) r)
    {
        using (r.Positions) return r.Positions.ToArray().Take(r.Count).ToArray();
    }

    [TestCase(40, 37, 16, 0.3, 100, 64), TestCase(9, 200, 5, 0.5, 300, 1000), TestCase(33, 33, 1, 0.1, 900, 50), TestCase(20, 20, 3, 0.5, 0, 100)]
    public void GradientGrowMatchesReference(int m, int n, int batch, double density, int k, int chunk)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, m, n, density);
        var keep = TopologyCases.Keep(rng, w.Nnz, w.Nnz / 4);
        var dy = TopologyCases.Tied(rng, batch, m);
        var x = TopologyCases.Tied(rng, batch, n);
        var expected = CpuReference.GradientGrow(w, keep, dy, x, k);
        using var dw = w.ToDevice(device);
        using var dk = Flags(device, keep);
        using var ddy = dy.ToDevice(device);
        using var dx = x.ToDevice(device);
        Assert.That(Take(device, GradientGrow.Run(device, dw, dk, ddy, dx, k, "fc", chunk)), Is.EqualTo(expected));
    }

    [Test]
    public void RandomGrowMatchesReference()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, 30, 41, 0.4);
        ulong seed = (ulong)rng.NextInt64();
        var expected = CpuReference.RandomGrow(w, null, 200, seed);
        using var dw = w.ToDevice(device);
        Assert.That(Take(device, RandomGrow.Run(device, dw, null, 200, seed, "fc", 300)), Is.EqualTo(expected));
    }

    [TestCaseSource(typeof(Dlmc), nameof(Dlmc.SmallFiles))]
    public void DlmcDropAndRandomGrow(string file)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = Dlmc.Load(file, rng);
        int drop = w.Nnz / 3;
        var keep = CpuReference.MagnitudePruneDrop([w], [file], [drop])[0];
        var grown = CpuReference.RandomGrow(w, keep, drop, 99);
        using var dw = w.ToDevice(device);
        var dkeep = MagnitudePrune.Drop(device, [dw], [file], [drop])[0];
        using (dkeep)
        {
            Assert.That(TopologyTestData.ToBool(dkeep.ToArray(), w.Nnz), Is.EqualTo(keep), "drop");
            var g = RandomGrow.Run(device, dw, dkeep, drop, 99, file);
            using (g.Positions)
            {
                Assert.That(g.Positions.ToArray().Take(g.Count), Is.EqualTo(grown), "grow");
                var (nw, ns) = CsrRebuild.Run(device, dw, [], dkeep, g.Positions, g.Count, file);
                using (nw)
                {
                    Assert.That(nw.Nnz, Is.EqualTo(w.Nnz), "nnz conserved");
                    var (rw, _) = CpuReference.CsrRebuild(w, [], keep, grown);
                    var hw = nw.ToHost();
                    GrowAndRebuildCpuTests.AssertSame(hw, [], rw, []);
                }
            }
        }
    }

    [TestCaseSource(typeof(Dlmc), nameof(Dlmc.SmallFiles))]
    public void DlmcGradientGrow(string file)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = Dlmc.Load(file, rng);
        var keep = TopologyCases.Keep(rng, w.Nnz, w.Nnz / 5);
        var dy = TopologyCases.Tied(rng, 2, w.Rows);
        var x = TopologyCases.Tied(rng, 2, w.Cols);
        int k = w.Nnz / 5;
        var expected = CpuReference.GradientGrow(w, keep, dy, x, k, file);
        Assert.That(CpuBackend.Default.GradientGrow(w, keep, dy, x, k, file, 1 << 16), Is.EqualTo(expected), "CPU backend");
        using var dw = w.ToDevice(device);
        using var dk = Flags(device, keep);
        using var ddy = dy.ToDevice(device);
        using var dx = x.ToDevice(device);
        Assert.That(Take(device, GradientGrow.Run(device, dw, dk, ddy, dx, k, file, 1 << 16)), Is.EqualTo(expected), "device");
    }

    [Test]
    public void FullRiglUpdateMatchesReference()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, 24, 30, 0.3);
        var s1 = TopologyCases.State(rng, w.Nnz);
        var s2 = TopologyCases.State(rng, w.Nnz);
        var dy = TopologyCases.Tied(rng, 8, 24);
        var x = TopologyCases.Tied(rng, 8, 30);
        int drop = w.Nnz / 3;
        var keep = CpuReference.MagnitudePruneDrop([w], ["l"], [drop])[0];
        var grown = CpuReference.GradientGrow(w, keep, dy, x, drop);
        var (rw, rs) = CpuReference.CsrRebuild(w, [s1, s2], keep, grown);

        using var dw = w.ToDevice(device);
        using var ds1 = device.Allocate<float>(w.Nnz);
        using var ds2 = device.Allocate<float>(w.Nnz);
        ds1.CopyFrom(s1); ds2.CopyFrom(s2);
        using var ddy = dy.ToDevice(device);
        using var dx = x.ToDevice(device);
        using var dkeep = MagnitudePrune.Drop(device, [dw], ["l"], [drop])[0];
        var g = GradientGrow.Run(device, dw, dkeep, ddy, dx, drop, "l", 100);
        using (g.Positions)
        {
            var (nw, ns) = CsrRebuild.Run(device, dw, [ds1, ds2], dkeep, g.Positions, g.Count, "l");
            using (nw)
            {
                Assert.That(nw.Nnz, Is.EqualTo(w.Nnz));
                GrowAndRebuildCpuTests.AssertSame(nw.ToHost(), ns.Select(b => b.ToArray().Take(nw.Nnz).ToArray()).ToArray(), rw, rs);
                foreach (var b in ns) b.Dispose();
            }
        }
        // the one-call versions agree
        var (cw, cs) = CpuBackend.Default.RiglUpdate(w, [s1, s2], dy, x, drop, "l", 100);
        GrowAndRebuildCpuTests.AssertSame(cw, cs, rw, rs);
        var (uw, us) = RiglUpdate.Run(device, dw, [ds1, ds2], ddy, dx, drop, "l", 100);
        using (uw)
        {
            GrowAndRebuildCpuTests.AssertSame(uw.ToHost(), us.Select(b => b.ToArray().Take(uw.Nnz).ToArray()).ToArray(), rw, rs);
            foreach (var b in us) b.Dispose();
        }
    }

    [Test]
    public void RebuildKeepsRegrownValuesAndZeroesNewOnes()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, 12, 20, 0.3);
        var s1 = TopologyCases.State(rng, w.Nnz);
        int drop = w.Nnz / 3;
        var keep = CpuReference.MagnitudePruneDrop([w], ["fc"], [drop])[0];
        var droppedPos = Enumerable.Range(0, w.Nnz).Where(p => !keep[p]).Take(3)
            .Select(p => GrowAndRebuildCpuTests.RowOf(w, p) * w.Cols + w.ColumnIndices[p]).ToArray();
        var grown = CpuReference.RandomGrow(w, null, drop - 3, 3).Concat(droppedPos).OrderBy(p => p).ToArray();
        var (rw, rs) = CpuReference.CsrRebuild(w, [s1], keep, grown);
        using var dw = w.ToDevice(device);
        using var ds1 = device.Allocate<float>(w.Nnz);
        ds1.CopyFrom(s1);
        using var dkeep = Flags(device, keep);
        using var dgrown = device.Allocate<int>(grown.Length);
        dgrown.CopyFrom(grown);
        var (nw, ns) = CsrRebuild.Run(device, dw, [ds1], dkeep, dgrown, grown.Length, "fc");
        using (nw)
        using (ns[0])
        {
            Assert.That(nw.Nnz, Is.EqualTo(w.Nnz), "nnz conserved");
            var hw = nw.ToHost();
            var st = ns[0].ToArray().Take(nw.Nnz).ToArray();
            GrowAndRebuildCpuTests.AssertSame(hw, [st], rw, rs);
            var now = GrowAndRebuildCpuTests.ToMap(hw, [st]);
            var old = GrowAndRebuildCpuTests.ToMap(w, [s1]);
            foreach (int p in droppedPos) Assert.That(now[p], Is.EqualTo(old[p]), $"regrown {p} keeps value and state");
            foreach (int p in grown.Except(droppedPos)) Assert.That(now[p], Is.EqualTo(new[] { 0f, 0f }), $"new {p} starts at zero");
        }
    }

    [Test]
    public void GlobalPruneRunCarriesState()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var layers = new[] { TestData.Csr(rng, 30, 40, 0.3), TestData.Csr(rng, 7, 9, 0.5), TestData.Csr(rng, 64, 16, 0.2, 5) };
        var states = layers.Select(l => TopologyCases.State(rng, l.Nnz)).ToArray();
        string[] names = ["a", "b", "c"];
        long total = layers.Sum(l => (long)l.Nnz);
        var keep = CpuReference.MagnitudePruneDrop(layers, names, [total / 3], global: true);
        var dl = layers.Select(l => l.ToDevice(device)).ToArray();
        var ds = states.Select(s => { var b = device.Allocate<float>(s.Length); b.CopyFrom(s); return (IReadOnlyList<DeviceBuffer<float>>)[b]; }).ToArray();
        var result = MagnitudePrune.Run(device, dl, names, ds, [total / 3], global: true);
        for (int l = 0; l < 3; l++)
        {
            var (rw, rs) = CpuReference.CsrRebuild(layers[l], [states[l]], keep[l], []);
            using var nw = result[l].Weights;
            GrowAndRebuildCpuTests.AssertSame(nw.ToHost(), [result[l].State[0].ToArray().Take(nw.Nnz).ToArray()], rw, rs);
            result[l].State[0].Dispose();
            dl[l].Dispose();
            ds[l][0].Dispose();
        }
    }

    [Test]
    public void BadInputIsNamed()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var w = TestData.Csr(rng, 5, 6, 0.5);
        using var dw = w.ToDevice(device);
        var dyh = TestData.Dense(rng, 3, 5);
        dyh[1, 2] = float.NaN;
        using var dy = dyh.ToDevice(device);
        using var dx = TestData.Dense(rng, 3, 6).ToDevice(device);
        var a = Assert.Throws<ArgumentException>(() => GradientGrow.Run(device, dw, null, dy, dx, 1, "enc.o"))!;
        Assert.That(a.Message, Does.Contain("enc.o").And.Contain("NaN").And.Contain("position 12"));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => RandomGrow.Run(device, dw, null, 31 - w.Nnz, 1, "enc.k"))!;
        Assert.That(r.Message, Does.Contain("enc.k").And.Contain($"k = {31 - w.Nnz}"));
        using var dx7 = TestData.Dense(rng, 3, 7).ToDevice(device);
        a = Assert.Throws<ArgumentException>(() => GradientGrow.Run(device, dw, null, dy, dx7, 1, "enc.v"))!;
        Assert.That(a.Message, Does.Contain("enc.v").And.Contain("3x7"));
        // a grown position that is kept
        using var keepAll = Flags(device, Enumerable.Repeat(true, w.Nnz).ToArray());
        using var clash = device.Allocate<int>(1);
        int r0 = Enumerable.Range(0, w.Rows).First(i => w.RowLength(i) > 0);
        clash.CopyFrom([r0 * w.Cols + w.ColumnIndices[w.RowOffsets[r0]]]);
        a = Assert.Throws<ArgumentException>(() => CsrRebuild.Run(device, dw, [], keepAll, clash, 1, "enc.q"))!;
        Assert.That(a.Message, Does.Contain("enc.q").And.Contain("already kept"));
    }
}
