using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Cpu;

/// <summary>
/// The fast backend against <see cref="CpuReference"/>. The backend accumulates in float with fused
/// multiply-adds, so it differs by rounding: atol 1e-4, rtol 1e-4 on the synthetic shapes (sums of at most
/// ~1000 terms in [-1, 1]) and atol 5e-4, rtol 1e-4 on DLMC rows (up to ~2000 terms).
/// </summary>
public class CpuBackendTests
{
    private const double Atol = 1e-4, Rtol = 1e-4, DlmcAtol = 5e-4;

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.MatmulShapes))]
    public void DenseGemm(int m, int k, int n, bool ta, bool tb)
    {
        var rng = TestRng.Fresh();
        var a = ta ? TestData.Dense(rng, k, m) : TestData.Dense(rng, m, k);
        var b = tb ? TestData.Dense(rng, n, k) : TestData.Dense(rng, k, n);
        var c = CpuBackend.Default.DenseGemm(a, b, ta, tb);
        Assert.That((c.Rows, c.Cols), Is.EqualTo((m, n)));
        // fp32 sums over a long reduction drift like sqrt(k) (k = 9001: up to 2e-4 seen): atol grows past k = 1000
        double atol = Atol * Math.Max(1, k / 1000.0);
        Approx.AssertAllClose(c.HostData, CpuReference.DenseGemm(a, b, ta, tb).HostData, atol, Rtol, "DenseGemm", n);
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Sparse))]
    public void SpmmCsr(CpuCases.SparseCase sc)
    {
        var rng = TestRng.Fresh();
        var a = sc.Make(rng);
        var b = TestData.Dense(rng, a.Cols, sc.N);
        var c = CpuBackend.Default.SpmmCsr(a, b);
        Assert.That((c.Rows, c.Cols), Is.EqualTo((a.Rows, sc.N)));
        Approx.AssertAllClose(c.HostData, CpuReference.SpmmCsr(a, b).HostData, Atol, Rtol, "SpmmCsr", sc.N);
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Sparse))]
    public void SpmmCsrTransposed(CpuCases.SparseCase sc)
    {
        var rng = TestRng.Fresh();
        var a = sc.Make(rng);
        var b = TestData.Dense(rng, a.Rows, sc.N);
        var c = CpuBackend.Default.SpmmCsrTransposed(a, b);
        Assert.That((c.Rows, c.Cols), Is.EqualTo((a.Cols, sc.N)));
        Approx.AssertAllClose(c.HostData, CpuReference.SpmmCsrTransposed(a, b).HostData, Atol, Rtol, "SpmmCsrTransposed", sc.N);
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Sparse))]
    public void SddmmCsr(CpuCases.SparseCase sc)
    {
        var rng = TestRng.Fresh();
        var pattern = sc.Make(rng);
        var x = TestData.Dense(rng, pattern.Rows, sc.N);
        var y = TestData.Dense(rng, pattern.Cols, sc.N);
        var s = CpuBackend.Default.SddmmCsr(pattern, x, y);
        Assert.That(s.RowOffsets, Is.EqualTo(pattern.RowOffsets));
        Assert.That(s.ColumnIndices, Is.EqualTo(pattern.ColumnIndices));
        Approx.AssertAllClose(s.Values, CpuReference.SddmmCsr(pattern, x, y).Values, Atol, Rtol, "SddmmCsr");
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Dlmc))]
    public void AllSparseOpsOnDlmc(string file)
    {
        var rng = TestRng.Fresh();
        var a = Dlmc.Load(file, rng);
        int n = 8 + rng.Next(25); // 8..32, not always a multiple of the vector width
        TestContext.Out.WriteLine($"{a}, N = {n}");
        var b = TestData.Dense(rng, a.Cols, n);
        Approx.AssertAllClose(CpuBackend.Default.SpmmCsr(a, b).HostData, CpuReference.SpmmCsr(a, b).HostData, DlmcAtol, Rtol, "SpmmCsr", n);
        var bt = TestData.Dense(rng, a.Rows, n);
        Approx.AssertAllClose(CpuBackend.Default.SpmmCsrTransposed(a, bt).HostData, CpuReference.SpmmCsrTransposed(a, bt).HostData, DlmcAtol, Rtol, "SpmmCsrTransposed", n);
        var x = TestData.Dense(rng, a.Rows, n);
        var y = TestData.Dense(rng, a.Cols, n);
        Approx.AssertAllClose(CpuBackend.Default.SddmmCsr(a, x, y).Values, CpuReference.SddmmCsr(a, x, y).Values, DlmcAtol, Rtol, "SddmmCsr");
    }

    [Test]
    public void SpmmCsrAtN256OnOneThreadAndMany()
    {
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, 257, 300, 0.1, emptyRows: 20, longRow: true);
        var b = TestData.Dense(rng, 300, 256);
        var expected = CpuReference.SpmmCsr(a, b).HostData;
        foreach (int threads in new[] { 1, 2, 7 })
            Approx.AssertAllClose(new CpuBackend(threads).SpmmCsr(a, b).HostData, expected, Atol, Rtol, $"SpmmCsr on {threads} threads", 256);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new CpuBackend(0));
    }

    [Test]
    public void Elementwise([ValueSource(typeof(CpuCases), nameof(CpuCases.Lengths))] int length)
    {
        var rng = TestRng.Fresh();
        float[] a = TestData.NonZeroArray(rng, length), b = TestData.NonZeroArray(rng, length);
        float alpha = TestData.NonZero(rng);
        Approx.AssertAllClose(CpuBackend.Default.Add(a, b), CpuReference.Add(a, b), 0, 0, "Add");
        Approx.AssertAllClose(CpuBackend.Default.Mul(a, b), CpuReference.Mul(a, b), 0, 0, "Mul");
        Approx.AssertAllClose(CpuBackend.Default.Scale(alpha, a), CpuReference.Scale(alpha, a), 0, 0, "Scale");
        Approx.AssertAllClose(CpuBackend.Default.Axpy(alpha, a, b), CpuReference.Axpy(alpha, a, b), 1e-7, 1e-6, "Axpy");
        Approx.AssertAllClose(CpuBackend.Default.Relu(a), CpuReference.Relu(a), 0, 0, "Relu");
        Approx.AssertAllClose(CpuBackend.Default.ReluBackward(a, b), CpuReference.ReluBackward(a, b), 0, 0, "ReluBackward");
    }

    [Test]
    public void ReluAtZeroNegativeZeroAndNaN()
    {
        float[] x = [0f, -0f, -1f, 2f, float.NaN, 0f, 3f, -4f, 5f, 0f];
        float[] dy = [1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f];
        Assert.That(CpuBackend.Default.Relu(x), Is.EqualTo(CpuReference.Relu(x)));
        Assert.That(CpuBackend.Default.ReluBackward(x, dy), Is.EqualTo(CpuReference.ReluBackward(x, dy)));
    }

    [TestCase(3, 5)]
    [TestCase(1, 1)]
    [TestCase(0, 4)]
    [TestCase(4, 0)]
    [TestCase(17, 33)]
    [TestCase(3000, 130)]
    public void AddBiasPerColumn(int rows, int cols)
    {
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, rows, cols);
        var bias = TestData.NonZeroArray(rng, cols);
        Approx.AssertAllClose(CpuBackend.Default.AddBiasPerColumn(x, bias).HostData, CpuReference.AddBiasPerColumn(x, bias).HostData, 0, 0, "AddBiasPerColumn", cols);
    }

    // ------------------------------------------------------------------ shape validation (both classes)

    public static IEnumerable<TestCaseData> BadShapes()
    {
        var rng = new Random(1);
        var a = TestData.Csr(rng, 7, 96, 0.3);
        var d95x40 = TestData.Dense(rng, 95, 40);
        var d8x4 = TestData.Dense(rng, 8, 4);
        var d7x3 = TestData.Dense(rng, 7, 3);
        var d96x4 = TestData.Dense(rng, 96, 4);
        var d3x5 = TestData.Dense(rng, 3, 5);
        var d4x5 = TestData.Dense(rng, 4, 5);
        foreach (var (name, cls) in new[] { ("Reference", false), ("Backend", true) })
        {
            TestCaseData Case(string what, TestDelegate call, params string[] words) => new TestCaseData(call, words).SetName($"{name} {what}");
            yield return Case("SpmmCsr", () => _ = cls ? CpuBackend.Default.SpmmCsr(a, d95x40) : CpuReference.SpmmCsr(a, d95x40), "SpmmCsr", "7x96", "95x40");
            yield return Case("SpmmCsrTransposed", () => _ = cls ? CpuBackend.Default.SpmmCsrTransposed(a, d8x4) : CpuReference.SpmmCsrTransposed(a, d8x4), "SpmmCsrTransposed", "7x96", "8x4");
            yield return Case("SddmmCsr x rows", () => _ = cls ? CpuBackend.Default.SddmmCsr(a, d8x4, d96x4) : CpuReference.SddmmCsr(a, d8x4, d96x4), "SddmmCsr", "7x96", "8x4", "96x4");
            yield return Case("SddmmCsr inner", () => _ = cls ? CpuBackend.Default.SddmmCsr(a, d7x3, d96x4) : CpuReference.SddmmCsr(a, d7x3, d96x4), "SddmmCsr", "7x3", "96x4");
            yield return Case("DenseGemm", () => _ = cls ? CpuBackend.Default.DenseGemm(d3x5, d4x5) : CpuReference.DenseGemm(d3x5, d4x5), "DenseGemm", "3x5", "4x5");
            yield return Case("DenseGemm transposed", () => _ = cls ? CpuBackend.Default.DenseGemm(d3x5, d3x5, true, true) : CpuReference.DenseGemm(d3x5, d3x5, true, true), "DenseGemm", "3x5");
            yield return Case("Add", () => _ = cls ? CpuBackend.Default.Add(new float[3], new float[4]) : CpuReference.Add(new float[3], new float[4]), "Add", "length 3", "length 4");
            yield return Case("Axpy", () => _ = cls ? CpuBackend.Default.Axpy(1, new float[3], new float[4]) : CpuReference.Axpy(1, new float[3], new float[4]), "Axpy", "length 3", "length 4");
            yield return Case("ReluBackward", () => _ = cls ? CpuBackend.Default.ReluBackward(new float[2], new float[1]) : CpuReference.ReluBackward(new float[2], new float[1]), "ReluBackward", "length 2", "length 1");
            yield return Case("AddBiasPerColumn", () => _ = cls ? CpuBackend.Default.AddBiasPerColumn(d3x5, new float[4]) : CpuReference.AddBiasPerColumn(d3x5, new float[4]), "AddBiasPerColumn", "3x5", "length 4");
        }
    }

    [TestCaseSource(nameof(BadShapes))]
    public void BadShapesAreRejectedNamingBothShapes(TestDelegate call, string[] words)
    {
        var e = Assert.Throws<ArgumentException>(call)!;
        TestContext.Out.WriteLine(e.Message);
        foreach (var w in words) Assert.That(e.Message, Does.Contain(w));
    }

    [Test]
    public void ColumnIndicesCorruptedAfterValidationAreCaught()
    {
        var rng = TestRng.Fresh();
        var a = TestData.CsrExact(rng, 7, 96, 333);
        var b = TestData.Dense(rng, 96, 16);
        a.ColumnIndices[100] = 5000;
        var e = Assert.Throws<CsrFormatException>(() => CpuBackend.Default.SpmmCsr(a, b))!;
        Assert.That(e.Message, Does.Contain("5000").And.Contain("position 100"));
        Assert.Throws<CsrFormatException>(() => CpuBackend.Default.SpmmCsrTransposed(a, TestData.Dense(rng, 7, 4)));
        Assert.Throws<CsrFormatException>(() => CpuBackend.Default.SddmmCsr(a, TestData.Dense(rng, 7, 4), TestData.Dense(rng, 96, 4)));
    }
}
