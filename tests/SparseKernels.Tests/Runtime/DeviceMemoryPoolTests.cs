using System.Runtime.CompilerServices;
using NUnit.Framework;
using SparseKernels.Runtime;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Runtime;

/// <summary>The devices' caching allocator: exact-size reuse, poison on reuse (emulated), release, disable, leaked buffers.</summary>
[Category("Gpu")]
public class DeviceMemoryPoolTests
{
    /// <summary>A device object of its own (its own pool), of the test device's kind.</summary>
    private static (IDevice Device, DeviceMemoryPool Pool) OwnDevice()
    {
        var shared = TestDevice.Get();
        if (shared.Kind == DeviceKind.Cuda)
        {
            var c = CudaDevice.Open(shared.Info.Ordinal);
            return (c, c.MemoryPool);
        }
        var e = new EmulatedDevice();
        return (e, e.MemoryPool);
    }

    [Test]
    public void AFreedBlock_IsReusedForTheSameSizeOnly()
    {
        var (device, pool) = OwnDevice();
        using var _ = device;
        var a = device.Allocate<float>(1000);
        ulong address = a.Pointer.Address;
        a.Dispose();
        var s0 = pool.Statistics;
        Assert.That(s0.CachedBytes, Is.EqualTo(4000));
        using var b = device.Allocate<float>(1000);
        Assert.That(b.Pointer.Address, Is.EqualTo(address), "the same size reuses the cached block");
        using var c = device.Allocate<float>(1001);
        Assert.That(c.Pointer.Address, Is.Not.EqualTo(address));
        var s1 = pool.Statistics;
        Assert.That(s1.DriverAllocations - s0.DriverAllocations, Is.EqualTo(1), "only the new size went to the driver");
        Assert.That(s1.Reuses - s0.Reuses, Is.EqualTo(1));
        Assert.That(s1.InUseBytes, Is.EqualTo(4000 + 4004));
    }

    [Test]
    public void AReusedBlock_ReadsAsNeverWritten_OnTheEmulatedDevice()
    {
        var (device, _) = OwnDevice();
        using var __ = device;
        if (device.Kind != DeviceKind.Emulated) Assert.Ignore("Poisoning reused blocks is an emulated-device check.");
        var a = device.Allocate<byte>(7);
        a.CopyFrom(new byte[] { 1, 2, 3, 4, 5, 6, 7 });
        a.Dispose();
        using var b = device.Allocate<byte>(7);
        Assert.That(b.ToArray(), Is.All.EqualTo((byte)0xFF), "a reused block is poisoned like fresh device memory");
    }

    [Test]
    public void ReleaseCached_AndDisabling_GiveBlocksBackToTheDriver()
    {
        var (device, pool) = OwnDevice();
        using var _ = device;
        device.Allocate<int>(256).Dispose();
        device.Allocate<int>(512).Dispose();
        var s0 = pool.Statistics;
        Assert.That(s0.CachedBytes, Is.EqualTo(3072));
        pool.ReleaseCached();
        var s1 = pool.Statistics;
        Assert.That(s1.CachedBytes, Is.Zero);
        Assert.That(s1.DriverFrees - s0.DriverFrees, Is.EqualTo(2));

        pool.Enabled = false;
        device.Allocate<int>(256).Dispose();
        var s2 = pool.Statistics;
        Assert.That(s2.CachedBytes, Is.Zero, "a disabled pool keeps nothing");
        Assert.That(s2.DriverFrees - s1.DriverFrees, Is.EqualTo(1));
    }

    [Test]
    public void ALeakedBuffer_ReturnsItsBlockThroughTheFinalizer()
    {
        var (device, pool) = OwnDevice();
        using var _ = device;
        long before = pool.Statistics.InUseBytes;
        Leak(device);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var s = pool.Statistics;
        Assert.That(s.InUseBytes, Is.EqualTo(before));
        Assert.That(s.CachedBytes, Is.GreaterThanOrEqualTo(4096));
        using var again = device.Allocate<float>(1024);
        Assert.That(pool.Statistics.Reuses, Is.EqualTo(s.Reuses + 1), "the finalized buffer's block is reused");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Leak(IDevice device) => device.Allocate<float>(1024);

    [Test]
    public void DisposingTheDevice_FreesTheCache_AndLaterReturnsGoToTheDriver()
    {
        var (device, pool) = OwnDevice();
        var live = device.Allocate<float>(64);
        device.Allocate<float>(32).Dispose();
        device.Dispose();
        Assert.That(pool.Statistics.CachedBytes, Is.Zero);
        long frees = pool.Statistics.DriverFrees;
        live.Dispose();
        Assert.That(pool.Statistics.DriverFrees, Is.EqualTo(frees + 1));
        Assert.That(pool.Statistics.CachedBytes, Is.Zero);
    }
}
