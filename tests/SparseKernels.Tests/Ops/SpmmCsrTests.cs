using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>spmm_csr kernels (every version) on the test device against CpuReference.SpmmCsr / SpmmCsrTransposed.</summary>
[TestFixture(SpmmCsrVersion.V1), TestFixture(SpmmCsrVersion.V2), TestFixture(SpmmCsrVersion.V3), Category("Gpu")]
public class SpmmCsrTests(SpmmCsrVersion version)
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
        new object[] { 6, 3000, 7, 0.01, 1, true },     // the long row with N odd (scalar v2 path)
        new object[] { 21, 50, 4, 0.2, 3, false },      // N = 4: v2 vec4, 4-lane subwarps
        new object[] { 35, 64, 12, 0.25, 2, false },    // N % 4 == 0: vec4, 4 lanes with a dense residue
        new object[] { 19, 45, 40, 0.3, 0, false },     // vec4, 16-lane subwarps, residue lanes past N
        new object[] { 13, 70, 136, 0.15, 1, false },   // vec4, 32 lanes, two column tiles (the second partial)
        new object[] { 11, 30, 2, 0.4, 0, false },      // N = 2 (scalar, 4 lanes, 2 idle)
        new object[] { 130, 20, 3, 0.05, 40, false },   // many short and empty rows: swizzle, several blocks
    ];

    [TestCaseSource(nameof(Shapes))]
    public void MatchesReference(int m, int k, int n, double density, int emptyRows, bool longRow)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, m, k, density, emptyRows, longRow);
        CheckRun(device, a, TestData.Dense(rng, k, n), $"spmm {m}x{k}x{n}");
    }

    [Test]
    public void OddShapeWithExactNonzeros()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.CsrExact(rng, 7, 96, 333);
        CheckRun(device, a, TestData.Dense(rng, 96, 40), "spmm 7x96x40, nnz 333");
    }

    [Test]
    public void AllRowsEmptyGiveZeros()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = new CsrMatrix(9, 13, new int[10], [], []);
        CheckRun(device, a, TestData.Dense(rng, 13, 5), "spmm with no nonzeros");
    }

    [TestCaseSource(typeof(Dlmc), nameof(Dlmc.SmallFiles))]
    public void DlmcPattern(string file)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = Dlmc.Load(file, rng);
        CheckRun(device, a, TestData.Dense(rng, a.Cols, 8), $"spmm {file}, N = 8");
    }

    [TestCase(5)]    // N odd: the scalar v2 path
    [TestCase(1)]    // N = 1
    public void DlmcPatternOtherN(int n)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = Dlmc.Load(Dlmc.SmallFiles[2], rng);
        CheckRun(device, a, TestData.Dense(rng, a.Cols, n), $"spmm {Dlmc.SmallFiles[2]}, N = {n}");
    }

    [TestCase(7, 96, 40, 0.3, 2)]
    [TestCase(40, 33, 16, 0.2, 3)]    // N % 4 == 0 (v2 vec4)
    [TestCase(50, 33, 1, 0.2, 0)]     // N = 1
    [TestCase(30, 20, 37, 0.1, 5)]    // some columns of A likely empty, N odd
    public void TransposedMatchesReference(int m, int k, int n, double density, int emptyRows)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, m, k, density, emptyRows);
        CheckTransposed(device, a, TestData.Dense(rng, m, n), $"spmm A^T.B, A {m}x{k}, N {n}");
    }

    [Test]
    public void TransposedDlmcPattern()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = Dlmc.Load(Dlmc.SmallFiles[0], rng);
        CheckTransposed(device, a, TestData.Dense(rng, a.Rows, 8), "spmm A^T.B on DLMC transformer q 0.98, N = 8");
    }

    [TestCase(16)]
    [TestCase(7)]
    public void WithoutBytePrescalingMatchesReference(int n)
    {
        // The 64-bit fallback that v2 takes when k*n*4 bytes would overflow int32, forced on a small shape.
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, 23, 80, 0.2, 2, true);
        CheckRun(device, a, TestData.Dense(rng, 80, n), $"spmm 23x80x{n} without pre-scaled offsets", allowPrescale: false);
    }

    [Test]
    public void ForwardAndTransposedAgreeWithDenseProducts()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, 29, 41, 0.2, 3);
        var b = TestData.Dense(rng, 41, 12);
        var g = TestData.Dense(rng, 29, 12);
        using var dA = a.ToDevice(device);
        using var dAT = a.Transpose().ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dG = g.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, 29, 12);
        using var dCT = DenseTensor.Allocate(device, 41, 12);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        device.Fill32(dCT.DeviceData, TestDevice.PoisonBits);
        SpmmCsr.Run(device, dA, dB, dC, version);
        SpmmCsr.RunTransposed(device, dAT, dG, dCT, version);
        var dense = a.ToDense();
        var (atol, rtol) = OpsTestSupport.DotTolerance(41);
        Approx.AssertAllClose(dC.ToArray(), CpuReference.DenseGemm(dense, b).HostData, atol, rtol, "A.B vs dense", 12);
        Approx.AssertAllClose(dCT.ToArray(), CpuReference.DenseGemm(dense, g, transposeA: true).HostData, atol, rtol, "A^T.G vs dense", 12);
    }

    [Test]
    public void RowSwizzleOrdersRowsByLengthLongestFirst()
    {
        int[] order = RowSwizzle.Order([0, 2, 2, 7, 8, 10]); // lengths 2, 0, 5, 1, 2
        Assert.That(order, Is.EqualTo(new[] { 2, 0, 4, 3, 1 }));
    }

    [Test]
    public void ComputeAllocatesTheResult()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, 21, 30, 0.2, 3);
        var b = TestData.Dense(rng, 30, 11);
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = SpmmCsr.Compute(device, dA, dB, version);
        Assert.That((dC.Rows, dC.Cols), Is.EqualTo((21, 11)));
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(a));
        Approx.AssertAllClose(dC.ToArray(), CpuReference.SpmmCsr(a, b).HostData, atol, rtol, "SpmmCsr.Compute", 11);
    }

    [Test]
    public void RejectsMismatchedShapesAndHostOperands()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
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

    private void CheckRun(IDevice device, CsrMatrix a, DenseTensor b, string what, bool allowPrescale = true)
    {
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, a.Rows, b.Cols);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        SpmmCsr.Run(device, dA, dB, dC, version, null, allowPrescale);
        var got = dC.ToArray();
        var want = CpuReference.SpmmCsr(a, b);
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(a));
        Approx.AssertAllClose(got, want.HostData, atol, rtol, $"{what} (nnz {a.Nnz})", b.Cols);
    }

    private void CheckTransposed(IDevice device, CsrMatrix a, DenseTensor b, string what)
    {
        var aT = a.Transpose();
        using var dAT = aT.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, a.Cols, b.Cols);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        SpmmCsr.RunTransposed(device, dAT, dB, dC, version);
        var got = dC.ToArray();
        var want = CpuReference.SpmmCsrTransposed(a, b);
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(aT));
        Approx.AssertAllClose(got, want.HostData, atol, rtol, $"{what} (nnz {a.Nnz})", b.Cols);
    }
}
