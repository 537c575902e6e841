using System.IO.Compression;
using System.Security.Cryptography;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Tests.Reliability;

/// <summary>Corrupt files (issue 17): typed exceptions naming the file, the position and what is wrong; a header claiming
/// huge sizes is refused before anything of that size is allocated.</summary>
public class CorruptFileTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "sk-corrupt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    internal static byte[] GoodCheckpoint(string dir)
    {
        var (train, test) = WorkedValuesTests.Synthetic(count: 64);
        var opts = new RunOptions { Layers = [24, 16, 4], Sparsity = [0.5, 0], Epochs = 1, BatchSize = 32, OutputFolder = dir };
        using (var run = new TrainingRun(opts, CpuTensorBackend.Instance, train, test)) run.Run();
        return File.ReadAllBytes(Path.Combine(dir, TrainingRun.CheckpointFile));
    }

    internal static void LoadCheckpoint(string path)
    {
        var (model, _) = Checkpoint.Load(path, CpuTensorBackend.Instance, [24, 16, 4], null, new SgdOptimizer(), new TrainRng(0));
        model.Dispose();
    }

    /// <summary>The payload with a correct length and checksum, so the parser behind the checksum is what is tested.</summary>
    internal static byte[] Resealed(byte[] header, ReadOnlySpan<byte> payload)
    {
        var f = new byte[52 + payload.Length];
        header.AsSpan(0, 12).CopyTo(f);
        BitConverter.GetBytes((long)payload.Length).CopyTo(f, 12);
        SHA256.HashData(payload).CopyTo(f, 20);
        payload.CopyTo(f.AsSpan(52));
        return f;
    }

    [Test]
    public void CheckpointFaultsAreTypedAndNameFilePositionAndProblem()
    {
        byte[] good = GoodCheckpoint(_dir);
        string path = Path.Combine(_dir, "c.bin");
        CheckpointException Fail(byte[] bytes)
        {
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<CheckpointException>(() => LoadCheckpoint(path))!;
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.Message, Does.Contain(path));
            return e;
        }
        Assert.That(Fail(good[..30]).Message, Does.Contain("header"));
        Assert.That(Fail(good[..(good.Length - 7)]).Message, Does.Contain("truncated").And.Contain($"{good.Length - 52 - 7}"));
        var flipped = (byte[])good.Clone();
        flipped[good.Length / 2] ^= 0x10;
        Assert.That(Fail(flipped).Message, Does.Contain("checksum"));
        var version = (byte[])good.Clone();
        BitConverter.GetBytes(99).CopyTo(version, 8);
        Assert.That(Fail(version).Message, Does.Contain("version 99").And.Contain("at byte 8"));
        var huge = (byte[])good.Clone();
        BitConverter.GetBytes(long.MaxValue / 2).CopyTo(huge, 12);
        Assert.That(Fail(huge).Message, Does.Contain("truncated or padded"));
        // Behind a valid checksum: the first layer's first array length claims 2^30 elements.
        var payload = good.AsSpan(52).ToArray();
        int at = payload.Length - 1;
        for (int i = 0; i + 4 < payload.Length; i++)
            if (payload[i] == 1 && BitConverter.ToInt32(payload, i + 1) == 17) { at = i + 1; break; }   // sparse flag, 16 + 1 row offsets
        BitConverter.GetBytes(1 << 30).CopyTo(payload, at);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Fail(Resealed(good, payload));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(16L << 20), "refused before allocating 4 GiB");
        Assert.That(e.Message, Does.Contain($"an array of {1 << 30} elements").And.Contain("at byte"));
        // Another model.
        File.WriteAllBytes(path, good);
        var m = Assert.Throws<CheckpointException>(() =>
            Checkpoint.Load(path, CpuTensorBackend.Instance, [24, 8, 4], null, new SgdOptimizer(), new TrainRng(0)))!;
        Assert.That(m.Message, Does.Contain("24-16-4").And.Contain("24-8-4"));
    }

    [Test]
    public void SmtxHeaderClaimingHugeSizesIsRefusedBeforeAllocating()
    {
        string path = Path.Combine(_dir, "huge.smtx");
        File.WriteAllText(path, "2000000000, 2000000000, 1500000000\n0 1\n0\n");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SmtxFormatException>(() => SmtxFile.ReadPattern(path))!;
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1L << 20));
        Assert.That(e.Message, Does.Contain(path).And.Contain("line 1").And.Contain("claims"));
        Assert.That(e.Line, Is.EqualTo(1));
    }

    internal static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    internal static byte[] Idx(int n, int rows, int cols, int dataBytes)
    {
        var raw = new byte[16 + dataBytes];
        void BE(int o, int v) { raw[o] = (byte)(v >> 24); raw[o + 1] = (byte)(v >> 16); raw[o + 2] = (byte)(v >> 8); raw[o + 3] = (byte)v; }
        BE(0, 0x803); BE(4, n); BE(8, rows); BE(12, cols);
        for (int i = 16; i < raw.Length; i++) raw[i] = (byte)(i * 7);
        return raw;
    }

    [Test]
    public void IdxFaultsAreTypedAndHugeClaimsAllocateNothing()
    {
        string path = Path.Combine(_dir, "x-images-idx3-ubyte.gz");
        IdxFormatException Fail(byte[] gz)
        {
            File.WriteAllBytes(path, gz);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<IdxFormatException>(() => FashionMnist.ReadIdx(path, 0x803, 3))!;
            Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(4L << 20), e.Message);
            TestContext.Out.WriteLine(e.Message);
            Assert.That(e.Message, Does.Contain(path));
            Assert.That(e.Path, Is.EqualTo(path));
            return e;
        }
        File.WriteAllBytes(path, Gzip(Idx(3, 4, 4, 48)));
        Assert.That(FashionMnist.ReadIdx(path, 0x803, 3).Data, Has.Length.EqualTo(48));
        Assert.That(Fail(Gzip(Idx(1 << 30, 28, 28, 48))).Message, Does.Contain("claims"));         // 843 GB claimed
        Assert.That(Fail(Gzip(Idx(100_000, 28, 28, 48))).Position, Is.EqualTo(4));                 // 78 MB claimed, 64 bytes there
        Assert.That(Fail(Gzip(Idx(3, 4, 4, 40))).Message, Does.Contain("truncated"));
        Assert.That(Fail(Gzip(Idx(3, 4, 4, 60))).Message, Does.Contain("truncated or corrupt"));
        var badMagic = Idx(3, 4, 4, 48); badMagic[3] = 1;
        Assert.That(Fail(Gzip(badMagic)).Position, Is.EqualTo(0));
        var gz = Gzip(Idx(3, 4, 4, 48));
        gz[gz.Length / 2] ^= 0xFF;
        Fail(gz);
        Assert.That(Fail(gz[..10]).Message, Does.Contain("gzip").Or.Contain("header"));
    }
}
