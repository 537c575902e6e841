using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>sddmm_csr kernels (every version) on the test device against CpuReference.SddmmCsr.</summary>
[TestFixture(SddmmCsrVersion.V1), TestFixture(SddmmCsrVersion.V2), TestFixture(SddmmCsrVersion.V3), Category("Gpu")]
public class SddmmCsrTests(SddmmCsrVersion version)
{
    // (pattern rows m, pattern columns n, inner k, density, empty rows, long row)
    private static readonly object[] Shapes =
    [
        new object[] { 33, 50, 1, 0.2, 0, false },      // k = 1: one active lane
        new object[] { 33, 50, 37, 0.2, 0, false },     // k odd, m not a multiple of the warps per block
        new object[] { 16, 40, 32, 0.2, 0, false },     // k exactly one warp
        new object[] { 17, 40, 33, 0.2, 0, false },     // k one past a warp
        new object[] { 9, 30, 100, 0.3, 0, false },     // k > 3 warps, not a multiple of 4
        new object[] { 40, 60, 20, 0.3, 13, false },    // empty rows
        new object[] { 6, 3000, 16, 0.01, 1, true },    // one row with 3000 nonzeros
        new object[] { 6, 3000, 7, 0.01, 1, true },     // the long row, k odd (scalar v2, 8-lane subwarps)
        new object[] { 21, 30, 4, 0.3, 2, false },      // k = 4: v2 vec4, 8-lane subwarps (7 idle lanes each)
        new object[] { 25, 35, 64, 0.2, 3, false },     // k % 4 == 0: vec4, 16-lane subwarps
        new object[] { 14, 33, 260, 0.2, 0, false },    // vec4, 32 lanes, k past two float4 warp strides
        new object[] { 130, 20, 3, 0.05, 40, false },   // many short and empty rows: swizzle, several blocks
        new object[] { 7, 20, 1100, 0.3, 1, false },    // vec4, k > 2 v3 register chunks (512): the last chunk partial
        new object[] { 6, 25, 1031, 0.3, 1, false },    // scalar, k > 2 v3 register chunks (512), k odd
        new object[] { 5, 300, 513, 0.1, 1, true },     // scalar, one element past a v3 chunk, with a long row
    ];

    [TestCaseSource(nameof(Shapes))]
    public void MatchesReference(int m, int n, int k, double density, int emptyRows, bool longRow)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var pattern = TestData.Csr(rng, m, n, density, emptyRows, longRow);
        Check(device, pattern, TestData.Dense(rng, m, k), TestData.Dense(rng, n, k), $"sddmm {m}x{n}, k {k}");
    }

    [Test]
    public void OddShapeWithExactNonzeros()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var pattern = TestData.CsrExact(rng, 7, 96, 333);
        Check(device, pattern, TestData.Dense(rng, 7, 40), TestData.Dense(rng, 96, 40), "sddmm 7x96, k 40, nnz 333");
    }

    [TestCaseSource(typeof(Dlmc), nameof(Dlmc.SmallFiles))]
    public void DlmcPattern(string file)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var pattern = Dlmc.Load(file, rng);
        Check(device, pattern, TestData.Dense(rng, pattern.Rows, 8), TestData.Dense(rng, pattern.Cols, 8), $"sddmm {file}, k 8");
    }

    [Test]
    public void SeparateOutputLeavesPatternValuesAlone()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var pattern = TestData.Csr(rng, 20, 30, 0.25, 4);
        var x = TestData.Dense(rng, 20, 45);
        var y = TestData.Dense(rng, 30, 45);
        using var dP = pattern.ToDevice(device);
        using var dX = x.ToDevice(device);
        using var dY = y.ToDevice(device);
        using var output = device.Allocate<float>(pattern.Nnz);
        device.Fill32(output, TestDevice.PoisonBits);
        SddmmCsr.Run(device, dX, dY, dP, output, version);
        var (atol, rtol) = OpsTestSupport.DotTolerance(45);
        Approx.AssertAllClose(output.ToArray(), CpuReference.SddmmCsr(pattern, x, y).Values, atol, rtol, "sddmm into a separate buffer");
        Assert.That(dP.DeviceValues.ToArray(), Is.EqualTo(pattern.Values), "the pattern's own values must be untouched");
    }

    [Test]
    public void RejectsMismatchedShapes()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        using var dP = TestData.Csr(rng, 7, 96, 0.2).ToDevice(device);
        using var dX = TestData.Dense(rng, 7, 40).ToDevice(device);
        using var dYBadK = TestData.Dense(rng, 96, 41).ToDevice(device);
        using var dYBadN = TestData.Dense(rng, 95, 40).ToDevice(device);
        var e = Assert.Throws<ArgumentException>(() => SddmmCsr.Run(device, dX, dYBadK, dP))!;
        Assert.That(e.Message, Does.Contain("7x40").And.Contain("96x41"));
        e = Assert.Throws<ArgumentException>(() => SddmmCsr.Run(device, dX, dYBadN, dP))!;
        Assert.That(e.Message, Does.Contain("95x40").And.Contain("7x96"));
    }

    private void Check(IDevice device, CsrMatrix pattern, DenseTensor x, DenseTensor y, string what)
    {
        using var dP = pattern.ToDevice(device);
        using var dX = x.ToDevice(device);
        using var dY = y.ToDevice(device);
        device.Fill32(dP.DeviceValues, TestDevice.PoisonBits);
        SddmmCsr.Run(device, dX, dY, dP, version);
        var got = dP.DeviceValues.ToArray();
        var want = CpuReference.SddmmCsr(pattern, x, y).Values;
        var (atol, rtol) = OpsTestSupport.DotTolerance(x.Cols);
        Approx.AssertAllClose(got, want, atol, rtol, $"{what} (nnz {pattern.Nnz})");
    }
}
