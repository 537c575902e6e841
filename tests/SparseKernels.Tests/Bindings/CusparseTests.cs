using NUnit.Framework;
using SparseKernels.Linalg;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Bindings;

/// <summary>cuSPARSE SpMM (both transpose settings) and SDDMM against naive loops accumulating in double.</summary>
[TestFixture, Category("Gpu")]
public class CusparseTests
{
    internal static double[] Spmm(CsrMatrix a, DenseTensor b, bool transposeA)
    {
        int m = transposeA ? a.Cols : a.Rows, n = b.Cols;
        var c = new double[(long)m * n];
        float[] bd = b.HostData;
        for (int r = 0; r < a.Rows; r++)
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++)
            {
                int col = a.ColumnIndices[p];
                double v = a.Values[p];
                int outRow = transposeA ? col : r, inRow = transposeA ? r : col;
                for (int j = 0; j < n; j++) c[(long)outRow * n + j] += v * bd[(long)inRow * n + j];
            }
        return c;
    }

    internal static double[] Sddmm(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        var v = new double[pattern.Nnz];
        int k = x.Cols;
        for (int r = 0; r < pattern.Rows; r++)
            for (int p = pattern.RowOffsets[r]; p < pattern.RowOffsets[r + 1]; p++)
            {
                int j = pattern.ColumnIndices[p];
                double s = 0;
                for (int q = 0; q < k; q++) s += (double)x.HostData[(long)r * k + q] * y.HostData[(long)j * k + q];
                v[p] = s;
            }
        return v;
    }

    private static void RunSpmm(CsrMatrix a, int n, bool transposeA, CusparseSpmmAlgorithm alg, int seed, string what)
    {
        var device = TestDevice.GetCuda();
        var rng = new Random(seed);
        int k = transposeA ? a.Rows : a.Cols, m = transposeA ? a.Cols : a.Rows;
        var b = TestData.Dense(rng, k, n);
        using var da = a.ToDevice(device);
        using var db = b.ToDevice(device);
        using var dc = DenseTensor.Allocate(device, m, n);
        device.Fill32(dc.DeviceData, TestDevice.PoisonBits);
        using var sparse = new CusparseContext(device);
        sparse.Spmm(da, db, dc, transposeA, alg);
        int maxRow = Enumerable.Range(0, a.Rows).Select(a.RowLength).DefaultIfEmpty(0).Max();
        Approx.AssertAllClose(dc.ToArray(), Spmm(a, b, transposeA), 1e-5 * Math.Sqrt(Math.Max(1, maxRow)) + 1e-6, 1e-5, $"{what} transposeA={transposeA} n={n}", n);
    }

    [Test]
    public void Spmm_RandomWithEmptyAndLongRows([Values(false, true)] bool transposeA, [Values(1, 33, 128)] int n)
    {
        var rng = new Random(n + (transposeA ? 1000 : 0));
        var a = TestData.Csr(rng, 301, 157, 0.05, emptyRows: 20, longRow: true);
        RunSpmm(a, n, transposeA, CusparseSpmmAlgorithm.Default, n, "Spmm random 301x157");
    }

    [Test]
    public void Spmm_RowMajorAlgorithm2([Values(1, 64)] int n)
    {
        var a = TestData.Csr(new Random(n), 200, 300, 0.1, emptyRows: 5, longRow: true);
        RunSpmm(a, n, false, CusparseSpmmAlgorithm.CsrAlg2, n + 7, "Spmm CSR_ALG2");
    }

    [Test]
    public void Spmm_EmptyMatrix_GivesZeros()
    {
        var a = new CsrMatrix(7, 5, new int[8], [], []);
        RunSpmm(a, 3, false, CusparseSpmmAlgorithm.Default, 1, "Spmm empty");
    }

    [TestCaseSource(typeof(Dlmc), nameof(Dlmc.Files))]
    public void Spmm_DlmcPattern(string file)
    {
        var a = Dlmc.Load(file, new Random(file.Length));
        RunSpmm(a, 64, false, CusparseSpmmAlgorithm.Default, file.GetHashCode(), "Spmm " + file);
    }

    [Test]
    public void Sddmm_WritesXTimesYTransposedAtThePattern([Values(1, 32, 67)] int k)
    {
        var device = TestDevice.GetCuda();
        var rng = new Random(k);
        var pattern = TestData.Csr(rng, 123, 211, 0.07, emptyRows: 10, longRow: true);
        var x = TestData.Dense(rng, 123, k);
        var y = TestData.Dense(rng, 211, k);
        using var dp = pattern.ToDevice(device);
        using var dx = x.ToDevice(device);
        using var dy = y.ToDevice(device);
        device.Fill32(dp.DeviceValues, TestDevice.PoisonBits);
        using var sparse = new CusparseContext(device);
        sparse.Sddmm(dx, dy, dp);
        Approx.AssertAllClose(dp.DeviceValues.ToArray(), Sddmm(pattern, x, y), 1e-5 * Math.Sqrt(k), 1e-5, $"Sddmm k={k}");
        // The structure is untouched.
        Assert.That(dp.DeviceColumnIndices.ToArray(), Is.EqualTo(pattern.ColumnIndices));
        Assert.That(dp.DeviceRowOffsets.ToArray(), Is.EqualTo(pattern.RowOffsets));
        // A second call reuses the workspace.
        long ws = sparse.WorkspaceBytes;
        device.Fill32(dp.DeviceValues, TestDevice.PoisonBits);
        sparse.Sddmm(dx, dy, dp);
        Assert.That(sparse.WorkspaceBytes, Is.EqualTo(ws));
        Approx.AssertAllClose(dp.DeviceValues.ToArray(), Sddmm(pattern, x, y), 1e-5 * Math.Sqrt(k), 1e-5, $"Sddmm k={k} (again)");
    }

    [Test]
    public void BadShapes_ThrowNamingTheShapes()
    {
        var device = TestDevice.GetCuda();
        using var a = TestData.Csr(new Random(3), 10, 20, 0.3).ToDevice(device);
        using var b = DenseTensor.Allocate(device, 21, 4);
        using var c = DenseTensor.Allocate(device, 10, 4);
        using var sparse = new CusparseContext(device);
        var e = Assert.Throws<ArgumentException>(() => sparse.Spmm(a, b, c))!;
        Assert.That(e.Message, Does.Contain("21x4").And.Contain("20 rows"));
        using var x = DenseTensor.Allocate(device, 10, 8);
        using var y = DenseTensor.Allocate(device, 20, 9);
        var e2 = Assert.Throws<ArgumentException>(() => sparse.Sddmm(x, y, a))!;
        Assert.That(e2.Message, Does.Contain("10x8").And.Contain("20x9"));
        Assert.That(sparse.Version, Is.GreaterThan(10000));
    }

    [Test]
    public void PreparedPlans_RunRepeatedly_MatchTheNaiveLoops([Values(CusparseSpmmAlgorithm.CsrAlg1, CusparseSpmmAlgorithm.CsrAlg2, CusparseSpmmAlgorithm.CsrAlg3)] CusparseSpmmAlgorithm alg)
    {
        var device = TestDevice.GetCuda();
        var rng = new Random(31);
        var a = TestData.Csr(rng, 70, 50, 0.2, emptyRows: 3);
        var b = TestData.Dense(rng, 50, 24);
        var x = TestData.Dense(rng, 70, 16);
        var y = TestData.Dense(rng, 50, 16);
        using var da = a.ToDevice(device);
        using var db = b.ToDevice(device);
        using var dc = DenseTensor.Allocate(device, 70, 24);
        using var dx = x.ToDevice(device);
        using var dy = y.ToDevice(device);
        using var sparse = new CusparseContext(device);
        using (var plan = sparse.PrepareSpmm(da, db, dc, algorithm: alg))
            for (int i = 0; i < 3; i++)
            {
                device.Fill32(dc.DeviceData, TestDevice.PoisonBits);
                plan.Run();
                Approx.AssertAllClose(dc.ToArray(), Spmm(a, b, false), 1e-5, 1e-5, $"prepared SpMM {alg}, run {i}", 24);
            }
        using (var plan = sparse.PrepareSddmm(dx, dy, da))
            for (int i = 0; i < 3; i++)
            {
                device.Fill32(da.DeviceValues, TestDevice.PoisonBits);
                plan.Run();
                Approx.AssertAllClose(da.DeviceValues.ToArray(), Sddmm(a, x, y), 1e-5, 1e-5, $"prepared SDDMM, run {i}");
            }
    }
}
