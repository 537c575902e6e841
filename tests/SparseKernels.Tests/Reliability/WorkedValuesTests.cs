using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// The tests that could not fail (issue 17): each checks against values worked out independently of the code under
/// test, so a bug that both the CPU and the device share (or that the device-vs-CPU tests cannot see) turns them red.
/// Planted once each in a scratch copy: Adam's step count off by one, Adam without bias correction on the CPU, SGD
/// without weight decay, Nesterov computed as plain momentum, a checkpoint without Adam's second moment, the ReLU
/// gradient taken at x >= 0 (CPU backend, reference and device kernel), ERK computed as ER.
/// </summary>
public class WorkedValuesTests
{
    // w0 and three gradients; the expected weights after the three steps were computed by torch.optim (1.13, float64):
    //   w = torch.tensor(W0, requires_grad=True); opt = torch.optim.X([w], ...)
    //   for g in G: w.grad = torch.tensor(g); opt.step()
    private static readonly float[] W0 = [1.0f, -2.0f, 0.5f, 0.0f];
    private static readonly float[][] G = [[0.5f, -1.0f, 2.0f, 0.25f], [-0.5f, 0.5f, 1.0f, -0.75f], [0.25f, 0.0f, -3.0f, 1.5f]];

    public static IEnumerable<TestCaseData> Cases()
    {
        // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01)
        yield return new TestCaseData("sgd", new[] { 0.9290347489999999, -1.8131194979999998, 0.0660571994999999, -0.075230025 },
            new[] { 0.23116251000000002, -0.41182502000000004, -0.4730669949999995, 1.02755025 }, null)
            .SetName("Sgd_momentum_weight_decay");
        // torch.optim.SGD(lr=0.1, momentum=0, weight_decay=0): w - 0.1 * sum(g), by hand too
        yield return new TestCaseData("sgd0", new[] { 0.975, -1.95, 0.5, -0.1 }, null, null).SetName("Sgd_plain");
        // torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)
        yield return new TestCaseData("nesterov", new[] { 0.9083489581909999, -1.776378416382, 0.10960167877050002, -0.16773847147499998 },
            new[] { 0.23077864110000001, -0.4106072822000001, -0.4772143619500002, 1.0278209024999998 }, null).SetName("Sgd_nesterov");
        // torch.optim.Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        yield return new TestCaseData("adam", new[] { 0.8838411960501803, -1.847795499048714, 0.3147720566772346, -0.08920925746575499 },
            new[] { 0.02302336448557228, -0.041201152434748416, -0.04692823983476661, 0.10260945376704586 },
            new[] { 0.0005675184082388633, 0.0012698000005336556, 0.014000600754327816, 0.0028742959298355625 })
            .SetName("Adam_weight_decay");
        // torch.optim.Adam(lr=0.1, weight_decay=0); m and v by hand: m = 0.1 * (0.81 g1 + 0.9 g2 + g3), v likewise with 0.999
        yield return new TestCaseData("adam0", new[] { 0.88779060677388, -1.8527783673314504, 0.31497971695564936, -0.08929687996505824 },
            new[] { 0.0205, -0.036, -0.048, 0.10275 },
            new[] { 0.0005617502500000005, 0.0012477510000000012, 0.013991004000000012, 0.0028743125625000027 }).SetName("Adam_plain");
    }

    private static Optimizer Make(string kind) => kind switch
    {
        "sgd" => new SgdOptimizer { Momentum = 0.9f, WeightDecay = 0.01f },
        "sgd0" => new SgdOptimizer { Momentum = 0f, WeightDecay = 0f },
        "nesterov" => new SgdOptimizer { Momentum = 0.9f, WeightDecay = 0.01f, Nesterov = true },
        "adam" => new AdamOptimizer { WeightDecay = 0.01f },
        "adam0" => new AdamOptimizer { WeightDecay = 0f },
        _ => throw new ArgumentException(kind),
    };

    private static void CheckOptimizer(ITensorBackend b, string kind, double[] w, double[]? s0, double[]? s1)
    {
        var opt = Make(kind);
        opt.LearningRate = 0.1f;
        var host = DenseTensor.FromArray(1, W0.Length, (float[])W0.Clone());
        var p = new Parameter("w", Var.Parameter(b.Device is null ? host : b.Upload(host)));
        foreach (var g in G)
        {
            var gt = DenseTensor.FromArray(1, g.Length, (float[])g.Clone());
            p.Var.Grad = b.Device is null ? gt : b.Upload(gt);
            opt.Step(b, [p]);
        }
        Assert.That(opt.StepCount, Is.EqualTo(3));
        Approx.AssertAllClose(p.Value.ToArray(), w, 1e-6, 1e-5, $"{kind}: weights after 3 steps vs torch.optim");
        if (s0 is not null) Approx.AssertAllClose(p.State[0].ToArray(), s0, 1e-7, 1e-5, $"{kind}: first state slot (momentum / exp_avg)");
        // rtol 1e-4: 1 - 0.999f is 1.00005e-3 in fp32, so fp32 Adam (torch's too) carries a 5e-5 relative offset in v.
        if (s1 is not null) Approx.AssertAllClose(p.State[1].ToArray(), s1, 1e-8, 1e-4, $"{kind}: second state slot (exp_avg_sq)");
        p.Var.ZeroGrad();
    }

    [TestCaseSource(nameof(Cases))]
    public void OptimizerOnTheCpuMatchesWorkedValues(string kind, double[] w, double[]? s0, double[]? s1)
        => CheckOptimizer(CpuTensorBackend.Instance, kind, w, s0, s1);

    [TestCaseSource(nameof(Cases)), Category("Gpu")]
    public void OptimizerOnTheDeviceMatchesWorkedValues(string kind, double[] w, double[]? s0, double[]? s1)
    {
        using var dev = new DeviceTensorBackend(TestDevice.Get());
        CheckOptimizer(dev, kind, w, s0, s1);
    }

    [Test]
    public void AdamsFirstStepMovesEveryWeightByTheLearningRate()
    {
        // Worked by hand: after one step m/(1-b1) = g and v/(1-b2) = g^2, so the update is lr * g / (|g| + eps) = lr * sign(g).
        var w = new float[] { 1f, 1f, 1f };
        var g = new float[] { 3f, -1e-3f, 250f };
        new CpuBackend(1).Adam(w, g, new float[3], new float[3], 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        Approx.AssertAllClose(w, new[] { 0.9, 1.1, 0.9 }, 1e-6, 1e-5, "Adam step 1 = lr * sign(g)");
    }

    // ---- resume with every optimizer ------------------------------------------------------------------------------

    internal static (ImageDataset Train, ImageDataset Test) Synthetic(int features = 24, int classes = 4, int count = 320, int seed = 3)
    {
        var rng = new Random(seed);
        var centres = Enumerable.Range(0, classes * features).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
        ImageDataset Make(int n)
        {
            var x = new float[n * features]; var y = new int[n];
            for (int s = 0; s < n; s++)
            {
                y[s] = rng.Next(classes);
                for (int f = 0; f < features; f++) x[s * features + f] = centres[y[s] * features + f] + (float)(rng.NextDouble() - 0.5);
            }
            return new ImageDataset(x, y, features, classes, "synthetic");
        }
        return (Make(count), Make(count / 4));
    }

    private static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "sk-rel-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    private static float[][] Everything(TrainingRun run)
        => run.Model.Parameters.SelectMany(p => new[] { p.Value }.Concat(p.State)).Select(t => t.ToArray().ToArray()).ToArray();

    [Test]
    public void ResumeIsBitIdenticalForEveryOptimizer([Values("sgd", "sgd-momentum0", "sgd-nesterov", "adam")] string kind)
    {
        var (train, test) = Synthetic();
        RunOptions Opts(string dir, bool resume) => new()
        {
            Layers = [24, 16, 4],
            Sparsity = [0.5, 0],
            Epochs = 3,
            BatchSize = 32,
            LearningRate = kind == "adam" ? 0.01f : 0.05f,
            Optimizer = kind == "adam" ? "adam" : "sgd",
            Momentum = kind == "sgd-momentum0" ? 0f : 0.9f,
            Nesterov = kind == "sgd-nesterov",
            Seed = 11,
            OutputFolder = dir,
            Resume = resume,
        };
        string a = TempDir(), b = TempDir();
        try
        {
            float[][] straight, resumed;
            using (var run = new TrainingRun(Opts(a, false), CpuTensorBackend.Instance, train, test))
            {
                run.Run();
                straight = Everything(run);
            }
            using (var run = new TrainingRun(Opts(b, false), CpuTensorBackend.Instance, train, test)) run.Run(stopAfterEpochs: 1);
            using (var run = new TrainingRun(Opts(b, true), CpuTensorBackend.Instance, train, test)) run.Run(stopAfterEpochs: 2);
            using (var run = new TrainingRun(Opts(b, true), CpuTensorBackend.Instance, train, test))
            {
                run.Run();
                resumed = Everything(run);
            }
            Assert.That(resumed.Length, Is.EqualTo(straight.Length));
            Assert.That(resumed.Length, Is.EqualTo(4 * (kind == "adam" ? 3 : 2)), "two weights, two biases and every state slot");
            for (int i = 0; i < straight.Length; i++)
                Assert.That(resumed[i], Is.EqualTo(straight[i]), $"{kind}: tensor {i} (value or optimizer state) after resuming twice");
        }
        finally { Directory.Delete(a, true); Directory.Delete(b, true); }
    }

    // ---- ReLU gradient at exactly 0 -------------------------------------------------------------------------------

    // PyTorch's convention (threshold_backward): the gradient at x = 0 (and -0) is 0.
    private static readonly float[] ReluX = [0f, -0f, 1e-45f, -1e-45f, 2f, -3f, 0f, 0f, 5f, 0f, -0f, 1f, 0f, 0f, 0f, 0f, 0f, 7f];

    private static float[] ReluExpected(float[] dy) => ReluX.Select((x, i) => x > 0 ? dy[i] : 0f).ToArray();

    [Test]
    public void ReluGradientAtExactlyZeroIsZeroOnTheCpu()
    {
        var dy = TestData.NonZeroArray(new Random(5), ReluX.Length);
        float[] expected = [0, 0, dy[2], 0, dy[4], 0, 0, 0, dy[8], 0, 0, dy[11], 0, 0, 0, 0, 0, dy[17]];
        Assert.That(ReluExpected(dy), Is.EqualTo(expected));
        Assert.That(CpuReference.ReluBackward(ReluX, dy), Is.EqualTo(expected), "CpuReference");
        Assert.That(new CpuBackend(1).ReluBackward(ReluX, dy), Is.EqualTo(expected), "CpuBackend (vector and scalar tails)");
        var t = CpuTensorBackend.Instance.ReluBackward(DenseTensor.FromArray(3, 6, ReluX), DenseTensor.FromArray(3, 6, dy));
        Assert.That(t.ToArray().ToArray(), Is.EqualTo(expected), "CpuTensorBackend");
    }

    [Test, Category("Gpu")]
    public void ReluGradientAtExactlyZeroIsZeroOnTheDevice()
    {
        using var dev = new DeviceTensorBackend(TestDevice.Get());
        var dy = TestData.NonZeroArray(new Random(5), ReluX.Length);
        using var x = dev.Upload(DenseTensor.FromArray(3, 6, ReluX));
        using var g = dev.Upload(DenseTensor.FromArray(3, 6, dy));
        using var dx = dev.ReluBackward(x, g);
        Assert.That(dx.ToArray().ToArray(), Is.EqualTo(ReluExpected(dy)), "elementwise_relu_backward at x = 0, -0 and denormals");
        using var y = dev.Relu(x);
        Assert.That(y.ToArray().ToArray(), Is.EqualTo(ReluX.Select(v => v > 0 ? v : 0f).ToArray()), "elementwise_relu");
    }

    // ---- ER / ERK per-layer split ---------------------------------------------------------------------------------

    [Test]
    public void ErkSplitMatchesHandComputedValuesWhereErAndErkDiffer()
    {
        // Three layers: 3x3 conv 3->16 (432 weights), 3x3 conv 16->32 (4608), fully connected 32->10 (320); S = 0.8.
        // Budget: 0.2 * 5360 = 1072 nonzeros.
        // ERK raw density (in + out + kh + kw) / weights: 25/432, 54/4608, 42/320. eps = 1072 / (25 + 54 + 42) gives
        // the last layer 42 * 8.86 / 320 > 1: it turns dense (320), eps = (1072 - 320) / (25 + 54) = 752/79.
        //   densities 25*752/(79*432), 54*752/(79*4608), 1 -> counts floor(237.97) = 237, floor(514.03) = 514, 320.
        // ER raw density (in + out) / (in * out), kernel dimensions ignored (RigL's non-kernel formula), applied to all
        // weights: raw x weights = 19/48 * 432 = 171, 48/512 * 4608 = 432, 42; eps = 1072 / 645 caps none:
        //   densities 19/48 * 1072/645, 48/512 * 1072/645, 42/320 * 1072/645 -> counts floor(284.20) = 284, floor(717.99) = 717,
        //   floor(69.80) = 69.
        LayerShape[] layers = [new(3, 16, 3, 3), new(16, 32, 3, 3), new(32, 10)];
        var erk = LayerDensities.Densities(layers, 0.8, DensityDistribution.ErdosRenyiKernel);
        var er = LayerDensities.Densities(layers, 0.8, DensityDistribution.ErdosRenyi);
        Assert.That(erk, Is.EqualTo(new[] { 25.0 * 752 / (79 * 432), 54.0 * 752 / (79 * 4608), 1.0 }).Within(1e-12), "ERK densities");
        Assert.That(er,
            Is.EqualTo(new[] { 19.0 / 48 * 1072 / 645, 48.0 / 512 * 1072 / 645, 42.0 / 320 * 1072 / 645 }).Within(1e-12), "ER densities");
        Assert.That(LayerDensities.Counts(layers, 0.8, DensityDistribution.ErdosRenyiKernel), Is.EqualTo(new long[] { 237, 514, 320 }));
        Assert.That(LayerDensities.Counts(layers, 0.8, DensityDistribution.ErdosRenyi), Is.EqualTo(new long[] { 284, 717, 69 }));
    }

    [Test]
    public void ErSplitOfTheMainMlpMatchesHandComputedValues()
    {
        // 784-300-100-10 at S = 0.9: budget 0.1 * 266200 = 26620. Raw (in + out) / (in * out): eps = 26620 / 1594 makes
        // the 100x10 layer 110 * 16.7 / 1000 > 1: dense (1000); eps = 25620 / (1084 + 400) = 25620/1484.
        // Counts: floor(1084 * 25620/1484) = floor(18714.34) = 18714, floor(400 * 25620/1484) = floor(6905.66) = 6905, 1000.
        int[] mlp = [784, 300, 100, 10];
        Assert.That(LayerDensities.Counts(mlp, 0.9, DensityDistribution.ErdosRenyi), Is.EqualTo(new long[] { 18714, 6905, 1000 }));
        Assert.That(LayerDensities.Counts(mlp, 0.9, DensityDistribution.ErdosRenyiKernel), Is.EqualTo(new long[] { 18714, 6905, 1000 }),
            "a fully connected layer has no kernel dimensions: ERK = ER for an MLP");
    }
}
