using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Ops;
using SparseKernels.Tests.Support;
using static SparseKernels.Tests.Autograd.AutogradSupport;

namespace SparseKernels.Tests.Autograd;

/// <summary>
/// The autograd ops: finite-difference gradient checks on the CPU backend (central differences, eps 1e-2 in
/// float32, objective summed in double; tolerance 2e-3 + 2e-2 |fd|), and device-vs-CPU agreement of forward
/// and backward (tolerance 1e-4 + 1e-3 |cpu|) on the test device.
/// </summary>
public class AutogradTests
{
    // Graph builders over fixed host data; each call wraps the same arrays (the CPU backend) or uploads them.
    private static Var In(ITensorBackend b, Tape t, DenseTensor host)
    {
        if (b.Device is null) return t.Input(host);
        var d = b.Upload(host);
        var v = t.Input(d);
        t.Record(d, [], _ => { });   // let the tape free the upload
        return v;
    }

    private static GraphBuilder LinearGraph(Random rng, int inF, int outF, int batch)
    {
        var x = Dense(rng, inF, batch); var w = Dense(rng, outF, inF);
        return (b, t) => { var xv = In(b, t, x); var wv = In(b, t, w); return (Fn.Linear(t, xv, wv), [xv, wv]); };
    }

    private static GraphBuilder SparseLinearGraph(Random rng, int inF, int outF, int batch, double density, List<IDisposable> owned)
    {
        var x = Dense(rng, inF, batch);
        var csr = TestData.Csr(rng, outF, inF, density, emptyRows: 2);
        return (b, t) =>
        {
            var sw = new SparseWeight(b.Device is null ? csr : csr.ToHost(), b);
            owned.Add(sw);
            var xv = In(b, t, x);
            return (Fn.SparseLinear(t, xv, sw), [xv, sw.Values]);
        };
    }

    private static GraphBuilder BiasGraph(Random rng, int f, int batch)
    {
        var x = Dense(rng, f, batch); var bias = Dense(rng, f, 1);
        return (b, t) => { var xv = In(b, t, x); var bv = In(b, t, bias); return (Fn.BiasAdd(t, xv, bv), [xv, bv]); };
    }

    private static GraphBuilder ReluGraph(Random rng, int f, int batch)
    {
        var x = Dense(rng, f, batch);
        return (b, t) => { var xv = In(b, t, x); return (Fn.Relu(t, xv), [xv]); };
    }

    private static GraphBuilder MeanGraph(Random rng, int f, int batch)
    {
        var x = Dense(rng, f, batch);
        return (b, t) => { var xv = In(b, t, x); return (Fn.Mean(t, xv), [xv]); };
    }

    private static GraphBuilder ScaleAddGraph(Random rng, int f, int batch)
    {
        var x = Dense(rng, f, batch); var z = Dense(rng, f, batch);
        return (b, t) => { var xv = In(b, t, x); var zv = In(b, t, z); return (Fn.AddScaled(t, 0.7f, Fn.Scale(t, xv, -1.5f), 2.5f, zv), [xv, zv]); };
    }

    private static Labels MakeLabels(ITensorBackend b, Tape t, int[] host)
    {
        if (b.Device is null) return new Labels(host);
        var d = b.Device.Allocate<int>(host.Length);
        d.CopyFrom(host);
        return new Labels(d);   // small; freed by the finalizer
    }

    private static GraphBuilder CrossEntropyGraph(Random rng, int classes, int batch)
    {
        var z = Dense(rng, classes, batch);
        for (int i = 0; i < z.Length; i++) z.HostData[i] *= 3;
        var labels = Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
        return (b, t) => { var zv = In(b, t, z); return (Fn.SoftmaxCrossEntropy(t, zv, MakeLabels(b, t, labels)), [zv]); };
    }

    private static GraphBuilder SoftTargetGraph(Random rng, int classes, int batch)
    {
        var z = Dense(rng, classes, batch);
        var target = DenseTensor.Zeros(classes, batch);
        for (int s = 0; s < batch; s++)
        {
            double sum = 0; var p = new double[classes];
            for (int c = 0; c < classes; c++) { p[c] = rng.NextDouble() + 0.05; sum += p[c]; }
            for (int c = 0; c < classes; c++) target[c, s] = (float)(p[c] / sum);
        }
        return (b, t) =>
        {
            var zv = In(b, t, z);
            var tg = b.Upload(target); t.Record(tg, [], _ => { });
            return (Fn.SoftmaxCrossEntropy(t, zv, null, tg), [zv]);
        };
    }

    private static GraphBuilder MeanCrossEntropyGraph(Random rng, int classes, int batch)
    {
        var inner = CrossEntropyGraph(rng, classes, batch);
        return (b, t) => { var (o, wrt) = inner(b, t); return (Fn.Mean(t, o), wrt); };
    }

    private static GraphBuilder DistillationGraph(Random rng, int classes, int batch, float temperature, float alpha)
    {
        var z = Dense(rng, classes, batch);
        var teacher = Dense(rng, classes, batch);
        for (int i = 0; i < teacher.Length; i++) teacher.HostData[i] *= 4;
        var labels = Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
        return (b, t) =>
        {
            var zv = In(b, t, z);
            var tl = b.Upload(teacher); t.Record(tl, [], _ => { });
            return (Fn.DistillationLoss(t, zv, tl, MakeLabels(b, t, labels), temperature, alpha), [zv]);
        };
    }

    /// <summary>A small MLP: sparse linear, bias, ReLU, dense linear, bias, mean cross-entropy; x feeds two branches (accumulation).</summary>
    private static GraphBuilder MlpGraph(Random rng, List<IDisposable> owned)
    {
        int inF = 13, hidden = 9, classes = 5, batch = 7;
        var x = Dense(rng, inF, batch);
        var csr = TestData.Csr(rng, hidden, inF, 0.4);
        var b1 = Dense(rng, hidden, 1); var w2 = Dense(rng, classes, hidden); var b2 = Dense(rng, classes, 1);
        var w3 = Dense(rng, classes, inF);
        var labels = Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
        return (b, t) =>
        {
            var sw = new SparseWeight(b.Device is null ? csr : csr.ToHost(), b); owned.Add(sw);
            var xv = In(b, t, x); var b1v = In(b, t, b1); var w2v = In(b, t, w2); var b2v = In(b, t, b2); var w3v = In(b, t, w3);
            var h = Fn.Relu(t, Fn.BiasAdd(t, Fn.SparseLinear(t, xv, sw), b1v));
            var logits = Fn.AddScaled(t, 1f, Fn.BiasAdd(t, Fn.Linear(t, h, w2v), b2v), 0.5f, Fn.Linear(t, xv, w3v));
            return (Fn.Mean(t, Fn.SoftmaxCrossEntropy(t, logits, MakeLabels(b, t, labels))), [xv, sw.Values, b1v, w2v, b2v, w3v]);
        };
    }

    private static IEnumerable<TestCaseData> Graphs()
    {
        yield return new TestCaseData("linear 7->5, batch 3", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => LinearGraph(r, 7, 5, 3)));
        yield return new TestCaseData("linear 1->1, batch 1", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => LinearGraph(r, 1, 1, 1)));
        yield return new TestCaseData("linear 33->17, batch 19", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => LinearGraph(r, 33, 17, 19)));
        yield return new TestCaseData("sparse linear 11->9, batch 5, 30 %", (Func<Random, List<IDisposable>, GraphBuilder>)((r, o) => SparseLinearGraph(r, 11, 9, 5, 0.3, o)));
        yield return new TestCaseData("sparse linear 40->6, batch 1, 10 %", (Func<Random, List<IDisposable>, GraphBuilder>)((r, o) => SparseLinearGraph(r, 40, 6, 1, 0.1, o)));
        yield return new TestCaseData("bias 6, batch 4", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => BiasGraph(r, 6, 4)));
        yield return new TestCaseData("relu 5x7", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => ReluGraph(r, 5, 7)));
        yield return new TestCaseData("mean 3x9", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => MeanGraph(r, 3, 9)));
        yield return new TestCaseData("scale + add", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => ScaleAddGraph(r, 4, 5)));
        yield return new TestCaseData("cross-entropy 10 classes, batch 6", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => CrossEntropyGraph(r, 10, 6)));
        yield return new TestCaseData("mean cross-entropy 3 classes, batch 1", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => MeanCrossEntropyGraph(r, 3, 1)));
        yield return new TestCaseData("soft-target KL 7 classes, batch 5", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => SoftTargetGraph(r, 7, 5)));
        yield return new TestCaseData("distillation T=3 alpha=0.7", (Func<Random, List<IDisposable>, GraphBuilder>)((r, _) => DistillationGraph(r, 10, 4, 3f, 0.7f)));
        yield return new TestCaseData("MLP (sparse + dense, accumulation)", (Func<Random, List<IDisposable>, GraphBuilder>)((r, o) => MlpGraph(r, o)));
    }

    [TestCaseSource(nameof(Graphs))]
    public void GradientMatchesFiniteDifferences(string name, Func<Random, List<IDisposable>, GraphBuilder> make)
    {
        var rng = TestRng.Fresh();
        var owned = new List<IDisposable>();
        try { GradCheck(make(rng, owned), rng); }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    [TestCaseSource(nameof(Graphs)), Category("Gpu")]
    public void DeviceAgreesWithCpu(string name, Func<Random, List<IDisposable>, GraphBuilder> make)
    {
        var device = TestDevice.Get();
        using var backend = new DeviceTensorBackend(device);
        var rng = TestRng.Fresh();
        var owned = new List<IDisposable>();
        try { DeviceAgrees(backend, make(rng, owned), rng); }
        finally { owned.ForEach(o => o.Dispose()); }
    }

    [Test]
    public void GradientsAccumulateWhenANodeIsUsedTwice()
    {
        var x = DenseTensor.FromArray(1, 2, [3f, -2f]);
        using var t = new Tape(CpuTensorBackend.Instance);
        var xv = t.Input(x);
        var y = Fn.AddScaled(t, 2f, xv, 3f, xv);   // y = 5x
        t.Backward(y);
        Assert.That(xv.Grad!.ToArray(), Is.EqualTo(new[] { 5f, 5f }));
    }

    [Test]
    public void ShapeMismatchesNameTheShapes()
    {
        using var t = new Tape(CpuTensorBackend.Instance);
        var x = t.Input(DenseTensor.Zeros(4, 2));
        var w = t.Input(DenseTensor.Zeros(3, 5));
        var e = Assert.Throws<ArgumentException>(() => Fn.Linear(t, x, w))!;
        Assert.That(e.Message, Does.Contain("3x5").And.Contain("4 features"));
        var bad = new Labels([0, 7]);
        var z = t.Input(DenseTensor.Zeros(5, 2));
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Fn.SoftmaxCrossEntropy(t, z, bad))!;
        Assert.That(e2.Message, Does.Contain("label 7 of sample 1"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Fn.DistillationLoss(t, z, DenseTensor.Zeros(5, 2), new Labels([0, 1]), 0f, 0.5f));
    }
}
