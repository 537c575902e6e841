using System.IO.Compression;
using System.Text.Json;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Training;

/// <summary>Data reader, optimizers, the training loop, checkpoints and --resume (on subsets of Fashion-MNIST).</summary>
public class TrainingTests
{
    private static (ImageDataset Train, ImageDataset Test) s_data;

    private static (ImageDataset Train, ImageDataset Test) Data()
    {
        if (s_data.Train is null)
        {
            if (!File.Exists(Path.Combine(TestData.FashionMnistFolder, "train-images-idx3-ubyte.gz")))
                Assert.Ignore($"Fashion-MNIST is not installed in {TestData.FashionMnistFolder} (apt-get install dataset-fashion-mnist).");
            var (train, test) = FashionMnist.Load(TestData.FashionMnistFolder);
            s_data = (train.Take(3000), test.Take(1000));
        }
        return s_data;
    }

    private static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "sk-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    private static RunOptions Small(string? dir, int epochs, bool resume = false) => new()
    {
        Layers = [784, 40, 10],
        Sparsity = [0.9, 0],
        Epochs = epochs,
        BatchSize = 100,
        LearningRate = 0.05f,
        Optimizer = "sgd",
        Nesterov = true,
        Schedule = "cosine",
        Seed = 7,
        TrainLimit = 1500,
        TestLimit = 500,
        OutputFolder = dir,
        Resume = resume,
    };

    [Test]
    public void LoadsFashionMnist()
    {
        var (train, test) = Data();
        Assert.That(train.Features, Is.EqualTo(784));
        Assert.That(train.Labels.Distinct().Count(), Is.EqualTo(10));
        double mean = train.Images.Average();
        Assert.That(mean, Is.EqualTo(0).Within(0.1), "normalised pixels have mean ~0");
        Assert.That(test.Count, Is.EqualTo(1000));
    }

    [Test]
    public void MissingAndCorruptFilesNameTheFileAndHowToGetIt()
    {
        string dir = TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir))!;
        Assert.That(e.Message, Does.Contain("train-images-idx3-ubyte.gz").And.Contain("apt-get install dataset-fashion-mnist"));
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), [1, 2, 3, 4, 5]);
        var e2 = Assert.Throws<IdxFormatException>(() => FashionMnist.Load(dir))!;
        Assert.That(e2.Message, Does.Contain("train-images-idx3-ubyte.gz").And.Contain("apt-get install"));
        using (var gz = new GZipStream(File.Create(Path.Combine(dir, "train-images-idx3-ubyte.gz")), CompressionLevel.Fastest))
            gz.Write([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);   // says 5 images, holds 3 bytes
        var e3 = Assert.Throws<IdxFormatException>(() => FashionMnist.Load(dir))!;
        Assert.That(e3.Message, Does.Contain("truncated"));
        Directory.Delete(dir, true);
    }

    [Test]
    public void TrainingLearns()
    {
        var (train, test) = Data();
        using var run = new TrainingRun(Small(null, 2), CpuTensorBackend.Instance, train, test);
        var m = run.Run();
        TestContext.Out.WriteLine(string.Join("\n", run.MetricsJsonLines));
        Assert.That(m[1].TrainLoss, Is.LessThan(m[0].TrainLoss));
        Assert.That(m[1].TestAccuracy, Is.GreaterThan(0.65), "a 90 %-sparse 784-40-10 MLP on 1500 samples reaches > 65 % test accuracy in 2 epochs");
        Assert.That(m[1].NnzPerLayer, Is.EqualTo(new long[] { (long)Math.Round(0.1 * 784 * 40), 400 }));
    }

    private static Dictionary<string, string> Deterministic(string jsonLine)
    {
        using var doc = JsonDocument.Parse(jsonLine);
        return doc.RootElement.EnumerateObject().Where(p => p.Name is not ("epoch_s" or "step_ms" or "peak_device_bytes"))
            .ToDictionary(p => p.Name, p => p.Value.GetRawText());
    }

    [Test]
    public void ResumeGivesBitIdenticalMetricsOnTheCpu()
    {
        var (train, test) = Data();
        string a = TempDir(), b = TempDir();
        float[] straightWeights, resumedWeights;
        IReadOnlyList<string> straight, resumed;
        using (var run = new TrainingRun(Small(a, 2), CpuTensorBackend.Instance, train, test))
        {
            run.Run();
            straight = run.MetricsJsonLines.ToArray();
            straightWeights = run.Model.Layers[0].Weight.Value.ToArray().ToArray();
        }
        using (var run = new TrainingRun(Small(b, 2), CpuTensorBackend.Instance, train, test)) run.Run(stopAfterEpochs: 1);
        using (var run = new TrainingRun(Small(b, 2, resume: true), CpuTensorBackend.Instance, train, test))
        {
            Assert.That(run.EpochsDone, Is.EqualTo(1));
            run.Run();
            resumed = run.MetricsJsonLines.ToArray();
            resumedWeights = run.Model.Layers[0].Weight.Value.ToArray().ToArray();
        }
        Assert.That(resumed.Count, Is.EqualTo(2));
        for (int i = 0; i < 2; i++)
            Assert.That(Deterministic(resumed[i]), Is.EqualTo(Deterministic(straight[i])), $"epoch {i + 1}: {resumed[i]} vs {straight[i]}");
        Assert.That(resumedWeights, Is.EqualTo(straightWeights), "final sparse weights bit-identical");
        Assert.That(File.ReadAllLines(Path.Combine(b, TrainingRun.CsvFile)).Length, Is.EqualTo(3));
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Test]
    public void CorruptOrMismatchedCheckpointIsAClearErrorAndNothingIsOverwritten()
    {
        var (train, test) = Data();
        string dir = TempDir();
        var opts = Small(dir, 1) with { TrainLimit = 200, TestLimit = 100 };
        using (var run = new TrainingRun(opts, CpuTensorBackend.Instance, train, test)) run.Run();
        string ckpt = Path.Combine(dir, TrainingRun.CheckpointFile);
        byte[] good = File.ReadAllBytes(ckpt);

        // A fresh run into the folder without --resume refuses.
        var e0 = Assert.Throws<InvalidOperationException>(() => new TrainingRun(opts, CpuTensorBackend.Instance, train, test))!;
        Assert.That(e0.Message, Does.Contain("Resume"));

        // Other layer sizes.
        var e1 = Assert.Throws<CheckpointException>(() => new TrainingRun(opts with { Layers = [784, 30, 10], Resume = true, Epochs = 2 }, CpuTensorBackend.Instance, train, test))!;
        Assert.That(e1.Message, Does.Contain("784-40-10").And.Contain("784-30-10"));
        // A layer dense in the checkpoint, sparse in the run.
        var e2 = Assert.Throws<CheckpointException>(() => new TrainingRun(opts with { Sparsity = [0.9, 0.5], Resume = true, Epochs = 2 }, CpuTensorBackend.Instance, train, test))!;
        Assert.That(e2.Message, Does.Contain("layer 1"));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(good));

        // A flipped payload byte.
        var bad = (byte[])good.Clone();
        bad[^10] ^= 0x40;
        File.WriteAllBytes(ckpt, bad);
        var e3 = Assert.Throws<CheckpointException>(() => new TrainingRun(opts with { Resume = true, Epochs = 2 }, CpuTensorBackend.Instance, train, test))!;
        Assert.That(e3.Message, Does.Contain("checksum").And.Contain(ckpt));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(bad), "the corrupt file is left as it was");
        // Truncated.
        File.WriteAllBytes(ckpt, good[..20]);
        var e4 = Assert.Throws<CheckpointException>(() => new TrainingRun(opts with { Resume = true, Epochs = 2 }, CpuTensorBackend.Instance, train, test))!;
        Assert.That(e4.Message, Does.Contain(ckpt));
        Directory.Delete(dir, true);
    }

    [Test]
    public void RandomPatternHasExactlyTheRequestedNonzeros()
    {
        var p = Mlp.RandomPattern(37, 53, 0.1, new TrainRng(3));
        Assert.That(p.Nnz, Is.EqualTo((int)Math.Round(0.1 * 37 * 53)));
        Assert.DoesNotThrow(() => CsrMatrix.Validate(p.Rows, p.Cols, p.RowOffsets, p.ColumnIndices, p.Nnz));
        var q = Mlp.RandomPattern(37, 53, 0.1, new TrainRng(3));
        Assert.That(q.ColumnIndices, Is.EqualTo(p.ColumnIndices), "same seed, same pattern");
    }

    [Test, Category("Gpu")]
    public void OptimizersOnTheDeviceMatchTheCpu([Values("sgd", "sgd-nesterov", "adam")] string kind)
    {
        var device = TestDevice.Get();
        using var dev = new DeviceTensorBackend(device);
        var rng = new Random(11);
        int n = 1000;
        var w0 = TestData.NonZeroArray(rng, n);
        var grads = Enumerable.Range(0, 3).Select(_ => TestData.NonZeroArray(rng, n)).ToArray();
        float[] Run(ITensorBackend b)
        {
            Optimizer opt = kind == "adam" ? new AdamOptimizer { WeightDecay = 1e-2f } : new SgdOptimizer { Momentum = 0.9f, WeightDecay = 1e-2f, Nesterov = kind == "sgd-nesterov" };
            opt.LearningRate = 0.1f;
            var host = DenseTensor.FromArray(1, n, (float[])w0.Clone());
            var p = new Parameter("w", Var.Parameter(b.Device is null ? host : b.Upload(host)));
            foreach (var g in grads)
            {
                using var t = new Tape(b);
                var gt = DenseTensor.FromArray(1, n, g);
                p.Var.Grad = b.Device is null ? gt.ToHost() : b.Upload(gt);
                opt.Step(b, [p]);
                Assert.That(p.Grad, Is.Null, "the step drops the gradient");
            }
            Assert.That(p.State.Length, Is.EqualTo(opt.StateSlots));
            return p.Value.ToArray().ToArray();
        }
        var cpu = Run(CpuTensorBackend.Instance);
        var gpu = Run(dev);
        Approx.AssertAllClose(gpu, cpu, 1e-6, 1e-5, $"{kind} weights after 3 steps (device vs CPU)");
        Assert.That(cpu, Is.Not.EqualTo(w0));
    }

    [Test, Category("Gpu")]
    public void TrainingOnTheDeviceMatchesTheCpu()
    {
        var device = TestDevice.Get();
        var (train, test) = Data();
        using var dev = new DeviceTensorBackend(device);
        var opts = new RunOptions { Layers = [784, 8, 10], Sparsity = [0.8, 0], Epochs = 1, BatchSize = 64, TrainLimit = 128, TestLimit = 64, Seed = 5 };
        using var onDevice = new TrainingRun(opts, dev, train, test);
        using var onCpu = new TrainingRun(opts, CpuTensorBackend.Instance, train, test);
        var d = onDevice.Run()[0];
        var c = onCpu.Run()[0];
        TestContext.Out.WriteLine($"device: {TrainingRun.ToJson(d)}\ncpu:    {TrainingRun.ToJson(c)}");
        Assert.That(d.TrainLoss, Is.EqualTo(c.TrainLoss).Within(1e-4));
        Assert.That(d.TestLoss, Is.EqualTo(c.TestLoss).Within(1e-4));
        Approx.AssertAllClose(onDevice.Model.Layers[0].Weight.Value.ToArray(), onCpu.Model.Layers[0].Weight.Value.ToArray(), 1e-5, 1e-4, "sparse layer values after 2 steps");
    }
}
