using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Ops;
using SparseKernels.Tests.Support;
using SparseKernels.Topology;

namespace SparseKernels.Tests.Topology;

internal static class TopologyCases
{
    /// <summary>dY and X with values from a few levels, so many gradient entries tie exactly.</summary>
    public static DenseTensor Tied(Random rng, int rows, int cols)
    {
        var v = new float[rows * cols];
        for (int i = 0; i < v.Length; i++) v[i] = (rng.Next(5) - 2) * 0.5f + (rng.Next(2) == 0 ? 0 : 0.25f);
        return DenseTensor.FromArray(rows, cols, v);
    }

    public static CsrMatrix WithEmptyAndFullRows(Random rng, int m, int n, double density)
    {
        var dense = new float[m * n];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
            {
                bool on = r == 1 || (r != 0 && r != m - 1 && rng.NextDouble() < density); // row 0 and the last empty, row 1 full
                if (on) dense[r * n + c] = TestData.NonZero(rng);
            }
        return CsrMatrix.FromDense(DenseTensor.FromArray(m, n, dense));
    }

    public static float[] State(Random rng, int nnz) => TestData.NonZeroArray(rng, nnz);

    public static bool[] Keep(Random rng, int nnz, int drop)
    {
        var keep = Enumerable.Repeat(true, nnz).ToArray();
        foreach (int p in Enumerable.Range(0, nnz).OrderBy(_ => rng.Next()).Take(drop)) keep[p] = false;
        return keep;
    }
}

/// <summary>Grow and rebuild on the CPU backend against CpuReference (exact sets and values).</summary>
[TestFixture]
public class GrowAndRebuildCpuTests
{
    [TestCase(40, 37, 16, 0.3, 100, 64), TestCase(9, 200, 5, 0.5, 300, 1000), TestCase(33, 33, 1, 0.1, 900, 50)]
    [TestCase(13, 600, 7, 0.2, 500, 1800)]   // three column panels of the growth matmul, the last partial; rows not a multiple of 4
    public void GradientGrowBackendMatchesReference(int m, int n, int batch, double density, int k, int chunk)
    {
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, m, n, density);
        var keep = TopologyCases.Keep(rng, w.Nnz, w.Nnz / 4);
        var dy = TopologyCases.Tied(rng, batch, m);
        var x = TopologyCases.Tied(rng, batch, n);
        var expected = CpuReference.GradientGrow(w, keep, dy, x, k);
        Assert.That(expected.Length, Is.EqualTo(k));
        Assert.That(CpuBackend.Default.GradientGrow(w, keep, dy, x, k, chunkElements: chunk), Is.EqualTo(expected));
    }

    [Test]
    public void RandomGrowBackendMatchesReferenceAndDependsOnSeed()
    {
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, 30, 41, 0.4);
        var a = CpuReference.RandomGrow(w, null, 200, 12345);
        Assert.That(CpuBackend.Default.RandomGrow(w, null, 200, 12345, chunkElements: 100), Is.EqualTo(a));
        Assert.That(CpuReference.RandomGrow(w, null, 200, 54321), Is.Not.EqualTo(a));
        var present = new HashSet<int>();
        for (int r = 0; r < w.Rows; r++) for (int p = w.RowOffsets[r]; p < w.RowOffsets[r + 1]; p++) present.Add(r * w.Cols + w.ColumnIndices[p]);
        Assert.That(a.Any(present.Contains), Is.False, "grew a present position");
    }

    [Test]
    public void RandomGrowIsRoughlyUniform()
    {
        // 10 x 10 empty layer, k = 10, 2000 seeds: each position is chosen ~200 times.
        var w = new CsrMatrix(10, 10, new int[11], [], []);
        var hits = new int[100];
        for (ulong seed = 0; seed < 2000; seed++) foreach (int p in CpuBackend.Default.RandomGrow(w, null, 10, seed)) hits[p]++;
        Assert.That(hits.Min(), Is.GreaterThan(140));
        Assert.That(hits.Max(), Is.LessThan(260));
    }

    [Test]
    public void RebuildCarriesStateAndZeroesGrown()
    {
        var rng = TestRng.Fresh();
        var w = TopologyCases.WithEmptyAndFullRows(rng, 12, 20, 0.3);
        var s1 = TopologyCases.State(rng, w.Nnz);
        var s2 = TopologyCases.State(rng, w.Nnz);
        int drop = w.Nnz / 3;
        var keep = CpuReference.MagnitudePruneDrop([w], ["fc"], [drop])[0];
        // grow: two dropped positions (they keep value and state) and the rest absent positions
        var dropped = Enumerable.Range(0, w.Nnz).Where(p => !keep[p]).Take(2).ToArray();
        var droppedPos = dropped.Select(p => RowOf(w, p) * w.Cols + w.ColumnIndices[p]).ToArray();
        var grown = CpuReference.RandomGrow(w, null, drop - 2, 7).Concat(droppedPos).OrderBy(p => p).ToArray();
        var (nw, ns) = CpuReference.CsrRebuild(w, [s1, s2], keep, grown);
        Assert.That(nw.Nnz, Is.EqualTo(w.Nnz), "nnz conserved");
        var (bw, bs) = CpuBackend.Default.CsrRebuild(w, [s1, s2], keep, grown);
        AssertSame(bw, bs, nw, ns);
        var old = ToMap(w, [s1, s2]);
        var now = ToMap(nw, ns);
        for (int p = 0; p < w.Nnz; p++)
        {
            long pos = (long)RowOf(w, p) * w.Cols + w.ColumnIndices[p];
            if (keep[p] || droppedPos.Contains((int)pos)) Assert.That(now[pos], Is.EqualTo(old[pos]), $"kept/regrown {pos}");
            else Assert.That(now.ContainsKey(pos), Is.False, $"dropped {pos}");
        }
        foreach (int g in grown.Except(droppedPos)) Assert.That(now[g], Is.EqualTo(new[] { 0f, 0f, 0f }), $"grown {g}");
    }

    internal static int RowOf(CsrMatrix w, int p)
    {
        int r = 0;
        while (w.RowOffsets[r + 1] <= p) r++;
        return r;
    }

    internal static Dictionary<long, float[]> ToMap(CsrMatrix w, IReadOnlyList<float[]> st)
    {
        var d = new Dictionary<long, float[]>();
        for (int r = 0; r < w.Rows; r++)
            for (int p = w.RowOffsets[r]; p < w.RowOffsets[r + 1]; p++)
                d[(long)r * w.Cols + w.ColumnIndices[p]] = [w.Values[p], .. st.Select(s => s[p])];
        return d;
    }

    internal static void AssertSame(CsrMatrix a, IReadOnlyList<float[]> sa, CsrMatrix b, IReadOnlyList<float[]> sb)
    {
        Assert.That(a.RowOffsets, Is.EqualTo(b.RowOffsets), "row offsets");
        Assert.That(a.ColumnIndices, Is.EqualTo(b.ColumnIndices), "columns");
        Assert.That(a.Values, Is.EqualTo(b.Values), "values");
        for (int s = 0; s < sa.Count; s++) Assert.That(sa[s], Is.EqualTo(sb[s]), $"state {s}");
    }

    [Test]
    public void GlobalPruneOverLayersOfDifferentSizes()
    {
        var rng = TestRng.Fresh();
        var layers = new[] { TestData.Csr(rng, 30, 40, 0.3), TestData.Csr(rng, 7, 9, 0.5), TestData.Csr(rng, 64, 16, 0.2) };
        long total = layers.Sum(l => (long)l.Nnz);
        var keep = CpuReference.MagnitudePruneDrop(layers, ["a", "b", "c"], [total / 2], global: true);
        Assert.That(keep.Sum(f => f.Count(x => x)), Is.EqualTo(total - total / 2));
        Assert.That(CpuBackend.Default.MagnitudePruneDrop(layers, ["a", "b", "c"], [total / 2], global: true), Is.EqualTo(keep));
        // one threshold: every kept |w| >= every dropped |w|
        float minKept = float.MaxValue, maxDropped = 0;
        for (int l = 0; l < 3; l++)
            for (int p = 0; p < layers[l].Nnz; p++)
                if (keep[l][p]) minKept = Math.Min(minKept, Math.Abs(layers[l].Values[p])); else maxDropped = Math.Max(maxDropped, Math.Abs(layers[l].Values[p]));
        Assert.That(minKept, Is.GreaterThanOrEqualTo(maxDropped));
    }

    [Test]
    public void BadInputIsNamed()
    {
        var rng = TestRng.Fresh();
        var w = TestData.Csr(rng, 5, 6, 0.5);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CpuBackend.Default.RandomGrow(w, null, 31 - w.Nnz, 1, "enc.k"))!;
        Assert.That(e.Message, Does.Contain("enc.k").And.Contain($"k = {31 - w.Nnz}"));
        var a = Assert.Throws<ArgumentException>(() => CpuBackend.Default.GradientGrow(w, null, TestData.Dense(rng, 4, 5), TestData.Dense(rng, 4, 7), 1, "enc.v"))!;
        Assert.That(a.Message, Does.Contain("enc.v").And.Contain("4x7"));
        var dy = TestData.Dense(rng, 3, 5); dy[1, 2] = float.NaN;
        a = Assert.Throws<ArgumentException>(() => CpuBackend.Default.GradientGrow(w, null, dy, TestData.Dense(rng, 3, 6), 1, "enc.o"))!;
        Assert.That(a.Message, Does.Contain("enc.o").And.Contain("NaN").And.Contain("position 12"));
        a = Assert.Throws<ArgumentException>(() => CpuReference.GradientGrow(w, null, dy, TestData.Dense(rng, 3, 6), 1, "enc.o"))!;
        Assert.That(a.Message, Does.Contain("position 12"));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => CpuBackend.Default.MagnitudePruneDrop([w], ["fc9"], [-1]))!;
        Assert.That(r.Message, Does.Contain("fc9").And.Contain("k = -1"));
    }
}
