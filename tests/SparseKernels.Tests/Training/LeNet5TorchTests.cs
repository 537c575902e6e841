using System.Globalization;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Tests.Training;

/// <summary>
/// LeNet-5 against PyTorch 1.13 on the same weights and data, made by formulas (no data set, no random generator; see
/// tests/python/lenet5_golden.py, which prints the expected figures with PyTorch's own conv2d, max_pool2d, linear,
/// cross_entropy and SGD): one forward + backward gives PyTorch's loss, logits and per-layer gradient sums, and 30 SGD
/// steps (momentum 0.9, weight decay 5e-4) give its loss at every step. tests/python/test_lenet5_golden.py checks the
/// script's figures against the same table, so a drift on either side goes red.
/// </summary>
public class LeNet5TorchTests
{
    private const int Batch = 8;

    /// <summary>A value in [-1, 1) per index: the shader hash fract(sin(x) * 43758.5453), in double as the script computes it.</summary>
    private static double Hash(double i, int seed)
    {
        double v = Math.Sin(i * 12.9898 + seed * 78.233) * 43758.5453;
        return (v - Math.Floor(v)) * 2 - 1;
    }

    private static Sequential Model(ITensorBackend b)
    {
        var spec = ModelSpec.Parse("lenet5");
        var layers = new List<(DenseTensor?, CsrMatrix?, DenseTensor)>();
        int k = 0;
        foreach (var (rows, cols) in spec.WeightMatrices)
        {
            var w = new float[(long)rows * cols];
            for (long i = 0; i < w.LongLength; i++) w[i] = (float)(Math.Sqrt(3.0 / cols) * Hash(i, k + 1));
            var bias = new float[rows];
            for (int j = 0; j < rows; j++) bias[j] = (float)(0.05 * Math.Cos(1.7 * j + k));
            layers.Add((DenseTensor.FromArray(rows, cols, w), null, DenseTensor.FromArray(rows, 1, bias)));
            k++;
        }
        return Sequential.FromHost(b, spec, layers);
    }

    /// <summary>Step s's batch, feature-major 784 x 8: sample n = 8 s + j has pixel p = 1.5 hash(784 n + p, 7), label 3 n mod 10.</summary>
    private static (DenseTensor X, Labels Y) BatchOf(int s)
    {
        var x = new float[784 * Batch];
        var y = new int[Batch];
        for (int j = 0; j < Batch; j++)
        {
            long n = (long)s * Batch + j;
            y[j] = (int)(n * 3 % 10);
            for (int p = 0; p < 784; p++) x[p * Batch + j] = (float)(1.5 * Hash(n * 784 + p, 7));
        }
        return (DenseTensor.FromArray(784, Batch, x), new Labels(y));
    }

    // Printed by `python3 tests/python/lenet5_golden.py` (PyTorch 1.13.0, Debian python3-torch, 1 thread).
    private static readonly double[] s_one =
    [
        2.6770107746124268, -0.6498066782951355, -0.5645460486412048, -0.11983368545770645, 1.5632438659667969, -1.3446687459945679,
        -0.18408697843551636, 0.9812866449356079, 0.6684252023696899, -0.16008348762989044, -0.03233354911208153,
        0.1946299732881016, 0.8294830954695926, 0.5300730001181364, 251.5678435862256, 24.785721245520335, 0.5656716894591227,
        340.8820508347619, 53.549957149627474, 0.5424211876525078, 3.061278505356313e-06, 32.48321391110059, 4.0978193283081055e-08,
    ];
    private static readonly double[] s_train =
    [
        2.6770107746124268, 2.3728063106536865, 2.6761813163757324, 2.552626609802246, 2.502701759338379, 2.659707546234131,
        2.462799072265625, 2.41344952583313, 2.4106686115264893, 2.5398242473602295, 2.2097721099853516, 2.1959989070892334,
        2.372490882873535, 2.3141820430755615, 2.3428215980529785, 2.277559518814087, 2.3497424125671387, 2.4010589122772217,
        2.3138604164123535, 2.290651321411133, 2.3510375022888184, 2.3481428623199463, 2.3470215797424316, 2.276047945022583,
        2.3129830360412598, 2.3544013500213623, 2.342313766479492, 2.305037498474121, 2.287109851837158, 2.3069543838500977,
    ];

    [Test]
    public void OneStepMatchesPyTorch()
    {
        var b = new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1));
        using var model = Model(b);
        var (x, labels) = BatchOf(0);
        using var _ = labels;
        using var tape = new Tape(b);
        var logits = model.Forward(tape, tape.Constant(x));
        var loss = Fn.Mean(tape, Fn.SoftmaxCrossEntropy(tape, logits, labels));
        var got = new List<double> { loss.Value.HostData[0] };
        got.AddRange(Enumerable.Range(0, 10).Select(c => (double)logits.Value.HostData[c * Batch]));   // sample 0's logits
        tape.Backward(loss);
        foreach (var l in model.Layers)
        {
            var g = l.Weight.Grad!.HostData;
            got.Add(g.Sum(v => (double)v)); got.Add(g.Sum(v => (double)v * v)); got.Add(l.Bias.Grad!.HostData.Sum(v => (double)v));
        }
        Print("ONE", got);
        // The fc4 weight-gradient sum is ~0 by construction (softmax gradients sum to 0 over the classes): absolute tolerance.
        for (int i = 0; i < got.Count; i++)
            Assert.That(got[i], Is.EqualTo(s_one[i]).Within(1e-4 + 1e-4 * Math.Abs(s_one[i])), $"figure {i} of the one-step table");
    }

    [Test]
    public void ThirtySgdStepsMatchPyTorch()
    {
        var b = new CpuTensorBackend(new SparseKernels.Cpu.CpuBackend(1));
        using var model = Model(b);
        var opt = new SgdOptimizer { Momentum = 0.9f, WeightDecay = 5e-4f, LearningRate = 0.01f };
        var got = new List<double>();
        for (int s = 0; s < s_train.Length; s++)
        {
            var (x, labels) = BatchOf(s);
            using var _ = labels;
            using var tape = new Tape(b);
            var loss = Fn.Mean(tape, Fn.SoftmaxCrossEntropy(tape, model.Forward(tape, tape.Constant(x)), labels));
            got.Add(loss.Value.HostData[0]);
            tape.Backward(loss);
            opt.Step(b, model.Parameters);
        }
        Print("TRAIN", got);
        for (int i = 0; i < got.Count; i++)
            Assert.That(got[i], Is.EqualTo(s_train[i]).Within(1e-3 * s_train[i]), $"the loss of step {i}");
    }

    private static void Print(string what, IEnumerable<double> v)
        => TestContext.Out.WriteLine(what + " " + string.Join(", ", v.Select(d => d.ToString("R", CultureInfo.InvariantCulture))));
}
