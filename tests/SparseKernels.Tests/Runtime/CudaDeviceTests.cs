using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tests.Bindings;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Runtime;

/// <summary>The CUDA device: the no-device path (runs everywhere) and the real-GPU behaviour ([Category("Gpu")]).</summary>
[TestFixture]
public class CudaDeviceTests
{
    [Test]
    public void WithoutAUsableGpu_ProbeGivesTheReason_AndOpenThrowsIt()
    {
        string? why = Devices.ProbeCuda();
        if (why is null) Assert.Ignore("A CUDA device is usable here; the no-device path cannot be observed.");
        Assert.That(why, Is.Not.Empty);
        Assert.That(why, Does.Contain("cuInit").Or.Contain("could not be loaded").Or.Contain("no CUDA devices").Or.Contain("driver"));
        var e = Assert.Throws<CudaUnavailableException>(() => Devices.OpenCuda(0))!;
        Assert.That(e.Message, Is.EqualTo(why));
        var e2 = Assert.Throws<CudaUnavailableException>(() => Devices.Open(DevicePreference.Cuda))!;
        Assert.That(e2.Message, Is.EqualTo(why));
        // Asking again gives the same answer (the driver is initialised once per process), never a crash.
        Assert.That(Devices.ProbeCuda(), Is.EqualTo(why));
    }

    [Test]
    public void OnThisKindOfMachine_CuInitFailureIsNamed()
    {
        // The build machine has libcuda.so.1 but no GPU or kernel module: cuInit itself fails.
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out _)) Assert.Ignore("libcuda.so.1 is not installed here.");
        string? why = Devices.ProbeCuda();
        if (why is null) Assert.Ignore("A CUDA device is usable here.");
        if (CudaDriver.TryDriverVersion(out _) is int v && v >= CudaDriver.MinimumDriverVersion)
            Assert.That(why, Does.StartWith("cuInit failed with CUDA_ERROR_").Or.Contain("no CUDA devices"));
    }

    [Test, Category("Gpu")]
    public void Properties_AreThoseOfARealGpu()
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        var i = device.Info;
        TestContext.Out.WriteLine(device.ToString());
        Assert.That(device.Kind, Is.EqualTo(DeviceKind.Cuda));
        Assert.That(i.Name, Is.Not.Empty);
        Assert.That(i.ComputeCapabilityMajor, Is.InRange(3, 20));
        Assert.That(i.ComputeCapabilityMinor, Is.InRange(0, 9));
        Assert.That(i.MultiprocessorCount, Is.GreaterThan(0));
        Assert.That(i.WarpSize, Is.EqualTo(32));
        Assert.That(i.MaxThreadsPerBlock, Is.GreaterThanOrEqualTo(512));
        Assert.That(i.MaxSharedMemoryPerBlock, Is.GreaterThanOrEqualTo(16 * 1024));
        Assert.That(i.DriverVersion, Is.GreaterThanOrEqualTo(CudaDriver.MinimumDriverVersion));
        var mem = device.GetMemoryInfo();
        Assert.That(mem.TotalBytes, Is.EqualTo(i.TotalMemoryBytes));
        Assert.That(mem.FreeBytes, Is.InRange(1, mem.TotalBytes));
        Assert.That(device.Stream, Is.InstanceOf<CudaStream>());
    }

    [Test, Category("Gpu")]
    public void AllocateAndFree_InALoop_LeavesFreeMemoryWhereItStarted()
    {
        var device = TestDevice.GetCuda();
        const long Bytes = 64L << 20;
        Settle(device);
        long before = device.GetMemoryInfo().FreeBytes;
        using (var big = device.Allocate<byte>(4 * Bytes))
        {
            long during = device.GetMemoryInfo().FreeBytes;
            Assert.That(before - during, Is.GreaterThanOrEqualTo(4 * Bytes), "a 256 MiB allocation must show in the free memory");
        }
        for (int i = 0; i < 50; i++)
        {
            using var b = device.Allocate<float>(Bytes / 4 + i);
            Assert.That(b.Pointer.IsNull, Is.False);
        }
        Settle(device);
        long after = device.GetMemoryInfo().FreeBytes;
        Assert.That(Math.Abs(after - before), Is.LessThanOrEqualTo(4L << 20), $"free memory before {before}, after {after}");
    }

    /// <summary>
    /// Frees what earlier tests left to the finalizer (buffers they did not dispose free themselves there) and waits
    /// for the device, so the free-memory readings compare this test's allocations only.
    /// </summary>
    private static void Settle(IDevice device)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        device.Synchronize();
    }

    [Test, Category("Gpu")]
    public void ZeroLengthBuffer_IsUsableAndFreesCleanly()
    {
        var device = TestDevice.GetCuda();
        using var b = device.Allocate<float>(0);
        Assert.That(b.Length, Is.EqualTo(0));
        b.CopyFrom(ReadOnlySpan<float>.Empty);
        Assert.That(b.ToArray(), Is.Empty);
        device.Fill32(b, TestDevice.PoisonBits);
    }

    [Test, Category("Gpu")]
    public void HostDeviceHost_RoundTrips_WithOffsets([Values(1, 1037, 1 << 20)] int n)
    {
        var device = TestDevice.GetCuda();
        var rng = new Random(n);
        float[] data = TestData.NonZeroArray(rng, n);
        using var d = device.Allocate<float>(n + 7);
        device.Fill32(d, TestDevice.PoisonBits);
        d.CopyFrom(data, 3);
        var back = new float[n];
        d.CopyTo(back, 3);
        Assert.That(back, Is.EqualTo(data));
        // The untouched slots keep the poison.
        var all = d.ToArray();
        Assert.That(float.IsNaN(all[0]) && float.IsNaN(all[2]) && float.IsNaN(all[n + 3]) && float.IsNaN(all[n + 6]), Is.True);

        var ints = Enumerable.Range(0, n).Select(i => i * 7 - 3).ToArray();
        using var di = device.Allocate<int>(n);
        di.CopyFrom(ints);
        Assert.That(di.ToArray(), Is.EqualTo(ints));
    }

    [Test, Category("Gpu")]
    public void DeviceToDevice_CopiesTheRangeAsked()
    {
        var device = TestDevice.GetCuda();
        var rng = new Random(5);
        float[] data = TestData.NonZeroArray(rng, 999);
        using var src = device.Allocate<float>(999);
        using var dst = device.Allocate<float>(1000);
        src.CopyFrom(data);
        device.Fill32(dst, TestDevice.PoisonBits);
        device.CopyDeviceToDevice(src, 10, dst, 1, 500);
        var got = dst.ToArray();
        Assert.That(float.IsNaN(got[0]), Is.True);
        Assert.That(got.AsSpan(1, 500).ToArray(), Is.EqualTo(data.AsSpan(10, 500).ToArray()));
        Assert.That(got.Skip(501).All(float.IsNaN), Is.True);
    }

    [Test, Category("Gpu")]
    public void Fill32_PoisonsEveryWord()
    {
        var device = TestDevice.GetCuda();
        using var b = device.Allocate<float>(4099);
        b.CopyFrom(TestData.NonZeroArray(new Random(1), 4099));
        device.Fill32(b, TestDevice.PoisonBits);
        Assert.That(b.ToArray().All(float.IsNaN), Is.True);
        using var u = device.Allocate<uint>(33);
        device.Fill32(u, 0xDEADBEEFu);
        Assert.That(u.ToArray(), Is.All.EqualTo(0xDEADBEEFu));
        using var odd = device.Allocate<short>(3);
        Assert.Throws<ArgumentException>(() => device.Fill32(odd, 0));
    }

    [Test, Category("Gpu")]
    public void Copies_OutOfRange_ThrowNamingTheRange()
    {
        var device = TestDevice.GetCuda();
        using var b = device.Allocate<float>(10);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.CopyFrom(new float[8], 3))!;
        Assert.That(e.Message, Does.Contain("[3, 11)").And.Contain("10 elements"));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.CopyTo(new float[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyDeviceToDevice(b, 5, b, 0, 6));
    }

    [Test, Category("Gpu")]
    public void StreamsAndEvents_TimeWork()
    {
        var device = TestDevice.GetCuda();
        using var stream = device.CreateStream();
        using var start = device.CreateEvent();
        using var end = device.CreateEvent();
        const long N = 64L << 20;
        using var a = device.Allocate<float>(N);
        using var b = device.Allocate<float>(N);
        device.Fill32(a, 0x3F800000u);
        start.Record();
        for (int i = 0; i < 4; i++) device.CopyDeviceToDevice(a, 0, b, 0, N);
        end.Record();
        end.Synchronize();
        float ms = end.ElapsedMillisecondsSince(start);
        TestContext.Out.WriteLine($"4 x 256 MiB device copies: {ms:F3} ms");
        Assert.That(ms, Is.GreaterThan(0f).And.LessThan(10_000f));
        var head = new float[10];
        b.CopyTo(head, N - 10);
        Assert.That(head, Is.All.EqualTo(1f));

        start.Record(stream);
        end.Record(stream);
        stream.Synchronize();
        Assert.That(end.ElapsedMillisecondsSince(start), Is.GreaterThanOrEqualTo(0f));
        Assert.That(stream.Device, Is.SameAs(device));
    }

    [Test, Category("Gpu")]
    public void SeparateDevice_DisposesModulesStreamAndContext_BuffersOutliveIt()
    {
        TestDevice.GetCuda();
        var own = CudaDevice.Open(0);
        var module = own.LoadPtx(TestPtx.Axpy, "test_axpy");
        var buffer = own.Allocate<float>(100);
        buffer.CopyFrom(Enumerable.Repeat(2f, 100).ToArray());
        own.Dispose();
        Assert.That(module.IsDisposed, Is.True);
        Assert.Throws<ObjectDisposedException>(() => own.Allocate<float>(1));
        Assert.DoesNotThrow(() => buffer.Dispose()); // freed in its (still retained) context
        Assert.That(buffer.IsDisposed, Is.True);
        Assert.DoesNotThrow(() => own.Dispose());
    }

    [Test, Category("Gpu")]
    public void OpenCuda_BadOrdinal_SaysHowManyDevicesThereAre()
    {
        TestDevice.GetCuda();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CudaDevice.Open(1000))!;
        Assert.That(e.Message, Does.Contain("1000").And.Contain("device(s)"));
    }
}
