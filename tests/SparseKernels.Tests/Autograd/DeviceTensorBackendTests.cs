using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Ops;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Autograd;

/// <summary>
/// The device backend's sparse matmuls on both dispatch paths (our SpMM/SDDMM, and scatter + dense GEMM + gather)
/// against CpuReference, and the training path's allocations: after warm-up a step makes no driver allocation.
/// </summary>
[Category("Gpu")]
public class DeviceTensorBackendTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var kernel in new[] { SparseMatmulKernel.Auto, SparseMatmulKernel.Spmm, SparseMatmulKernel.MaskedGemm })
        {
            yield return new TestCaseData(kernel, 45, 67, 0.95, 33).SetName($"{kernel} 45x67 95% N=33");
            yield return new TestCaseData(kernel, 45, 67, 0.3, 33).SetName($"{kernel} 45x67 30% N=33");
            yield return new TestCaseData(kernel, 130, 20, 0.5, 1).SetName($"{kernel} 130x20 50% N=1");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void SpmmAndSddmm_MatchTheReference_OnEitherPath(SparseMatmulKernel kernel, int rows, int cols, double sparsity, int n)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        using var backend = new DeviceTensorBackend(device) { ForceKernel = kernel };
        var a = TestData.Csr(rng, rows, cols, 1 - sparsity, emptyRows: 3);
        var b = TestData.Dense(rng, cols, n);
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        TestContext.Out.WriteLine($"path: {backend.PathFor(dA, n)}");

        using var c = backend.SpmmCsr(dA, dB);
        var (atol, rtol) = OpsTestSupport.DotTolerance(OpsTestSupport.MaxRowLength(a));
        Approx.AssertAllClose(c.ToArray(), CpuReference.SpmmCsr(a, b).HostData, atol, rtol, "SpmmCsr", n);

        var x = TestData.Dense(rng, rows, n);
        var y = TestData.Dense(rng, cols, n);
        using var dX = x.ToDevice(device);
        using var dY = y.ToDevice(device);
        using var g = backend.SddmmCsr(dA, dX, dY);
        (atol, rtol) = OpsTestSupport.DotTolerance(n);
        Approx.AssertAllClose(g.ToArray(), CpuReference.SddmmCsr(a, x, y).Values, atol, rtol, "SddmmCsr");
    }

    [Test]
    public void Dispatch_FollowsTheCrossoverTable()
    {
        var device = TestDevice.Get();
        using var backend = new DeviceTensorBackend(device);
        var rng = TestRng.Fresh();
        using var sparse = TestData.CsrExact(rng, 40, 50, 100).ToDevice(device);   // 95 % sparse
        using var dense = TestData.CsrExact(rng, 40, 50, 1500).ToDevice(device);   // 25 % sparse
        var densePath = device.Kind == DeviceKind.Cuda ? SparseMatmulKernel.Cublas : SparseMatmulKernel.MaskedGemm;
        Assert.That(backend.PathFor(sparse, 128), Is.EqualTo(SparseMatmulKernel.Spmm));
        Assert.That(backend.PathFor(dense, 128), Is.EqualTo(densePath));
        backend.CrossoverTable = [new CrossoverRow(int.MaxValue, 0.2)];
        Assert.That(backend.PathFor(dense, 128), Is.EqualTo(SparseMatmulKernel.Spmm));
        Assert.Throws<ArgumentException>(() => backend.CrossoverTable = []);
    }

    [TestCase("sgd")]
    [TestCase("adam")]
    public void TrainingSteps_AfterWarmUp_MakeNoDriverAllocation(string optimizer)
    {
        var shared = TestDevice.Get();
        // A device object of its own, so that other tests' allocations do not move its pool's counters.
        using IDevice device = shared.Kind == DeviceKind.Cuda ? CudaDevice.Open(shared.Info.Ordinal) : new EmulatedDevice();
        var pool = device switch
        {
            CudaDevice c => c.MemoryPool,
            EmulatedDevice e => e.MemoryPool,
            _ => throw new AssertionException($"unexpected device {device}"),
        };
        var rng = TestRng.Fresh();
        int features = 30, classes = 10, count = 6 * 16;
        var images = TestData.NonZeroArray(rng, (long)count * features);
        var labels = Enumerable.Range(0, count).Select(_ => rng.Next(classes)).ToArray();
        var data = new ImageDataset(images, labels, features, classes, "synthetic");

        using var backend = new DeviceTensorBackend(device);
        // layer 0 at 90 % takes our SpMM; layer 1 at 30 % the dense path (scatter + GEMM); layer 2 is dense.
        using var model = Mlp.Create(backend, [features, 24, 20, classes], [0.9, 0.3, 0], new KaimingNormal(), new TrainRng(3));
        Assert.That(backend.PathFor(model.Layers[0].Sparse!.Matrix, 16), Is.EqualTo(SparseMatmulKernel.Spmm));
        Assert.That(backend.PathFor(model.Layers[1].Sparse!.Matrix, 16), Is.Not.EqualTo(SparseMatmulKernel.Spmm));
        Optimizer opt = optimizer == "adam" ? new AdamOptimizer { LearningRate = 0.01f } : new SgdOptimizer { LearningRate = 0.05f };
        using var train = new BatchSource(data, backend);
        using var test = new BatchSource(data.Take(16), backend);
        var trainer = new Trainer(model, opt, new CosineSchedule(), new TrainConfig { Epochs = 1, BatchSize = 16 }, train, test, new TrainRng(4));
        var recorder = new PoolRecorder(pool);
        trainer.Hooks.Add(recorder);
        trainer.RunEpoch(0);

        var after = recorder.AfterStep;
        Assert.That(after, Has.Count.EqualTo(6));
        TestContext.Out.WriteLine(string.Join("\n", after.Select((s, i) => $"step {i}: {s}")));
        Assert.That(after[^1].DriverAllocations, Is.EqualTo(after[1].DriverAllocations),
            "driver allocations after the warm-up steps (a step must reuse the pool's blocks)");
        Assert.That(after[^1].DriverFrees, Is.EqualTo(after[1].DriverFrees), "driver frees after the warm-up steps");
        Assert.That(after[^1].Reuses, Is.GreaterThan(after[1].Reuses));
    }

    private sealed class PoolRecorder(DeviceMemoryPool pool) : IStepHook
    {
        public List<DeviceMemoryPoolStatistics> AfterStep { get; } = [];
        public void AfterOptimizerStep(StepContext context) => AfterStep.Add(pool.Statistics);
    }
}
