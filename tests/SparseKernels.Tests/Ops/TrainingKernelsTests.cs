using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>The training kernels' launchers (dense_gemm, bias_per_row, gather_columns, softmax_cross_entropy) on the test device, outputs poisoned.</summary>
[TestFixture, Category("Gpu")]
public class TrainingKernelsTests
{
    [TestCase(1, 1, 1, false, false)]
    [TestCase(17, 33, 5, false, false)]
    [TestCase(17, 33, 40, true, false)]
    [TestCase(9, 20, 31, false, true)]
    [TestCase(16, 16, 16, true, true)]
    [TestCase(3, 70, 1, true, true)]
    public void DenseGemmMatchesReference(int m, int n, int k, bool transA, bool transB)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = transA ? TestData.Dense(rng, k, m) : TestData.Dense(rng, m, k);
        var b = transB ? TestData.Dense(rng, n, k) : TestData.Dense(rng, k, n);
        var expected = CpuReference.DenseGemm(a, b, transA, transB);
        using var da = a.ToDevice(device);
        using var db = b.ToDevice(device);
        using var dc = DenseTensor.Allocate(device, m, n);
        device.Fill32(dc.DeviceData, TestDevice.PoisonBits);
        DenseGemm.Run(device, da, db, dc, transA, transB);
        Approx.AssertAllClose(dc.ToArray(), expected.HostData, 1e-5, 1e-4, $"dense_gemm {m}x{n}x{k} tA={transA} tB={transB}", n);
    }

    [Test]
    public void DenseGemmRejectsBadShapes()
    {
        var device = TestDevice.Get();
        using var a = DenseTensor.Allocate(device, 3, 4);
        using var b = DenseTensor.Allocate(device, 5, 2);
        using var c = DenseTensor.Allocate(device, 3, 2);
        var e = Assert.Throws<ArgumentException>(() => DenseGemm.Run(device, a, b, c))!;
        Assert.That(e.Message, Does.Contain("3x4").And.Contain("5x2"));
        Assert.Throws<ArgumentException>(() => DenseGemm.Run(device, a, a, a, false, true));
    }

    [TestCase(5, 7)]
    [TestCase(3, 1000)]   // rows longer than the 256-thread block
    [TestCase(1, 1)]
    public void BiasRowsAddAndSum(int rows, int cols)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, rows, cols);
        var bias = TestData.Dense(rng, rows, 1);
        var expectAdd = new double[rows * cols];
        var expectSum = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) { expectAdd[r * cols + c] = x[r, c] + bias[r, 0]; expectSum[r] += 0.5 * x[r, c]; }
        using var dx = x.ToDevice(device);
        using var db = bias.ToDevice(device);
        using var ds = DenseTensor.Allocate(device, rows, 1);
        device.Fill32(ds.DeviceData, TestDevice.PoisonBits);
        BiasPerRow.Sum(device, dx, ds, 0.5f);
        Approx.AssertAllClose(ds.ToArray(), expectSum, 1e-5, 1e-5, "bias_per_row_sum");
        BiasPerRow.Add(device, dx, db);
        Approx.AssertAllClose(dx.ToArray(), expectAdd, 1e-6, 1e-6, "bias_per_row_add", cols);
        Assert.Throws<ArgumentException>(() => BiasPerRow.Add(device, dx, ds.Rows == 1 && rows == 1 ? DenseTensor.Allocate(device, 2, 1) : DenseTensor.Allocate(device, rows + 1, 1)));
    }

    [Test]
    public void GatherColumnsBuildsFeatureMajorBatches()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var data = TestData.Dense(rng, 11, 6);   // 11 samples x 6 features
        int[] labels = Enumerable.Range(0, 11).Select(i => i % 4).ToArray();
        int[] index = [10, 0, 3, 3, 7];
        using var dd = data.ToDevice(device);
        using var dl = device.Allocate<int>(11); dl.CopyFrom(labels);
        using var di = device.Allocate<int>(5); di.CopyFrom(index);
        using var outX = DenseTensor.Allocate(device, 6, 5);
        using var outL = device.Allocate<int>(5);
        device.Fill32(outX.DeviceData, TestDevice.PoisonBits);
        GatherColumns.Run(device, dd, di, outX, dl, outL);
        var x = outX.ToArray();
        for (int f = 0; f < 6; f++)
            for (int b = 0; b < 5; b++) Assert.That(x[f * 5 + b], Is.EqualTo(data[index[b], f]), $"[{f}, {b}]");
        Assert.That(outL.ToArray(), Is.EqualTo(index.Select(i => labels[i]).ToArray()));
    }

    [Test]
    public void SoftmaxCrossEntropyOnTheDeviceNeedsDeviceLabels()
    {
        var device = TestDevice.Get();
        using var b = new DeviceTensorBackend(device);
        using var z = DenseTensor.Allocate(device, 3, 2);
        var e = Assert.Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(z, new Labels([0, 1]), null))!;
        Assert.That(e.Message, Does.Contain("on the host"));
        Assert.Throws<ArgumentException>(() => b.SoftmaxCrossEntropy(z, null, null));
    }
}
