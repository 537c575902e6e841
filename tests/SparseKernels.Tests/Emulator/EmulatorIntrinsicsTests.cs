using NUnit.Framework;
using SparseKernels.Tests.Support;
using static SparseKernels.Tests.Emulator.EmulatorFixture;

namespace SparseKernels.Tests.Emulator;

/// <summary>Semantics of the emulated intrinsics (shuffles, votes, atomics, barriers, shared memory) on the emulator's test kernels.</summary>
[TestFixture]
public class EmulatorIntrinsicsTests
{
    private static readonly Random s_rng = new();

    /// <summary>CUDA's documented source lane of each shuffle kind (the value's own lane when out of its width segment).</summary>
    private static int SourceLane(int kind, int lane, int param, int width)
    {
        int seg = lane & ~(width - 1);
        return kind switch
        {
            0 => seg + (param & (width - 1)),
            1 => (lane & (width - 1)) >= param ? lane - param : lane,
            2 => (lane & (width - 1)) + param < width ? lane + param : lane,
            _ => (lane ^ param) >= seg + width ? lane : lane ^ param,
        };
    }

    [TestCase(0, 5, 32, TestName = "shfl idx broadcast lane 5")]
    [TestCase(0, 3, 8, TestName = "shfl idx lane 3 width 8")]
    [TestCase(0, 37, 32, TestName = "shfl idx lane 37 wraps to 5")]
    [TestCase(1, 1, 32, TestName = "shfl up 1")]
    [TestCase(1, 3, 16, TestName = "shfl up 3 width 16")]
    [TestCase(2, 2, 32, TestName = "shfl down 2")]
    [TestCase(2, 5, 8, TestName = "shfl down 5 width 8")]
    [TestCase(3, 1, 32, TestName = "shfl xor 1")]
    [TestCase(3, 16, 32, TestName = "shfl xor 16")]
    [TestCase(3, 6, 4, TestName = "shfl xor 6 width 4 stays in segment")]
    public void Shuffle(int kind, int param, int width)
    {
        var device = Get();
        const int n = 96; // three warps over two blocks of 64 (the second block's second warp is partial in data)
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(n);
        device.Run("emu_test_shfl", 2, 64, 0, Args(din.Pointer, dout.Pointer, n, kind, param, width));
        var expected = new float[n];
        for (int i = 0; i < n; i++)
        {
            int lane = i % 32, warpBase = i - lane;
            int src = warpBase + SourceLane(kind, lane, param, width);
            expected[i] = src < n ? input[src] : 0f;
        }
        Assert.That(dout.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void ShuffleXorOneSwapsNeighbours()
    {
        var device = Get();
        float[] input = TestData.NonZeroArray(s_rng, 32);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(32);
        device.Run("emu_test_shfl", 1, 32, 0, Args(din.Pointer, dout.Pointer, 32, 3, 1, 32));
        var r = dout.ToArray();
        Assert.That(r[0], Is.EqualTo(input[1]));
        Assert.That(r[1], Is.EqualTo(input[0]));
        Assert.That(r[31], Is.EqualTo(input[30]));
    }

    [Test]
    public void PartialWarps_BroadcastWithinExistingLanes()
    {
        var device = Get();
        const int threads = 40, blocks = 2, n = threads * blocks; // each block: one full warp and one of 8 lanes
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(n);
        device.Run("emu_test_shfl", blocks, threads, 0, Args(din.Pointer, dout.Pointer, n, 0, 2, 32));
        var expected = new float[n];
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < threads; t++) expected[b * threads + t] = input[b * threads + t / 32 * 32 + 2];
        Assert.That(dout.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void WarpSumWithShuffleDownMatchesReference()
    {
        var device = Get();
        const int n = 100; // the last warp is partly past n
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(4);
        device.Run("emu_test_warp_sum", 1, 128, 0, Args(din.Pointer, dout.Pointer, n));
        var expected = new double[4];
        for (int i = 0; i < n; i++) expected[i / 32] += input[i];
        Approx.AssertAllClose(dout.ToArray(), expected, 1e-5, 1e-5, "warp sums");
    }

    [Test]
    public void Votes()
    {
        var device = Get();
        const int n = 128;
        float[] input = TestData.NonZeroArray(s_rng, n);
        for (int i = 32; i < 64; i++) input[i] = Math.Abs(input[i]);   // warp 1: all true
        for (int i = 64; i < 96; i++) input[i] = -Math.Abs(input[i]);  // warp 2: all false
        input[96] = 0.5f; input[127] = -0.5f;                            // warp 3: mixed for sure
        using var din = device.Upload(input);
        using var dout = device.Poisoned<uint>(12);
        device.Run("emu_test_vote", 2, 64, 0, Args(din.Pointer, dout.Pointer, n));
        var r = dout.ToArray();
        for (int w = 0; w < 4; w++)
        {
            uint ballot = 0;
            for (int l = 0; l < 32; l++) if (input[w * 32 + l] > 0) ballot |= 1u << l;
            Assert.That(r[w * 3], Is.EqualTo(ballot), $"ballot of warp {w}");
            Assert.That(r[w * 3 + 1], Is.EqualTo(ballot != 0 ? 1u : 0u), $"any of warp {w}");
            Assert.That(r[w * 3 + 2], Is.EqualTo(ballot == 0xFFFFFFFFu ? 1u : 0u), $"all of warp {w}");
        }
        Assert.That(r[5], Is.EqualTo(1u), "all of the all-true warp");
        Assert.That(r[7], Is.EqualTo(0u), "any of the all-false warp");
    }

    [Test]
    public void MatchAny()
    {
        var device = Get();
        const int n = 80; // warps 0 and 1 full, warp 2 half in data (its lanes past n hold 0xFFFFFFFF)
        var input = new uint[n];
        for (int i = 0; i < n; i++) input[i] = (uint)s_rng.Next(4);   // few values: many peers
        for (int i = 32; i < 64; i++) input[i] = 9u;                  // warp 1: all equal
        input[0] = 123u;                                              // a value held by one lane only
        using var din = device.Upload(input);
        using var dout = device.Poisoned<uint>(3 * n);
        device.Run("emu_test_match_any", 2, 64, 0, Args(din.Pointer, dout.Pointer, n));
        var r = dout.ToArray();
        uint At(int warp, int lane) => warp * 32 + lane < n ? input[warp * 32 + lane] : 0xFFFFFFFFu;
        for (int i = 0; i < n; i++)
        {
            int warp = i / 32, lane = i % 32;
            uint all = 0, even = 0;
            for (int q = 0; q < 32; q++)
            {
                if (At(warp, q) != input[i]) continue;
                all |= 1u << q;
                if (q % 2 == 0) even |= 1u << q;
            }
            Assert.That(r[i], Is.EqualTo(all), $"__match_any_sync(full) at {i}");
            Assert.That(r[n + i], Is.EqualTo(lane % 2 == 0 ? even : 0u), $"__match_any_sync(even lanes) at {i}");
            Assert.That(r[2 * n + i], Is.EqualTo(all), $"__match_any_sync(64-bit) at {i}");
        }
        Assert.That(r[0], Is.EqualTo(1u), "a value only lane 0 holds");
        Assert.That(r[32], Is.EqualTo(0xFFFFFFFFu), "the all-equal warp");
    }

    [Test]
    public void BitAndFloatIntrinsics()
    {
        var device = Get();
        var values = new List<uint> { 0u, 1u, 0x80000000u, 0xFFFFFFFFu, 0x00F0F000u, 0x3F800000u };
        for (int i = 0; i < 26; i++) values.Add((uint)s_rng.NextInt64(0, 1L << 32));
        uint[] input = values.ToArray();
        int n = input.Length;
        using var din = device.Upload(input);
        using var dout = device.Poisoned<uint>(8 * n);
        device.Run("emu_test_bits", 1, 64, 0, Args(din.Pointer, dout.Pointer, n));
        var r = dout.ToArray();
        for (int i = 0; i < n; i++)
        {
            uint x = input[i];
            uint rev = 0;
            for (int b = 0; b < 32; b++) if ((x >> b & 1) != 0) rev |= 1u << (31 - b);
            string at = $"x = 0x{x:x8}";
            Assert.That(r[8 * i + 0], Is.EqualTo((uint)System.Numerics.BitOperations.PopCount(x)), "__popc " + at);
            Assert.That(r[8 * i + 1], Is.EqualTo((uint)System.Numerics.BitOperations.LeadingZeroCount(x)), "__clz " + at);
            Assert.That(r[8 * i + 2], Is.EqualTo(x == 0 ? 0u : (uint)System.Numerics.BitOperations.TrailingZeroCount(x) + 1), "__ffs " + at);
            Assert.That(r[8 * i + 3], Is.EqualTo(rev), "__brev " + at);
            Assert.That(r[8 * i + 4], Is.EqualTo(x), "__float_as_uint(__uint_as_float) " + at);
            Assert.That(r[8 * i + 5], Is.EqualTo(2u * (uint)System.Numerics.BitOperations.PopCount(x)), "__popcll " + at);
            Assert.That(r[8 * i + 6], Is.EqualTo((uint)Math.Max((int)x, -5)), "max(int,int) " + at);
            float f = BitConverter.Int32BitsToSingle((int)(x & 0x3FFFFFFFu));
            Assert.That(r[8 * i + 7], Is.EqualTo(BitConverter.SingleToUInt32Bits(MathF.Min(f, 1.5f))), "fminf " + at);
        }
    }

    [Test]
    public void AtomicsUnderContention()
    {
        var device = Get();
        const int blocks = 4, threads = 64, n = blocks * threads;
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var ints = device.Upload(new[] { 0, 0, int.MaxValue, int.MinValue, 0, 0, 0, 0 });
        using var floats = device.Upload(new[] { 0f });
        using var doubles = device.Upload(new[] { 0.0 });
        using var ulls = device.Upload(new ulong[] { 0, 0 });
        device.Run("emu_test_atomics", blocks, threads, 0, Args(din.Pointer, ints.Pointer, floats.Pointer, doubles.Pointer, ulls.Pointer, n));
        var ri = ints.ToArray();
        Assert.That(ri[0], Is.EqualTo(n), "atomicAdd int");
        Assert.That(ri[1], Is.EqualTo(-2 * n), "atomicSub int");
        Assert.That(ri[2], Is.EqualTo(0), "atomicMin int");
        Assert.That(ri[3], Is.EqualTo(n - 1), "atomicMax int");
        Assert.That(ri[4], Is.EqualTo(1), "exactly one atomicCAS claim succeeds");
        Assert.That(ri[5], Is.InRange(1, n), "the CAS target holds the winner's id");
        Assert.That(ri[6], Is.EqualTo(7), "atomicExch");
        double sum = input.Sum(x => (double)x);
        Approx.AssertAllClose(floats.ToArray(), new[] { sum }, 1e-4, 1e-4, "atomicAdd float");
        Assert.That(doubles.ToArray()[0], Is.EqualTo(sum).Within(1e-9), "atomicAdd double");
        Assert.That(ulls.ToArray(), Is.EqualTo(new ulong[] { 3UL * n, n - 1 }), "atomicAdd / atomicMax unsigned long long");
    }

    [Test]
    public void SyncthreadsOrdersSharedMemory_ReverseAndTreeReduction()
    {
        var device = Get();
        const int blocks = 3, threads = 64, n = blocks * threads;
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(n);
        using var sums = device.Poisoned<float>(blocks);
        device.Run("emu_test_reverse_reduce", blocks, threads, 0, Args(din.Pointer, dout.Pointer, sums.Pointer));
        var expected = new float[n];
        var expectedSums = new double[blocks];
        for (int b = 0; b < blocks; b++)
            for (int t = 0; t < threads; t++)
            {
                expected[b * threads + t] = input[b * threads + threads - 1 - t];
                expectedSums[b] += input[b * threads + t];
            }
        Assert.That(dout.ToArray(), Is.EqualTo(expected));
        Approx.AssertAllClose(sums.ToArray(), expectedSums, 1e-5, 1e-5, "block sums");
    }

    [Test]
    public void EachBlockHasIndependentPoisonedStaticSharedMemory()
    {
        var device = Get();
        const int gx = 4, gy = 2, threads = 32;
        using var seen = device.Poisoned<int>(gx * gy * threads);
        using var poisoned = device.Poisoned<int>(gx * gy);
        device.Run("emu_test_block_shared", new Native.Dim3(gx, gy), threads, 0, Args(seen.Pointer, poisoned.Pointer));
        var r = seen.ToArray();
        for (int by = 0; by < gy; by++)
            for (int bx = 0; bx < gx; bx++)
                for (int t = 0; t < threads; t++)
                    Assert.That(r[(by * gx + bx) * threads + t], Is.EqualTo(bx * 1000 + by), $"block ({bx},{by}) thread {t}");
        Assert.That(poisoned.ToArray(), Is.All.EqualTo(1), "static shared memory reads 0xFF bytes at block start");
    }

    [TestCase(100, 32)]
    [TestCase(7, 64)]
    [TestCase(1, 1)]
    public void DynamicSharedMemoryOfTheLaunchSize(int count, int threads)
    {
        var device = Get();
        const int blocks = 3;
        float[] input = TestData.NonZeroArray(s_rng, blocks * count);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(blocks * count);
        device.Run("emu_test_dynamic_shared", blocks, threads, count * sizeof(float), Args(din.Pointer, dout.Pointer, count));
        var expected = new float[blocks * count];
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < count; j++) expected[b * count + j] = input[b * count + count - 1 - j];
        Assert.That(dout.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void SyncthreadsCountAndOr_In2DBlocks()
    {
        var device = Get();
        const int blocks = 3, bx = 8, by = 4, per = bx * by;
        float[] input = TestData.NonZeroArray(s_rng, blocks * per);
        for (int i = 0; i < per; i++) { input[i] = Math.Abs(input[i]); input[per + i] = -Math.Abs(input[per + i]); }
        input[2 * per] = 1f; input[2 * per + 1] = -1f;
        using var din = device.Upload(input);
        using var dout = device.Poisoned<int>(blocks * 3);
        device.Run("emu_test_sync_ops", blocks, new Native.Dim3(bx, by), 0, Args(din.Pointer, dout.Pointer));
        var r = dout.ToArray();
        for (int b = 0; b < blocks; b++)
        {
            int count = input.Skip(b * per).Take(per).Count(x => x > 0);
            Assert.That(r[b * 3], Is.EqualTo(count), $"__syncthreads_count block {b}");
            Assert.That(r[b * 3 + 1], Is.EqualTo(count == per ? 1 : 0), $"__syncthreads_and block {b}");
            Assert.That(r[b * 3 + 2], Is.EqualTo(count > 0 ? 1 : 0), $"__syncthreads_or block {b}");
        }
    }

    [Test]
    public void ThreadsThatExitBeforeABarrierCountAsArrived()
    {
        var device = Get();
        const int n = 100; // the second block has 36 live threads of 64
        float[] input = TestData.NonZeroArray(s_rng, n);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(n);
        device.Run("emu_test_early_exit_then_barrier", 2, 64, 0, Args(din.Pointer, dout.Pointer, n));
        var expected = new float[n];
        for (int i = 0; i < n; i++)
        {
            int b = i / 64, t = i % 64, last = Math.Min(64, n - b * 64) - 1;
            expected[i] = input[b * 64 + last - t];
        }
        Assert.That(dout.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void WarpSynchronousSharedReductionWithSyncwarpIsNotARace()
    {
        var device = Get();
        const int blocks = 2, threads = 64;
        float[] input = TestData.NonZeroArray(s_rng, blocks * threads);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(blocks * 2);
        device.Run("emu_test_warp_reduce_shared", blocks, threads, 0, Args(din.Pointer, dout.Pointer));
        var expected = new double[blocks * 2];
        for (int i = 0; i < input.Length; i++) expected[i / 32] += input[i];
        Approx.AssertAllClose(dout.ToArray(), expected, 1e-5, 1e-5, "warp sums through shared memory");
    }
}

/// <summary>Literal <c>extern __shared__ T name[]</c> declarations (native/emulator/tests/emu_test_extern_shared.cu).</summary>
[TestFixture]
public class EmulatorExternSharedTests
{
    private static readonly Random s_rng = new();

    [TestCase(50, 32)]
    [TestCase(3, 8)]
    public void LiteralExternSharedArraysAliasTheDynamicSharedMemory(int count, int threads)
    {
        var device = Get();
        const int blocks = 2;
        float[] input = TestData.NonZeroArray(s_rng, blocks * count);
        using var din = device.Upload(input);
        using var dout = device.Poisoned<float>(blocks * count);
        device.Run("emu_test_extern_shared", blocks, threads, count * sizeof(float), Args(din.Pointer, dout.Pointer, count));
        var expected = new float[blocks * count];
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < count; j++) expected[b * count + j] = input[b * count + count - 1 - j];
        Assert.That(dout.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void WritePastTheLaunchSizeThroughALiteralExternArray_IsReported()
    {
        var device = Get();
        const int count = 8;
        string m = device.RunExpectingFailure("emu_bug_extern_shared_overflow", 1, 4, count * sizeof(float), Args(count));
        Assert.That(m, Does.Contain("out-of-bounds write of 4 bytes (dynamic shared memory) in kernel 'emu_bug_extern_shared_overflow' block (0,0,0) thread (0,0,0)"));
        Assert.That(m, Does.Contain("4 bytes past the end of the 32-byte dynamic shared memory"));
    }
}
