using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Tests.Training;

/// <summary>
/// The CPU training step reuses its tensors (CpuTensorBackend's pool): after warm-up a step allocates only small
/// bookkeeping objects (tape nodes, closures), never tensor data. Measured with the process's allocated-bytes counter
/// (all threads) over whole epochs; the same run with a pool that keeps nothing shows the bound can fail.
/// </summary>
public class StepAllocationTests
{
    private const int Features = 256, Classes = 10, Samples = 1024, Batch = 128;

    private static ImageDataset Synthetic(int samples, int seed)
    {
        var rng = new Random(seed);
        var images = new float[samples * Features];
        for (int i = 0; i < images.Length; i++) images[i] = (float)(rng.NextDouble() * 2 - 1);
        var labels = new int[samples];
        for (int i = 0; i < samples; i++) labels[i] = rng.Next(Classes);
        return new ImageDataset(images, labels, Features, Classes, "synthetic");
    }

    private static (long BytesPerStep, long Created) SecondEpoch(double[] sparsity, long poolBytes)
    {
        var backend = new CpuTensorBackend(new CpuBackend(2));
        backend.Pool.MaxRetainedBytes = poolBytes;
        var rng = new TrainRng(3);
        using var model = Mlp.Create(backend, [Features, 512, 512, Classes], sparsity, Initializers.ByName("kaiming-normal"), rng);
        using var train = new BatchSource(Synthetic(Samples, 1), backend);
        using var test = new BatchSource(Synthetic(64, 2), backend);
        var trainer = new Trainer(model, new SgdOptimizer { WeightDecay = 5e-4f }, new CosineSchedule(),
            new TrainConfig { Epochs = 3, BatchSize = Batch }, train, test, rng);
        trainer.RunEpoch(0);   // warm-up: the pool fills, the JIT settles
        long created = backend.Pool.Created;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        trainer.RunEpoch(1);
        long bytes = GC.GetTotalAllocatedBytes(precise: true) - before;
        return (bytes / trainer.StepsPerEpoch, backend.Pool.Created - created);
    }

    [TestCase(0.0, TestName = "DenseStepAllocatesNoTensorDataAfterWarmup")]
    [TestCase(0.9, TestName = "SparseStepAllocatesNoTensorDataAfterWarmup")]
    public void StepAllocatesNoTensorDataAfterWarmup(double hidden)
    {
        // One 512 x 128 activation is 256 KB; the epoch also evaluates 64 test samples (one batch).
        const long bound = 64 << 10;
        var (perStep, created) = SecondEpoch([hidden, hidden, 0], 1L << 30);
        TestContext.Out.WriteLine($"hidden sparsity {hidden}: {perStep} bytes allocated per step after warm-up, {created} arrays created");
        Assert.That(created, Is.Zero, "the pool created arrays after warm-up");
        Assert.That(perStep, Is.LessThan(bound), "bytes allocated per training step after warm-up");
        // The bound can fail: a pool that keeps nothing allocates every tensor anew.
        var (unpooled, _) = SecondEpoch([hidden, hidden, 0], 0);
        Assert.That(unpooled, Is.GreaterThan(bound), "without reuse a step allocates its tensors");
    }

    [Test]
    public void PooledTensorCannotBeReadAfterDispose()
    {
        var pool = new HostArrayPool();
        var t = DenseTensor.Rent(pool, 3, 5);
        t.HostData.AsSpan().Fill(1f);
        var copy = t.ToArray();
        t.Dispose();
        t.Dispose();   // a second dispose must not return the array twice
        Assert.That(() => t.HostData, Throws.TypeOf<ObjectDisposedException>());
        var a = DenseTensor.Rent(pool, 3, 5);
        var b = DenseTensor.Rent(pool, 3, 5);
        Assert.That(a.HostData, Is.Not.SameAs(b.HostData), "one array handed out twice");
        Assert.That(copy, Is.All.EqualTo(1f), "ToArray of a pooled tensor is a copy");
        var r = a.Reshaped(5, 3);
        Assert.That(() => a.HostData, Throws.TypeOf<ObjectDisposedException>(), "the reshaped tensor owns the array");
        r.Dispose();
        Assert.That(pool.RetainedBytes, Is.EqualTo(4L * 15));
    }
}
