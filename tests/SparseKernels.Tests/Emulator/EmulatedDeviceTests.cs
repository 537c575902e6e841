using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tests.Support;
using static SparseKernels.Tests.Emulator.EmulatorFixture;

namespace SparseKernels.Tests.Emulator;

/// <summary>The emulated device as an IDevice: memory, copies, launches, validation, device selection.</summary>
[TestFixture]
public class EmulatedDeviceTests
{
    private static readonly Random s_rng = new();

    [Test]
    public void Info()
    {
        var device = Get();
        Assert.That(device.Kind, Is.EqualTo(DeviceKind.Emulated));
        Assert.That(device.Info.Name, Is.EqualTo("Emulated device (CPU)"));
        Assert.That(device.Info.ComputeCapability, Is.EqualTo("9.0"));
        Assert.That(device.Info.WarpSize, Is.EqualTo(32));
        Assert.That(device.Info.MaxThreadsPerBlock, Is.EqualTo(1024));
        Assert.That(device.Info.MaxSharedMemoryPerBlock, Is.EqualTo(48 * 1024));
        Assert.That(device.KernelNames, Does.Contain("emu_test_shfl"));
    }

    [Test]
    public void CopiesFillAndPoisonedAllocations()
    {
        var device = Get();
        float[] data = TestData.NonZeroArray(s_rng, 37);
        using var a = device.Allocate<float>(37);
        Assert.That(a.ToArray().Select(BitConverter.SingleToUInt32Bits), Is.All.EqualTo(0xFFFFFFFFu), "new allocations are poisoned with 0xFF bytes");
        a.CopyFrom(data);
        Assert.That(a.ToArray(), Is.EqualTo(data));
        using var b = device.Allocate<float>(40);
        device.Fill32(b, TestDevice.PoisonBits);
        device.CopyDeviceToDevice(a, 5, b, 1, 10);
        var r = b.ToArray();
        Assert.That(BitConverter.SingleToUInt32Bits(r[0]), Is.EqualTo(TestDevice.PoisonBits));
        Assert.That(r[1..11], Is.EqualTo(data[5..15]));
        Assert.That(BitConverter.SingleToUInt32Bits(r[11]), Is.EqualTo(TestDevice.PoisonBits));
        var part = new float[3];
        device.CopyToHost(a, 34, part);
        Assert.That(part, Is.EqualTo(data[34..37]));
    }

    [Test]
    public void CopiesOutsideABufferThrowNamingTheSizes()
    {
        var device = Get();
        using var a = device.Allocate<float>(10);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyToDevice(new float[4], a, 8))!;
        Assert.That(e.Message, Does.Contain("4 elements at offset 8").And.Contain("10 elements"));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyToHost(a, 7, new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyDeviceToDevice(a, 0, a, 5, 6));
    }

    [Test]
    public void LaunchValidation()
    {
        var device = Get();
        using var dout = device.Allocate<float>(4);
        var e1 = Assert.Throws<KernelNotFoundException>(() => device.GetKernel("no_such_kernel"))!;
        Assert.That(e1.Message, Does.Contain("no_such_kernel").And.Contain("emu_test_shfl"));
        var k = device.GetKernel("emu_bug_use_after_free");
        var args = Args(dout.Pointer);
        var e2 = Assert.Throws<ArgumentException>(() => device.Launch(k, new LaunchConfig(1, 4), ref args))!;
        Assert.That(e2.Message, Does.Contain("takes 2 arguments but 1 were given"));
        var args2 = Args(dout.Pointer, dout.Pointer);
        // The same rules as a CUDA device (LaunchChecks), before the emulator's library is called.
        var e3 = Assert.Throws<ArgumentException>(() => device.Launch(k, new LaunchConfig(1, 2048), ref args2))!;
        Assert.That(e3.Message, Does.Contain("emu_bug_use_after_free").And.Contain("2048 threads"));
        var e4 = Assert.Throws<ArgumentException>(() => device.Launch(k, new LaunchConfig(1, 4, 64 * 1024), ref args2))!;
        Assert.That(e4.Message, Does.Contain("65536 bytes of dynamic shared memory"));
        var e5 = Assert.Throws<ArgumentException>(() => device.Launch(k, new LaunchConfig(new Dim3(1, 70000), 4), ref args2))!;
        Assert.That(e5.Message, Does.Contain("exceeds CUDA's limits"));
    }

    [Test]
    public void LaunchDoesNotAllocate()
    {
        var device = Get();
        float[] input = TestData.NonZeroArray(s_rng, 32);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(32);
        var kernel = device.GetKernel("emu_test_shfl");
        var config = new LaunchConfig(1, 32);
        var args = Args(din.Pointer, dout.Pointer, 32, 3, 1, 32);
        device.Launch(kernel, config, ref args); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) device.Launch(kernel, config, ref args);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, "bytes allocated by 10 launches");
        Assert.That(dout.ToArray()[0], Is.EqualTo(input[1]));
    }

    [Test]
    public void EventsTimeTheHostAndStreamsAreSynchronous()
    {
        var device = Get();
        using var start = device.CreateEvent();
        using var stop = device.CreateEvent();
        using var stream = device.CreateStream();
        start.Record(stream);
        Thread.Sleep(20);
        stop.Record(stream);
        stream.Synchronize();
        stop.Synchronize();
        Assert.That(stop.ElapsedMillisecondsSince(start), Is.InRange(15f, 5000f));
        var mem = device.GetMemoryInfo();
        Assert.That(mem.FreeBytes, Is.GreaterThan(0).And.LessThanOrEqualTo(mem.TotalBytes));
    }

    [Test]
    public void DevicesOpenEmulatedGivesTheSameDevice()
    {
        var device = Get();
        Assert.That(Devices.ProbeEmulated(), Is.Null);
        Assert.That(Devices.Open(DevicePreference.Emulated), Is.SameAs(device));
    }

    /// <summary>The kernel path on the shared test device (the GPU when there is one, else this emulator).</summary>
    [Test, Category("Gpu")]
    public void TestDeviceRunsAFill()
    {
        var device = TestDevice.Get();
        if (device.Kind != DeviceKind.Emulated) Assert.Ignore("The emulator's test kernels exist only on the emulated device.");
        var emu = Get();
        Assert.That(device, Is.SameAs(emu));
        float[] input = TestData.NonZeroArray(s_rng, 32);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(32);
        device.Run("emu_test_shfl", 1, 32, 0, Args(din.Pointer, dout.Pointer, 32, 0, 0, 32));
        Assert.That(dout.ToArray(), Is.All.EqualTo(input[0]));
    }
}
