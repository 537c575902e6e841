using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Cpu;

/// <summary>
/// The reference against naive dense computations (the sparse operand expanded with ToDense). Both sides
/// accumulate in double and round once, so the tolerance is a few float ulps: atol 1e-6, rtol 1e-6.
/// </summary>
public class CpuReferenceTests
{
    private const double Atol = 1e-6, Rtol = 1e-6;

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.MatmulShapes))]
    public void DenseGemm(int m, int k, int n, bool ta, bool tb)
    {
        var rng = TestRng.Fresh();
        var a = ta ? TestData.Dense(rng, k, m) : TestData.Dense(rng, m, k);
        var b = tb ? TestData.Dense(rng, n, k) : TestData.Dense(rng, k, n);
        var c = CpuReference.DenseGemm(a, b, ta, tb);
        Assert.That((c.Rows, c.Cols), Is.EqualTo((m, n)));
        Approx.AssertAllClose(c.HostData, CpuCases.DenseProduct(a, b, ta, tb), Atol, Rtol, "DenseGemm", n);
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Sparse))]
    public void SpmmCsr(CpuCases.SparseCase sc)
    {
        var rng = TestRng.Fresh();
        var a = sc.Make(rng);
        var b = TestData.Dense(rng, a.Cols, sc.N);
        var c = CpuReference.SpmmCsr(a, b);
        Assert.That((c.Rows, c.Cols), Is.EqualTo((a.Rows, sc.N)));
        Approx.AssertAllClose(c.HostData, CpuCases.DenseProduct(a.ToDense(), b), Atol, Rtol, "SpmmCsr", sc.N);
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Sparse))]
    public void SpmmCsrTransposed(CpuCases.SparseCase sc)
    {
        var rng = TestRng.Fresh();
        var a = sc.Make(rng);
        var b = TestData.Dense(rng, a.Rows, sc.N);
        var c = CpuReference.SpmmCsrTransposed(a, b);
        Assert.That((c.Rows, c.Cols), Is.EqualTo((a.Cols, sc.N)));
        Approx.AssertAllClose(c.HostData, CpuCases.DenseProduct(a.ToDense(), b, ta: true), Atol, Rtol, "SpmmCsrTransposed", sc.N);
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Sparse))]
    public void SddmmCsr(CpuCases.SparseCase sc)
    {
        var rng = TestRng.Fresh();
        var pattern = sc.Make(rng);
        int k = sc.N; // the inner dimension of X.Y^T
        var x = TestData.Dense(rng, pattern.Rows, k);
        var y = TestData.Dense(rng, pattern.Cols, k);
        var s = CpuReference.SddmmCsr(pattern, x, y);
        Assert.That(s.RowOffsets, Is.EqualTo(pattern.RowOffsets));
        Assert.That(s.ColumnIndices, Is.EqualTo(pattern.ColumnIndices));
        Approx.AssertAllClose(s.Values, CpuCases.SddmmExpected(pattern, x, y), Atol, Rtol, "SddmmCsr");
    }

    [TestCaseSource(typeof(CpuCases), nameof(CpuCases.Dlmc))]
    public void SpmmCsrOnDlmc(string file)
    {
        var rng = TestRng.Fresh();
        var a = Dlmc.Load(file, rng);
        const int n = 8;
        var b = TestData.Dense(rng, a.Cols, n);
        var c = CpuReference.SpmmCsr(a, b);
        // Check against A.B computed from the transpose: C^T = B^T A^T, a different loop order on a different structure.
        var ct = CpuReference.SpmmCsrTransposed(a.Transpose(), b);
        Approx.AssertAllClose(c.HostData, ct.HostData, Atol, Rtol, "SpmmCsr vs SpmmCsrTransposed(A^T)", n);
        // And a few full rows against the dense definition.
        var dense = a.ToDense();
        foreach (int i in new[] { 0, a.Rows / 2, a.Rows - 1 })
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < a.Cols; p++) s += (double)dense[i, p] * b[p, j];
                Assert.That(c[i, j], Is.EqualTo(s).Within(Atol + Rtol * Math.Abs(s)), $"C[{i}, {j}]");
            }
    }

    [Test]
    public void Elementwise([ValueSource(typeof(CpuCases), nameof(CpuCases.Lengths))] int length)
    {
        var rng = TestRng.Fresh();
        float[] a = TestData.NonZeroArray(rng, length), b = TestData.NonZeroArray(rng, length);
        float alpha = TestData.NonZero(rng);
        Approx.AssertAllClose(CpuReference.Add(a, b), a.Zip(b, (x, y) => (double)x + y).ToArray(), 0, 1e-7, "Add");
        Approx.AssertAllClose(CpuReference.Mul(a, b), a.Zip(b, (x, y) => (double)x * y).ToArray(), 0, 1e-7, "Mul");
        Approx.AssertAllClose(CpuReference.Scale(alpha, a), a.Select(x => (double)alpha * x).ToArray(), 0, 1e-7, "Scale");
        Approx.AssertAllClose(CpuReference.Axpy(alpha, a, b), a.Zip(b, (x, y) => y + (double)alpha * x).ToArray(), 1e-7, 1e-7, "Axpy");
        Approx.AssertAllClose(CpuReference.Relu(a), a.Select(x => x > 0 ? x : 0.0).ToArray(), 0, 0, "Relu");
        Approx.AssertAllClose(CpuReference.ReluBackward(a, b), a.Zip(b, (x, d) => x > 0 ? d : 0.0).ToArray(), 0, 0, "ReluBackward");
    }

    [Test]
    public void ReluAtZeroAndNegativeZero()
    {
        Assert.That(CpuReference.Relu([0f, -0f, -1f, 2f]), Is.EqualTo(new[] { 0f, 0f, 0f, 2f }));
        Assert.That(CpuReference.ReluBackward([0f, -0f, -1f, 2f], [5f, 6f, 7f, 8f]), Is.EqualTo(new[] { 0f, 0f, 0f, 8f }));
    }

    [TestCase(3, 5)]
    [TestCase(1, 1)]
    [TestCase(0, 4)]
    [TestCase(17, 33)]
    public void AddBiasPerColumn(int rows, int cols)
    {
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, rows, cols);
        var bias = TestData.NonZeroArray(rng, cols);
        var expected = new double[rows * cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) expected[i * cols + j] = (double)x[i, j] + bias[j];
        Approx.AssertAllClose(CpuReference.AddBiasPerColumn(x, bias).HostData, expected, 0, 1e-7, "AddBiasPerColumn", cols);
    }
}
