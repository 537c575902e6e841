using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Training;

/// <summary>CNNs in the layer stack: the spec grammar and its errors, ERK's kernel term, training (CPU and the emulated device agree), RigL
/// on conv layers, exact resume.</summary>
public class CnnTests
{
    private const string Tiny = "1x28x28:conv4k5s2,relu,maxpool2,conv6k3p1,relu,gap,fc10";

    [Test]
    public void SpecsParseToTheirShapes()
    {
        var lenet = ModelSpec.Parse("lenet5");
        Assert.That(lenet.WeightMatrices, Is.EqualTo(new[] { (20, 25), (50, 500), (500, 800), (10, 500) }));
        Assert.That(LayerDensities.Shapes(lenet)[1], Is.EqualTo(new LayerShape(20, 50, 5, 5)));
        Assert.That(ModelSpec.Parse("vgg-tiny").Classes, Is.EqualTo(10));
        Assert.That(ModelSpec.Parse("mlp:784-300-100-10").Text, Is.EqualTo("mlp:784-300-100-10"));
        Assert.That(ModelSpec.Parse(Tiny).Layers.Select(l => l.Output.ToString()),
            Is.EqualTo(new[] { "4x12x12", "4x12x12", "4x6x6", "6x6x6", "6x6x6", "6", "10" }));
    }

    [TestCase("1x28x28:conv20k5,relu,maxpool2,fc10", "token 4 'fc10'", "flatten")]
    [TestCase("1x28x28:conv20q5,fc10", "token 1 'conv20q5'", "is not a layer")]
    [TestCase("1x28x28:conv20k30,flatten,fc10", "token 1 'conv20k30'", "does not fit")]
    [TestCase("1x28:fc10", "the input '1x28'", "CxHxW")]
    [TestCase("mlp:784-3x-10", "size 2 '3x'", "positive integer")]
    [TestCase("lenet6", "lenet6", "preset")]
    [TestCase("1x28x28:conv4k5", "last layer gives", "flatten")]
    public void BadSpecsNameTheToken(string spec, string token, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelSpec.Parse(spec));
        Assert.That(e!.Message, Does.Contain(token).And.Contain(why));
    }

    [Test]
    public void ErkUsesTheKernelTerm()
    {
        // RigL's sparse_utils.get_sparsities_erdos_renyi with erk_power_scale 1: raw density sum(shape) / prod(shape).
        var shapes = LayerDensities.Shapes(ModelSpec.Parse("lenet5"));
        var er = LayerDensities.Densities(shapes, 0.9, DensityDistribution.ErdosRenyi);
        var erk = LayerDensities.Densities(shapes, 0.9, DensityDistribution.ErdosRenyiKernel);
        Assert.That(erk[1] / erk[2], Is.EqualTo((20.0 + 50 + 5 + 5) / (20 * 50 * 25) / ((800.0 + 500) / (800 * 500))).Within(1e-9));
        Assert.That(erk[1], Is.Not.EqualTo(er[1]));
    }

    private static (ImageDataset Train, ImageDataset Test) Data()
    {
        if (!File.Exists(Path.Combine(TestData.FashionMnistFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {TestData.FashionMnistFolder}.");
        var (train, test) = FashionMnist.Load(TestData.FashionMnistFolder);
        return (train.Take(256), test.Take(128));
    }

    private static RunOptions Options(string? dir = null, bool resume = false, int epochs = 2) => new()
    {
        Model = Tiny,
        Epochs = epochs,
        BatchSize = 64,
        Seed = 5,
        OutputFolder = dir,
        Resume = resume,
        Method = new SparsityOptions { Method = "rigl", Sparsity = 0.5, UpdateEvery = 2 },
    };

    [Test]
    public void RiglTrainsAConvNetAndResumesExactly()
    {
        var (train, test) = Data();
        var cpu = new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1));
        double[] straight;
        using (var run = new TrainingRun(Options(), cpu, train, test))
        {
            straight = run.Run().Select(m => m.TestLoss).ToArray();
            Assert.That(run.Model.Layers[1].IsSparse, "ERK at 50 % leaves the 6x4x3x3 conv sparse");
            Assert.That(run.Method!.Updates, Is.GreaterThan(0));
        }
        Assert.That(straight[1], Is.LessThan(straight[0]), "the loss falls");
        string dir = Path.Combine(Path.GetTempPath(), "sk-cnn-" + Guid.NewGuid().ToString("N"));
        using (var run = new TrainingRun(Options(dir), cpu, train, test)) run.Run(stopAfterEpochs: 1);
        using (var run = new TrainingRun(Options(dir, resume: true), cpu, train, test))
            Assert.That(run.Run().Select(m => m.TestLoss).Single(), Is.EqualTo(straight[1]), "resumed epoch 2 = straight epoch 2");
        Directory.Delete(dir, true);
    }

    /// <summary>
    /// The CLI's defaults train LeNet-5, dense and RigL 90 % ERK: 30 steps of batch 128 on the first 3,840 training images
    /// reach a stated test accuracy on 1,000 test images. Red with the former default init (Kaiming normal on every layer:
    /// the dense run diverges at lr 0.05, 26.5 % here) and with PyTorch's init on the sparse layers' dense fan-in (RigL's
    /// signals vanish, 23.5 %); green: dense 67.7 %, RigL 58.7 %.
    /// </summary>
    [TestCase(null, 0.6)]
    [TestCase("rigl", 0.5)]
    public void DefaultLeNet5Trains(string? method, double accuracy)
    {
        if (!File.Exists(Path.Combine(TestData.FashionMnistFolder, "train-images-idx3-ubyte.gz")))
            Assert.Ignore($"Fashion-MNIST is not installed in {TestData.FashionMnistFolder}.");
        var (train, test) = FashionMnist.Load(TestData.FashionMnistFolder);
        var o = new RunOptions
        {
            Model = "lenet5",
            Epochs = 1,
            TrainLimit = 3840,
            TestLimit = 1000,
            Method = method is null ? null : new SparsityOptions { Method = method, Sparsity = 0.9, FirstLayerDense = true },   // as the CLI for a CNN
        };
        using var run = new TrainingRun(o, new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), train, test);
        double acc = run.Run()[0].TestAccuracy;
        TestContext.Out.WriteLine($"{method ?? "dense"}: test accuracy {acc:P2} after 30 steps (init {o.InitName()})");
        Assert.That(acc, Is.GreaterThanOrEqualTo(accuracy), $"LeNet-5 {method ?? "dense"} with the default options does not train");
    }

    [Test]
    [Category("Gpu")]
    public void DeviceTrainingMatchesTheCpu()
    {
        var device = TestDevice.Get();
        TestContext.Out.WriteLine($"device: {device.Kind} '{device.Name}'");
        var (train, test) = Data();
        var o = Options(epochs: 1) with { TrainLimit = 128, TestLimit = 64 };
        double cpuLoss, devLoss;
        using (var run = new TrainingRun(o, new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1)), train,
            test)) cpuLoss = run.Run()[0].TestLoss;
        using (var b = new DeviceTensorBackend(device))
        using (var run = new TrainingRun(o, b, train, test)) devLoss = run.Run()[0].TestLoss;
        TestContext.Out.WriteLine($"test loss cpu {cpuLoss} device {devLoss}");
        Assert.That(devLoss, Is.EqualTo(cpuLoss).Within(1e-3).Percent);
    }

    [Test]
    public void ChunkedAndWholeBatchConvolutionsAgree()
    {
        var spec = ModelSpec.Parse("lenet5");
        var cpu = new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1));
        var x = DenseTensor(new Random(2), 784, 10);
        using var a = Sequential.Create(cpu, spec, [0, 0.8, 0.9, 0], new KaimingNormal(), new TrainRng(1));
        using var b = Sequential.Create(cpu, spec, [0, 0.8, 0.9, 0], new KaimingNormal(), new TrainRng(1));
        foreach (var l in b.Layers) l.MaxColumnFloats = 1;   // one sample per chunk
        using var ta = new Tape(cpu);
        using var tb = new Tape(cpu);
        var ya = a.Forward(ta, ta.Constant(x)); var yb = b.Forward(tb, tb.Constant(x));
        Approx.AssertAllClose(yb.Value.HostData, ya.Value.HostData, 1e-5, 1e-4, "chunked logits");
        ta.Backward(Fn.Mean(ta, ya)); tb.Backward(Fn.Mean(tb, yb));
        for (int i = 0; i < 2; i++)
            Approx.AssertAllClose(b.Layers[i].Weight.Grad!.HostData, a.Layers[i].Weight.Grad!.HostData, 1e-6, 1e-4,
                $"chunked layer {i} weight gradient");
    }

    private static SparseKernels.Tensors.DenseTensor DenseTensor(Random rng, int rows, int cols) => TestData.Dense(rng, rows, cols);
}
