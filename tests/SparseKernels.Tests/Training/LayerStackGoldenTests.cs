using System.Globalization;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Training;

/// <summary>
/// The layer stack is a behaviour-preserving refactor of the fixed MLP: these runs give bit-identical losses to the
/// ones recorded with the MLP code before it (commit c984113), and a version-2 checkpoint written by that code
/// (Data/ckpt-v2-784-8-10.bin) is still read.
/// </summary>
public class LayerStackGoldenTests
{
    private static (ImageDataset Train, ImageDataset Test) Data()
    {
        if (!File.Exists(Path.Combine(TestData.FashionMnistFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {TestData.FashionMnistFolder}.");
        var (train, test) = FashionMnist.Load(TestData.FashionMnistFolder);
        return (train.Take(600), test.Take(200));
    }

    private static RunOptions Case(string name) => name switch
    {
        "dense" => new RunOptions { Layers = [784, 16, 10], Sparsity = [0], Epochs = 2, BatchSize = 100, Nesterov = true, Seed = 3 },
        "rigl" => new RunOptions
        {
            Layers = [784, 16, 10],
            Epochs = 2,
            BatchSize = 100,
            Seed = 4,
            Method = new SparsityOptions { Method = "rigl", Sparsity = 0.9, UpdateEvery = 2 },
        },
        "gmp" => new RunOptions
        {
            Layers = [784, 16, 10],
            Epochs = 2,
            BatchSize = 100,
            Seed = 5,
            Method = new SparsityOptions { Method = "gmp", Sparsity = 0.8, GmpEvery = 2 },
        },
        "set-adam" => new RunOptions
        {
            Layers = [784, 16, 16, 10],
            Epochs = 2,
            BatchSize = 100,
            Seed = 6,
            Optimizer = "adam",
            LearningRate = 0.002f,
            Method = new SparsityOptions { Method = "set", Sparsity = 0.8, Distribution = DensityDistribution.Uniform, UpdateEvery = 2 },
        },
        _ => throw new ArgumentException(name),
    };

    // train_loss, test_loss per epoch, as printed by the MLP code before the layer stack (SK_GOLDEN_PRINT=1).
    private static readonly Dictionary<string, double[]> s_golden = new()
    {
        ["dense"] = [2.2528382937113443, 1.5751683712005615, 1.4950144290924072, 1.4130913019180298],
        ["rigl"] = [2.321533521016439, 2.2676429748535156, 2.230754335721334, 2.2346835136413574],
        ["gmp"] = [2.153152048587799, 1.8405588865280151, 1.793386697769165, 1.8086001873016357],
        ["set-adam"] = [2.2935179471969604, 2.2729499340057373, 2.2701074282328286, 2.262345314025879],
    };

    [TestCase("dense")]
    [TestCase("rigl")]
    [TestCase("gmp")]
    [TestCase("set-adam")]
    public void LossesAreBitIdenticalToTheMlpBeforeTheLayerStack(string name)
    {
        var (train, test) = Data();
        using var run = new TrainingRun(Case(name), new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), train, test);
        var m = run.Run();
        var got = m.SelectMany(e => new[] { e.TrainLoss, e.TestLoss }).ToArray();
        if (Environment.GetEnvironmentVariable("SK_GOLDEN_PRINT") == "1")
            TestContext.Out.WriteLine($"GOLDEN [\"{name}\"] = [{string.Join(", ", got.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))}],");
        Assert.That(got, Is.EqualTo(s_golden[name]).Within(1e-5).Percent, $"{name}: the losses differ from the MLP code's");
    }

    [Test]
    public void ReadsAVersion2CheckpointAsTheMlpItHeld()
    {
        var (_, test) = Data();
        string file = Path.Combine(TestContext.CurrentContext.TestDirectory, "Training", "Data", "ckpt-v2-784-8-10.bin");
        var b = new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1));
        var (model, state) = Checkpoint.Load(file, b, ModelSpec.Parse("mlp:784-8-10"), [false, false], new SgdOptimizer(), new TrainRng(0));
        using (model)
        {
            Assert.That(state.EpochsDone, Is.EqualTo(1));
            Assert.That(model.Parameters.All(p => p.State.Length == 1), "the SGD momentum is restored");
            var rng = new TrainRng(0);
            using var batches = new BatchSource(test.Take(100), b);
            var trainer = new Trainer(model, new SgdOptimizer(), new ConstantSchedule(), new TrainConfig(), batches, batches, rng);
            // the test loss the MLP code printed after writing this checkpoint
            Assert.That(trainer.Evaluate(batches).Loss, Is.EqualTo(1.9097800254821777).Within(1e-5).Percent);
        }
        var e = Assert.Throws<CheckpointException>(()
            => Checkpoint.Load(file, b, ModelSpec.Parse("mlp:784-9-10"), null, new SgdOptimizer(), new TrainRng(0)));
        Assert.That(e!.Message, Does.Contain("784-8-10").And.Contain("784-9-10"));
    }

    [Test]
    public void WritesTheV2Checkpoint()
    {
        string? to = Environment.GetEnvironmentVariable("SK_GOLDEN_CKPT");
        if (to is null) Assert.Ignore("capture only");
        var (train, test) = Data();
        string dir = Path.Combine(Path.GetTempPath(), "sk-golden-" + Guid.NewGuid().ToString("N"));
        var o = new RunOptions { Layers = [784, 8, 10], Epochs = 1, BatchSize = 100, Seed = 2, OutputFolder = dir, TrainLimit = 300, TestLimit = 100 };
        using (var run = new TrainingRun(o, new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), train, test))
            TestContext.Out.WriteLine("CKPT " + run.Run()[0].TestLoss.ToString("R", CultureInfo.InvariantCulture));
        File.Copy(Path.Combine(dir, TrainingRun.CheckpointFile), to, overwrite: true);
    }
}
