using System.Text.Json;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Sparsity;

/// <summary>
/// Short end-to-end runs of every method on 512 Fashion-MNIST samples (784-64-10, batch 64, 8 steps per epoch; CPU),
/// whose per-epoch training losses are checked against values recorded once; seed determinism; RigL and SET --resume
/// (GMP, IMP and KD tickets: SparsityResumeTests).
/// </summary>
public class SparsityRunTests
{
    private static (ImageDataset Train, ImageDataset Test) s_data;

    internal static (ImageDataset Train, ImageDataset Test) Data()
    {
        if (s_data.Train is null)
        {
            if (!File.Exists(Path.Combine(TestData.FashionMnistFolder, "train-images-idx3-ubyte.gz")))
                Assert.Ignore($"Fashion-MNIST is not installed in {TestData.FashionMnistFolder} (apt-get install dataset-fashion-mnist).");
            var (train, test) = FashionMnist.Load(TestData.FashionMnistFolder);
            s_data = (train.Take(512), test.Take(256));
        }
        return s_data;
    }

    internal static RunOptions Options(string method, string? dir = null, int epochs = 2, bool resume = false) => new()
    {
        Layers = [784, 64, 10],
        Epochs = epochs,
        BatchSize = 64,
        LearningRate = 0.05f,
        Optimizer = "sgd",
        Schedule = "cosine",
        Seed = 3,
        OutputFolder = dir,
        Resume = resume,
        Method = new SparsityOptions
        {
            Method = method,
            Sparsity = method == "dense" ? 0 : 0.9,
            Distribution = DensityDistribution.ErdosRenyiKernel,
            UpdateEvery = 3,
            GmpEvery = 2,
            ImpLevels = 1,
            RewindStep = 2,
            KdTemperature = 2f,
            KdAlpha = 0.5f,
        },
    };

    /// <summary>Per-epoch training losses recorded once from this code (CPU backend); method -> losses.</summary>
    private static readonly Dictionary<string, double[]> Recorded = new()
    {
        ["dense"] = [1.8386356979608536, 0.7810889109969139],
        ["static"] = [2.0959188640117645, 1.5375473648309708],
        // SET applies the optimizer step, then updates the mask; RigL and SET also update at t = 0 and T_end
        ["set"] = [2.1245244443416595, 1.599055290222168],
        ["rigl"] = [2.1862698048353195, 1.7241772562265396],
        ["snip"] = [2.270685225725174, 1.358340635895729],
        ["gmp"] = [1.9462658613920212, 1.2234948724508286],
        // rewinding to step 2 skips the level's first 2 weight updates (open_lth's start_step)
        ["imp"] = [1.8386356979608536, 0.7810889109969139, 1.0422956719994545, 0.8879399672150612],
        ["kd-ticket"] = [1.8386356979608536, 0.7810889109969139, 1.1081126183271408, 0.6796585395932198],
    };

    [TestCase("dense")]
    [TestCase("static")]
    [TestCase("set")]
    [TestCase("rigl")]
    [TestCase("snip")]
    [TestCase("gmp")]
    [TestCase("imp")]
    [TestCase("kd-ticket")]
    public void FirstLossesMatchRecordedValues(string method)
    {
        var (train, test) = Data();
        using var run = new TrainingRun(Options(method), CpuTensorBackend.Instance, train, test);
        var m = run.Run();
        var losses = m.Select(x => x.TrainLoss).ToArray();
        TestContext.Out.WriteLine($"[\"{method}\"] = [{string.Join(", ", losses.Select(l => l.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}],  nnz {string.Join("/", m[^1].NnzPerLayer)} acc {m[^1].TestAccuracy}");
        Assert.That(losses.All(double.IsFinite));
        Assert.That(m[^1].TestAccuracy, Is.GreaterThan(0.3), "learns something in 2-4 short epochs");
        long nnz = m[^1].NnzPerLayer.Sum();
        if (method is "static" or "set" or "rigl" or "snip")
            Assert.That(nnz, Is.EqualTo(Options(method).Method!.Counts([784, 64, 10]).Sum()), "exact ERK counts kept to the end");
        if (run.Method is LotteryTicket lt)
        {
            Assert.That(lt.Levels.Select(l => l.Level), Is.EqualTo(new[] { 0, 1 }));
            Assert.That(lt.Levels[1].Sparsity, Is.EqualTo(0.9).Within(0.002), "1 level of p = 0.9 reaches the target");
        }
        if (!Recorded.TryGetValue(method, out var want) || want is null) { Assert.Fail($"no recorded losses for {method}; record: {string.Join(", ", losses)}"); return; }
        Assert.That(losses.Length, Is.EqualTo(want.Length));
        for (int i = 0; i < want.Length; i++)
            Assert.That(losses[i], Is.EqualTo(want[i]).Within(1e-5 * Math.Abs(want[i])), $"{method} epoch {i + 1} training loss");
    }

    [Test]
    public void SameSeedSameRunDifferentSeedDifferentRun()
    {
        var (train, test) = Data();
        float[] Final(ulong seed)
        {
            using var run = new TrainingRun(Options("rigl", epochs: 1) with { Seed = seed, TrainLimit = 256 }, CpuTensorBackend.Instance, train, test);
            run.Run();
            return run.Model.Layers[0].Weight.Value.ToArray().ToArray();
        }
        Assert.That(Final(5), Is.EqualTo(Final(5)));
        Assert.That(Final(5), Is.Not.EqualTo(Final(6)));
    }

    internal static Dictionary<string, string> Deterministic(string jsonLine)
    {
        using var doc = JsonDocument.Parse(jsonLine);
        return doc.RootElement.EnumerateObject().Where(p => p.Name is not ("epoch_s" or "step_ms" or "peak_device_bytes"))
            .ToDictionary(p => p.Name, p => p.Value.GetRawText());
    }

    [TestCase("rigl")]
    [TestCase("set")]
    public void ResumeIsExact(string method)
    {
        var (train, test) = Data();
        string a = Path.Combine(Path.GetTempPath(), "sk-m-" + Guid.NewGuid().ToString("N")), b = a + "-b";
        IReadOnlyList<string> straight, resumed;
        float[] w1, w2;
        using (var run = new TrainingRun(Options(method, a), CpuTensorBackend.Instance, train, test)) { run.Run(); straight = run.MetricsJsonLines.ToArray(); w1 = run.Model.Layers[0].Weight.Value.ToArray().ToArray(); }
        using (var run = new TrainingRun(Options(method, b), CpuTensorBackend.Instance, train, test)) run.Run(stopAfterEpochs: 1);
        using (var run = new TrainingRun(Options(method, b, resume: true), CpuTensorBackend.Instance, train, test))
        {
            Assert.That(run.EpochsDone, Is.EqualTo(1));
            run.Run();
            resumed = run.MetricsJsonLines.ToArray();
            w2 = run.Model.Layers[0].Weight.Value.ToArray().ToArray();
        }
        for (int i = 0; i < 2; i++) Assert.That(Deterministic(resumed[i]), Is.EqualTo(Deterministic(straight[i])), $"epoch {i + 1}");
        Assert.That(w2, Is.EqualTo(w1), "final weights bit-identical after resume (mask updates in both epochs)");
        Directory.Delete(a, true); Directory.Delete(b, true);
    }

    [Test]
    public void BadOptionsAreClearErrors()
    {
        var (train, test) = Data();
        var e = Assert.Throws<ArgumentException>(() => new TrainingRun(Options("rigl") with { Method = new SparsityOptions { Method = "rigl", Sparsity = 0 } }, CpuTensorBackend.Instance, train, test))!;
        Assert.That(e.Message, Does.Contain("Sparsity"));
        e = Assert.Throws<ArgumentException>(() => new TrainingRun(Options("nope"), CpuTensorBackend.Instance, train, test))!;
        Assert.That(e.Message, Does.Contain("nope").And.Contain("rigl"));
    }
}
