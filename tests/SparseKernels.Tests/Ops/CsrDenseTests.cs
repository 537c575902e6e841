using NUnit.Framework;
using SparseKernels.Ops;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>CsrDense.Scatter / Gather (kernels/csr_dense.cu) against the host's CSR to dense, on odd shapes, empty and long rows, DLMC.</summary>
[Category("Gpu")]
public class CsrDenseTests
{
    private static IEnumerable<TestCaseData> Shapes()
    {
        yield return new TestCaseData(1, 1, 1.0, 0, false).SetName("1x1 full");
        yield return new TestCaseData(37, 53, 0.2, 5, false).SetName("37x53 with empty rows");
        yield return new TestCaseData(9, 300, 0.05, 2, true).SetName("9x300 with a long row");
        yield return new TestCaseData(64, 33, 0.0, 0, false).SetName("64x33 no nonzeros");
    }

    [TestCaseSource(nameof(Shapes))]
    public void ScatterAndGather_MatchTheHost(int rows, int cols, double density, int emptyRows, bool longRow)
    {
        var rng = TestRng.Fresh();
        Check(TestData.Csr(rng, rows, cols, density, emptyRows, longRow), rng);
    }

    [Test]
    public void ScatterAndGather_OnADlmcPattern()
    {
        var rng = TestRng.Fresh();
        Check(Dlmc.Load(Dlmc.SmallFiles[0], rng), rng);
    }

    private static void Check(CsrMatrix a, Random rng)
    {
        var device = TestDevice.Get();
        using var dA = a.ToDevice(device);
        using var dense = DenseTensor.Allocate(device, a.Rows, a.Cols);
        device.Fill32(dense.DeviceData, TestDevice.PoisonBits);
        CsrDense.Scatter(device, dA, dense);
        float[] expected = a.ToDense().HostData;
        Approx.AssertAllClose(dense.ToArray(), expected, 0, 0, "scattered dense", a.Cols);

        // Gather from a fresh random dense matrix: values[p] = D[row, col].
        var d = TestData.Dense(rng, a.Rows, a.Cols);
        using var dD = d.ToDevice(device);
        using var values = device.Allocate<float>(a.Nnz);
        device.Fill32(values, TestDevice.PoisonBits);
        CsrDense.Gather(device, dD, dA, values);
        var want = new float[a.Nnz];
        for (int r = 0; r < a.Rows; r++)
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++) want[p] = d[r, a.ColumnIndices[p]];
        Approx.AssertAllClose(values.ToArray(), want, 0, 0, "gathered values");
    }

    [Test]
    public void MismatchedShapes_AreRejectedNamingTheShapes()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        using var a = TestData.Csr(rng, 6, 7, 0.5).ToDevice(device);
        using var wrong = DenseTensor.Allocate(device, 7, 6);
        var e = Assert.Throws<ArgumentException>(() => CsrDense.Scatter(device, a, wrong));
        Assert.That(e!.Message, Does.Contain("7x6").And.Contain("6x7"));
        using var shortValues = device.Allocate<float>(a.Nnz + 1);
        using var dense = DenseTensor.Allocate(device, 6, 7);
        e = Assert.Throws<ArgumentException>(() => CsrDense.Gather(device, dense, a, shortValues));
        Assert.That(e!.Message, Does.Contain($"{a.Nnz} nonzeros"));
    }
}
