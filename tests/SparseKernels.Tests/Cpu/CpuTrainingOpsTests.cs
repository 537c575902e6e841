using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Ops;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Cpu;

/// <summary>The CPU backend's training ops against CpuReference's double versions, on fresh random data.</summary>
public class CpuTrainingOpsTests
{
    [TestCase(7, 33)]
    [TestCase(1, 1)]
    [TestCase(10, 129)]
    public void RowSumAndBias_MatchTheReference(int rows, int cols)
    {
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, rows, cols);
        var sums = CpuBackend.Default.RowSum(x, 0.5f);
        var (atol, rtol) = OpsTestSupport.DotTolerance(cols);
        Approx.AssertAllClose(sums.HostData, CpuReference.RowSum(x, 0.5f), atol, rtol, "RowSum");

        var bias = TestData.Dense(rng, rows, 1);
        var y = x.ToHost();
        CpuBackend.Default.AddBiasPerRow(y, bias);
        var want = new double[rows * cols];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) want[r * cols + c] = (double)x[r, c] + bias.HostData[r];
        Approx.AssertAllClose(y.HostData, want, 1e-6, 1e-6, "AddBiasPerRow", cols);
        Assert.Throws<ArgumentException>(() => CpuBackend.Default.AddBiasPerRow(y, TestData.Dense(rng, rows + 1, 1)));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void SoftmaxCrossEntropy_MatchesTheReference(bool hardLabels)
    {
        var rng = TestRng.Fresh();
        int classes = 10, batch = 37;
        var logits = TestData.Dense(rng, classes, batch);
        int[]? labels = hardLabels ? Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray() : null;
        DenseTensor? targets = null;
        if (!hardLabels)
        {
            var (t, _) = CpuReference.SoftmaxCrossEntropy(TestData.Dense(rng, classes, batch), Enumerable.Repeat(0, batch).ToArray(), null);
            targets = DenseTensor.FromArray(classes, batch, t.Select(v => (float)v).ToArray());
        }
        var (p, l) = CpuBackend.Default.SoftmaxCrossEntropy(logits, labels, targets);
        var (pr, lr) = CpuReference.SoftmaxCrossEntropy(logits, labels, targets);
        Approx.AssertAllClose(p.HostData, pr, 1e-6, 1e-5, "probabilities", batch);
        Approx.AssertAllClose(l.HostData, lr, 1e-5, 1e-5, "loss");
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => CpuBackend.Default.SoftmaxCrossEntropy(logits, Enumerable.Repeat(classes, batch).ToArray(), null))!;
        Assert.That(bad.Message, Does.Contain($"label {classes} of sample 0"));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Optimizers_MatchTheReference(bool nesterov)
    {
        var rng = TestRng.Fresh();
        int n = 70_001;   // more than one parallel chunk
        float[] w = TestData.NonZeroArray(rng, n), g = TestData.NonZeroArray(rng, n), v = TestData.NonZeroArray(rng, n);
        var (wr, vr) = CpuReference.SgdMomentum(w, g, v, 0.05, 0.9, 5e-4, nesterov);
        CpuBackend.Default.SgdMomentum(w, g, v, 0.05f, 0.9f, 5e-4f, nesterov);
        Approx.AssertAllClose(w, wr, 1e-6, 1e-5, "SGD weights");
        Approx.AssertAllClose(v, vr, 1e-6, 1e-5, "SGD velocity");

        float[] m = TestData.NonZeroArray(rng, n), s = TestData.NonZeroArray(rng, n).Select(Math.Abs).ToArray();
        var (wa, ma, va) = CpuReference.Adam(w, g, m, s, 1e-3, 0.9, 0.999, 1e-8, 0, 3);
        CpuBackend.Default.Adam(w, g, m, s, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 3);
        Approx.AssertAllClose(w, wa, 1e-6, 1e-5, "Adam weights");
        Approx.AssertAllClose(m, ma, 1e-6, 1e-5, "Adam m");
        Approx.AssertAllClose(s, va, 1e-6, 1e-5, "Adam v");
    }
}
