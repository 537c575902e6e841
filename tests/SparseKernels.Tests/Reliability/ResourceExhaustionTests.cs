using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Reliability;

/// <summary>Resource exhaustion (issue 17): device out-of-memory is a named exception with the bytes asked and the bytes
/// free (tested on the emulated device with a capped pool and with its arena exhausted); host allocations sized by user
/// input (a training run, an IDX file, a .smtx file) are refused before allocating when they exceed the stated limit.</summary>
[NonParallelizable]
public class ResourceExhaustionTests
{
    [TearDown]
    public void TearDown() => HostMemory.SetLimitForTests(null);

    private static EmulatedDevice OwnEmulatedDevice()
    {
        var shared = TestDevice.Get();
        if (shared.Kind != DeviceKind.Emulated && Devices.ProbeEmulated() is string why) Assert.Ignore($"needs the emulated device: {why}");
        return new EmulatedDevice();
    }

    [Test]
    [Category("Gpu")]
    public void ACappedPool_RefusesWithBytesAskedAndFree_AndGivesItsCacheBackFirst()
    {
        using var device = OwnEmulatedDevice();
        device.MemoryPool.LimitBytes = 1 << 20;
        using var a = device.Allocate<float>(128 * 1024);   // 512 KiB of the 1 MiB
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => device.Allocate<float>(192 * 1024))!;   // 768 KiB more
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.RequestedBytes, Is.EqualTo(768 * 1024));
        Assert.That(e.FreeBytes, Is.EqualTo(512 * 1024));
        Assert.That(e.LimitBytes, Is.EqualTo(1 << 20));
        Assert.That(e.DeviceName, Is.EqualTo(device.Info.Name));
        Assert.That(e.Message, Does.Contain("786,432 bytes").And.Contain("196,608 x Single").And.Contain("524,288 bytes free")
            .And.Contain(DeviceMemoryPool.LimitVariable));
        Assert.That(e, Is.InstanceOf<OutOfMemoryException>(), "code that handles running out of memory handles it");
        Assert.That(device.MemoryPool.Statistics.InUseBytes, Is.EqualTo(512 * 1024), "nothing was allocated");
        Figures.Record("oom", new() { ["case"] = "device pool capped at 1 MiB (emulated)", ["message"] = e.Message });

        // A cached block counts against the limit but is given back before refusing.
        a.Dispose();
        Assert.That(device.MemoryPool.Statistics.CachedBytes, Is.EqualTo(512 * 1024));
        using var b = device.Allocate<float>(192 * 1024);
        Assert.That(device.MemoryPool.Statistics.CachedBytes, Is.Zero);
        Assert.That(device.MemoryPool.Statistics.ReservedBytes, Is.LessThanOrEqualTo(1 << 20));
    }

    [Test]
    [Category("Gpu")]
    public void AnExhaustedDevice_IsANamedExceptionWithTheDriversFreeBytes()
    {
        using var device = OwnEmulatedDevice();
        long free = device.GetMemoryInfo().FreeBytes;
        long ask = device.GetMemoryInfo().TotalBytes * 2;   // more than the emulated arena holds
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => device.Allocate<byte>(ask))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.RequestedBytes, Is.EqualTo(ask));
        Assert.That(e.LimitBytes, Is.Null, "the driver (the emulator's arena) ran out, not the pool's limit");
        Assert.That(e.FreeBytes, Is.InRange(free - (64L << 20), free + (64L << 20)), "the driver's free bytes");
        Assert.That(e.Message, Does.Contain($"{ask:N0} bytes").And.Contain("bytes free"));
        Figures.Record("oom", new() { ["case"] = "emulated device's arena exhausted", ["message"] = e.Message });
    }

    [Test]
    public void TheLimitVariable_AcceptsBytesAndSuffixes_AndNamesItselfWhenWrong()
    {
        Assert.That(DeviceMemoryPool.ParseLimit("1048576"), Is.EqualTo(1L << 20));
        Assert.That(DeviceMemoryPool.ParseLimit("64K"), Is.EqualTo(64L << 10));
        Assert.That(DeviceMemoryPool.ParseLimit("3g"), Is.EqualTo(3L << 30));
        Assert.That(DeviceMemoryPool.ParseLimit(" "), Is.Null);
        foreach (var bad in new[] { "-1", "0", "1.5G", "lots", "99999999999999999999", "9999999999999G" })
            Assert.That(() => DeviceMemoryPool.ParseLimit(bad),
                        Throws.ArgumentException.With.Message.Contain(DeviceMemoryPool.LimitVariable), bad);
    }

    [Test]
    [Category("Gpu")]
    public void ATrainingRunOnACappedDevice_StopsWithTheNamedException()
    {
        using var device = OwnEmulatedDevice();
        device.MemoryPool.LimitBytes = 64 * 1024;
        using var backend = new DeviceTensorBackend(device);
        var (train, test) = WorkedValuesTests.Synthetic(features: 64, classes: 4, count: 64);
        var e = Assert.Throws<DeviceOutOfMemoryException>(() =>
        {
            using var run = new TrainingRun(new RunOptions { Layers = [64, 256, 4], Epochs = 1, BatchSize = 32 }, backend, train, test);
            run.Run();
        })!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.RequestedBytes, Is.GreaterThan(e.FreeBytes));
    }

    [Test]
    public void AHugeTrainingRun_IsRefusedBeforeAllocating_WithTheSizeAndTheLimit()
    {
        var (train, test) = WorkedValuesTests.Synthetic(count: 64);
        HostMemory.SetLimitForTests(1L << 30);
        foreach (var options in new[]
        {
            new RunOptions { Layers = [24, 1_000_000_000, 4] },
            new RunOptions { Layers = [24, 2_000_000, 4] },                    // each matrix fits an array; together too big
            new RunOptions { Layers = [24, 16, 4], BatchSize = 100_000_000 },   // the batch's activations
            new RunOptions { Layers = [24, 4_000_000, 4], Sparsity = [0.5, 0], Optimizer = "adam" },
        })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<HostMemoryLimitException>(
                () => new TrainingRun(options, CpuTensorBackend.Instance, train, test).Dispose())!;
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            TestContext.Out.WriteLine($"{e.Message} (allocated {allocated} bytes)");
            Assert.That(e.LimitBytes, Is.EqualTo(1L << 30));
            Assert.That(e.RequestedBytes, Is.GreaterThan(1L << 30));
            Assert.That(e.Message, Does.Contain($"{e.RequestedBytes:N0} bytes").And.Contain("1,073,741,824 bytes")
                .And.Contain(HostMemory.LimitVariable));
            Assert.That(allocated, Is.LessThan(16 << 20), "refused before allocating");
        }
        // A run within the limit still trains.
        using var ok = new TrainingRun(new RunOptions { Layers = [24, 16, 4], Epochs = 1, BatchSize = 32 },
                                       CpuTensorBackend.Instance, train, test);
        Assert.That(ok.Run(), Has.Count.EqualTo(1));
    }

    [Test]
    public void TheCli_RefusesAHugeModel_WithExit2AndTheSize()
    {
        KillSafetyTests.NeedFashionMnist();
        var (exit, output) = CliRunner.Run(null, "train", "--layers", "784-1000000000-10", "--epochs", "1", "--device", "cpu",
                                           "--train-limit", "64", "--test-limit", "64", "--data", TestData.FashionMnistFolder);
        TestContext.Out.WriteLine(output);
        Assert.That(exit, Is.EqualTo(2), output);
        Figures.Record("oom", new()
        {
            ["case"] = "CLI train --layers 784-1000000000-10 (exit 2)",
            ["message"] = string.Join(" ", output[output.IndexOf("train:", StringComparison.Ordinal)..].Split("\n").Select(l => l.Trim())),
        });
        Assert.That(output, Does.Contain("784-1000000000-10").And.Contain("bytes").And.Contain("limit")
            .And.Contain("nothing was allocated"));
    }

    [Test]
    public void MatrixAndDatasetFiles_AboveTheLimit_AreRefusedBeforeAllocating()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sk-limit-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string smtx = Path.Combine(dir, "m.smtx");
            File.WriteAllText(smtx, "3, 4, 3\n0 1 2 3\n0 1 2\n");
            HostMemory.SetLimitForTests(20);
            var e = Assert.Throws<HostMemoryLimitException>(() => SmtxFile.Read(smtx))!;
            Assert.That(e.Message, Does.Contain(smtx).And.Contain("40 bytes"));
            HostMemory.SetLimitForTests(null);
            Assert.That(SmtxFile.Read(smtx).Nnz, Is.EqualTo(3));

            KillSafetyTests.NeedFashionMnist();
            HostMemory.SetLimitForTests(1 << 20);
            var f = Assert.Throws<HostMemoryLimitException>(
                () => SparseKernels.Training.FashionMnist.LoadSplit(TestData.FashionMnistFolder, "t10k"))!;
            TestContext.Out.WriteLine(f.Message);
            Assert.That(f.Message, Does.Contain("t10k-images-idx3-ubyte.gz").And.Contain("10000 x 28 x 28")
                .And.Contain("39,200,000 bytes"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
