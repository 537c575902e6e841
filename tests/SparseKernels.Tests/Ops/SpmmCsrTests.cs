using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>spmm_csr kernels on the test device against CpuReference.SpmmCsr / SpmmCsrTransposed.</summary>
[TestFixture, Category("Gpu")]
public class SpmmCsrTests
{
    // (rows m, inner k, columns n, density, empty rows, long row)
    private static readonly object[] Shapes =
    [
        new object[] { 33, 50, 1, 0.2, 0, false },      // N = 1
        new object[] { 33, 50, 37, 0.2, 0, false },     // N odd, m not a multiple of the warps per block
        new object[] { 16, 64, 32, 0.1, 0, false },     // N exactly one warp
        new object[] { 17, 70, 33, 0.1, 0, false },     // N one past a warp (residue of 1)
        new object[] { 9, 40, 70, 0.3, 0, false },      // N > 2 warps, not a multiple of 4
        new object[] { 40, 60, 20, 0.3, 13, false },    // empty rows
        new object[] { 1, 5, 3, 0.5, 0, false },        // a single row
        new object[] { 6, 3000, 8, 0.01, 1, true },     // one row with 3000 nonzeros, and an empty row
    ];

    [TestCaseSource(nameof(Shapes))]
    public void MatchesReference(int m, int k, int n, double density, int emptyRows, bool longRow)
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = TestData.Csr(rng, m, k, density, emptyRows, longRow);
        CheckRun(device, a, TestData.Dense(rng, k, n), $"spmm {m}x{k}x{n}");
    }

    [Test]
    public void OddShapeWithExactNonzeros()
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = TestData.CsrExact(rng, 7, 96, 333);
        CheckRun(device, a, TestData.Dense(rng, 96, 40), "spmm 7x96x40, nnz 333");
    }

    [Test]
    public void AllRowsEmptyGiveZeros()
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = new CsrMatrix(9, 13, new int[10], [], []);
        CheckRun(device, a, TestData.Dense(rng, 13, 5), "spmm with no nonzeros");
    }

    [TestCaseSource(typeof(OpsTestSupport), nameof(OpsTestSupport.SmallDlmcFiles))]
    public void DlmcPattern(string file)
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = OpsTestSupport.LoadDlmc(file, rng);
        CheckRun(device, a, TestData.Dense(rng, a.Cols, 8), $"spmm {file}, N = 8");
    }

    [TestCase(7, 96, 40, 0.3, 2)]
    [TestCase(50, 33, 1, 0.2, 0)]     // N = 1
    [TestCase(30, 20, 37, 0.1, 5)]    // some columns of A likely empty, N odd
    public void TransposedMatchesReference(int m, int k, int n, double density, int emptyRows)
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = TestData.Csr(rng, m, k, density, emptyRows);
        CheckTransposed(device, a, TestData.Dense(rng, m, n), $"spmm A^T.B, A {m}x{k}, N {n}");
    }

    [Test]
    public void TransposedDlmcPattern()
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = OpsTestSupport.LoadDlmc(OpsTestSupport.SmallDlmcFiles[0], rng);
        CheckTransposed(device, a, TestData.Dense(rng, a.Rows, 8), "spmm A^T.B on DLMC transformer q 0.98, N = 8");
    }

    [Test]
    public void ComputeAllocatesTheResult()
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = TestData.Csr(rng, 21, 30, 0.2, 3);
        var b = TestData.Dense(rng, 30, 11);
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = SpmmCsr.Compute(device, dA, dB);
        Assert.That((dC.Rows, dC.Cols), Is.EqualTo((21, 11)));
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(a));
        Approx.AssertAllClose(dC.ToArray(), CpuReference.SpmmCsr(a, b).HostData, atol, rtol, "SpmmCsr.Compute", 11);
    }

    [Test]
    public void RejectsMismatchedShapesAndHostOperands()
    {
        var device = TestDevice.Get();
        var rng = OpsTestSupport.FreshRandom();
        var a = TestData.Csr(rng, 7, 96, 0.2);
        using var dA = a.ToDevice(device);
        using var dB = TestData.Dense(rng, 95, 40).ToDevice(device);
        using var dC = DenseTensor.Allocate(device, 7, 40);
        var e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, dA, dB, dC))!;
        Assert.That(e.Message, Does.Contain("7x96").And.Contain("95x40"));
        using var dB2 = TestData.Dense(rng, 96, 40).ToDevice(device);
        using var dCBad = DenseTensor.Allocate(device, 7, 41);
        e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, dA, dB2, dCBad))!;
        Assert.That(e.Message, Does.Contain("7x41").And.Contain("7x40"));
        e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, a, dB2, dC))!;
        Assert.That(e.Message, Does.Contain("host"));
    }

    private static void CheckRun(IDevice device, CsrMatrix a, DenseTensor b, string what)
    {
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, a.Rows, b.Cols);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        SpmmCsr.Run(device, dA, dB, dC, SpmmCsrVersion.V1);
        var got = dC.ToArray();
        var want = CpuReference.SpmmCsr(a, b);
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(a));
        Approx.AssertAllClose(got, want.HostData, atol, rtol, $"{what} (nnz {a.Nnz})", b.Cols);
    }

    private static void CheckTransposed(IDevice device, CsrMatrix a, DenseTensor b, string what)
    {
        var aT = a.Transpose();
        using var dAT = aT.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, a.Cols, b.Cols);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        SpmmCsr.RunTransposed(device, dAT, dB, dC, SpmmCsrVersion.V1);
        var got = dC.ToArray();
        var want = CpuReference.SpmmCsrTransposed(a, b);
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(aT));
        Approx.AssertAllClose(got, want.HostData, atol, rtol, $"{what} (nnz {a.Nnz})", b.Cols);
    }
}
