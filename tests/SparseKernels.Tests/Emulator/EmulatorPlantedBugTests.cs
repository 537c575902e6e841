using NUnit.Framework;
using SparseKernels.Tests.Support;
using static SparseKernels.Tests.Emulator.EmulatorFixture;

namespace SparseKernels.Tests.Emulator;

/// <summary>
/// Planted bugs in the emulator's test kernels (native/emulator/tests/emu_test_kernels.cu, emu_bug_*):
/// each must fail, with a message that names what is wrong.
/// </summary>
[TestFixture]
public class EmulatorPlantedBugTests
{
    private static readonly Random s_rng = new();

    [Test]
    public void OffByOnePastTheEndOfABuffer_NamesKernelThreadAndAddress()
    {
        var device = Get();
        const int n = 64; // 256 bytes; thread 64 reads in[64]
        using var din = device.Upload(TestData.NonZeroArray(s_rng, n));
        using var dout = device.Poisoned<float>(n);
        string m = device.RunExpectingFailure("emu_bug_off_by_one", 1, 96, 0, Args(din.Pointer, dout.Pointer, n));
        Assert.That(m, Does.Contain("out-of-bounds read of 4 bytes"));
        Assert.That(m, Does.Contain("kernel 'emu_bug_off_by_one'"));
        Assert.That(m, Does.Contain("block (0,0,0) thread (64,0,0)"));
        Assert.That(m, Does.Contain($"at address {din.Pointer.Offset(256)}"));
        Assert.That(m, Does.Contain($"4 bytes past the end of a 256-byte buffer at {din.Pointer}"));
    }

    [Test]
    public void OffByOneInALaterBlock_NamesThatBlock()
    {
        var device = Get();
        const int n = 100;
        using var din = device.Upload(TestData.NonZeroArray(s_rng, n));
        using var dout = device.Poisoned<float>(n);
        string m = device.RunExpectingFailure("emu_bug_off_by_one", 4, 32, 0, Args(din.Pointer, dout.Pointer, n));
        Assert.That(m, Does.Contain("block (3,0,0) thread (4,0,0)"));
        Assert.That(m, Does.Contain("4 bytes past the end of a 400-byte buffer"));
    }

    [Test]
    public void MissingSyncthreadsBeforeSharedRead_IsReportedAsARace()
    {
        var device = Get();
        const int threads = 64;
        using var din = device.Upload(TestData.NonZeroArray(s_rng, threads));
        using var dout = device.Poisoned<float>(threads);
        string m = device.RunExpectingFailure("emu_bug_missing_syncthreads", 1, threads, 0, Args(din.Pointer, dout.Pointer));
        Assert.That(m, Does.Contain("shared-memory race in kernel 'emu_bug_missing_syncthreads' block (0,0,0)"));
        Assert.That(m, Does.Contain("static shared memory"));
        // thread 0 reads tile[1] before thread 1 writes it
        Assert.That(m, Does.Contain("thread (1,0,0) writes it, but thread (0,0,0) read it in the same barrier interval"));
    }

    [Test]
    public void ShuffleFromTheWrongLane_GivesAWrongResultAgainstTheReference()
    {
        var device = Get();
        const int n = 64;
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(2);
        var expected = new double[2];
        for (int i = 0; i < n; i++) expected[i / 32] += input[i];
        // the correct kernel matches the reference ...
        device.Run("emu_test_warp_sum", 1, n, 0, Args(din.Pointer, dout.Pointer, n));
        Approx.AssertAllClose(dout.ToArray(), expected, 1e-5, 1e-5, "warp sums");
        // ... the one that shuffles from lane + off + 1 does not
        device.Fill32(dout, TestDevice.PoisonBits);
        device.Run("emu_bug_wrong_lane", 1, n, 0, Args(din.Pointer, dout.Pointer, n));
        var e = Assert.Throws<AssertionException>(() => Approx.AssertAllClose(dout.ToArray(), expected, 1e-5, 1e-5, "warp sums (wrong lane)"))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain("warp sums (wrong lane)"));
    }

    [Test]
    public void RaceOnASharedAccumulator_IsReported()
    {
        var device = Get();
        const int threads = 32;
        using var din = device.Upload(TestData.NonZeroArray(s_rng, 2 * threads));
        using var dout = device.Poisoned<float>(2);
        string m = device.RunExpectingFailure("emu_bug_shared_accumulator", 2, threads, 0, Args(din.Pointer, dout.Pointer));
        Assert.That(m, Does.Contain("shared-memory race in kernel 'emu_bug_shared_accumulator'"));
        Assert.That(m, Does.Contain("thread (1,0,0) writes it, but thread (0,0,0) wrote it in the same barrier interval"));
    }

    [Test]
    public void SyncthreadsInDivergentCode_IsReportedNotAHang()
    {
        var device = Get();
        using var dout = device.Poisoned<float>(64);
        string m = device.RunExpectingFailure("emu_bug_divergent_syncthreads", 1, 64, 0, Args(dout.Pointer));
        Assert.That(m, Does.StartWith("divergent __syncthreads in kernel 'emu_bug_divergent_syncthreads' block (0,0,0)"));
        Assert.That(m, Does.Match(@"thread \(0,0,0\) waits at .*emu_test_kernels\.cu:\d+ but thread \(32,0,0\) waits at .*emu_test_kernels\.cu:\d+"));
    }

    [Test]
    public void ShuffleThatHalfTheWarpNeverReaches_IsADeadlock()
    {
        var device = Get();
        using var dout = device.Poisoned<float>(64);
        string m = device.RunExpectingFailure("emu_bug_shuffle_deadlock", 1, 64, 0, Args(dout.Pointer));
        Assert.That(m, Does.StartWith("deadlock in kernel 'emu_bug_shuffle_deadlock'"));
        Assert.That(m, Does.Contain("__shfl_xor_sync(mask 0xffffffff)"));
    }

    [Test]
    public void ReadPastTheDynamicSharedMemory_IsReported()
    {
        var device = Get();
        using var dout = device.Poisoned<float>(1);
        const int count = 16;
        string m = device.RunExpectingFailure("emu_bug_dynamic_shared_overflow", 1, count, count * sizeof(float), Args(dout.Pointer, count));
        Assert.That(m, Does.Contain("out-of-bounds read of 4 bytes (dynamic shared memory)"));
        Assert.That(m, Does.Contain("thread (0,0,0)"));
        Assert.That(m, Does.Contain("4 bytes past the end of the 64-byte dynamic shared memory"));
    }

    [Test]
    public void NullPointer_IsReportedNotACrash()
    {
        var device = Get();
        using var dout = device.Poisoned<float>(8);
        string m = device.RunExpectingFailure("emu_bug_use_after_free", 1, 8, 0, Args(Native.DevicePtr.Null, dout.Pointer));
        Assert.That(m, Does.Contain("out-of-bounds read of 4 bytes (not device memory) in kernel 'emu_bug_use_after_free' block (0,0,0) thread (0,0,0) at address 0x0: a null pointer"));
    }

    [Test]
    public unsafe void HostPointer_IsReportedNotACrash()
    {
        var device = Get();
        using var dout = device.Poisoned<float>(8);
        var host = GC.AllocateArray<float>(8, pinned: true);
        fixed (float* p = host)
        {
            string m = device.RunExpectingFailure("emu_bug_use_after_free", 1, 8, 0, Args(new Native.DevicePtr((ulong)p), dout.Pointer));
            Assert.That(m, Does.Contain($"at address 0x{(ulong)p:x}: the address is not in device memory"));
        }
    }

    [Test]
    public void UseAfterFree_IsReported()
    {
        var device = Get();
        var din = device.Upload(TestData.NonZeroArray(s_rng, 8));
        var address = din.Pointer;
        din.Dispose();   // parked in the device's memory pool: accesses are reported as use after free
        using var dout = device.Poisoned<float>(9);   // another size, so the pool does not hand din's block straight back
        string m = device.RunExpectingFailure("emu_bug_use_after_free", 1, 8, 0, Args(address, dout.Pointer));
        Assert.That(m, Does.Contain($"use after free: inside a 32-byte buffer at {address}"));
    }
}

[TestFixture]
public class EmulatorAssertTests
{
    [Test]
    public void FailedDeviceAssert_FailsTheLaunchNamingTheThread()
    {
        var device = Get();
        var data = Enumerable.Range(0, 40).ToArray();
        data[37] = -1; // block 1, thread 5 with 32-thread blocks
        using var din = device.Upload(data);
        string m = device.RunExpectingFailure("emu_bug_assert", 2, 32, 0, Args(din.Pointer, data.Length));
        Assert.That(m, Does.StartWith("assert(in[i] >= 0) failed in kernel 'emu_bug_assert' block (1,0,0) thread (5,0,0)"));
        Assert.That(m, Does.Contain("emu_test_kernels.cu:"));
    }
}
