using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;
using SparseKernels.Training;

namespace SparseKernels.Tests.Sparsity;

/// <summary>The methods on a device (the emulated one here): RigL/SET drop-grow through the Topology launchers give
/// the CPU's pattern, values and state; GMP/IMP pruning and zapping through host round trips.</summary>
[Category("Gpu")]
public class SparsityDeviceTests
{
    private static (CsrMatrix W, float[] State) Update(ITensorBackend b, GrowRule rule, ulong seed)
    {
        var rng = new Random(17);
        int m = 9, n = 13;
        var w = TestData.CsrExact(rng, m, n, 40);
        var state = TestData.NonZeroArray(rng, 40);
        var x = TestData.Dense(rng, n, 5);
        var dy = TestData.Dense(rng, m, 5);
        using var model = Mlp.FromHost(b, [(null, w, DenseTensor.FromArray(m, 1, new float[m]))]);
        var layer = model.Layers[0];
        var st = DenseTensor.FromArray(1, 40, state);
        layer.Weight.State = [b.Device is null ? st : b.Upload(st)];
        layer.CaptureActivations = true;
        using (var t = new Tape(b))
        {
            var xin = b.Device is null ? x : b.Upload(x);
            var y = model.Forward(t, t.Constant(xin));
            t.Backward(y, dy);
            LayerSurgery.DropGrow(b, layer, 11, rule, seed);
            if (b.Device is not null) xin.Dispose();
        }
        var h = layer.Sparse!.ToHost();
        return (new CsrMatrix(h.Rows, h.Cols, (int[])h.RowOffsets.Clone(), (int[])h.ColumnIndices.Clone(), (float[])h.Values.Clone()), layer.Weight.State[0].ToArray().ToArray());
    }

    [TestCase(nameof(GrowRule.Gradient))]
    [TestCase(nameof(GrowRule.Random))]
    public void DropGrowOnTheDeviceMatchesTheCpu(string ruleName)   // GrowRule is internal; a public test method cannot take it
    {
        var rule = Enum.Parse<GrowRule>(ruleName);
        var device = TestDevice.Get();
        using var dev = new DeviceTensorBackend(device);
        var (wc, sc) = Update(CpuTensorBackend.Instance, rule, 99);
        var (wd, sd) = Update(dev, rule, 99);
        Assert.That(wd.Nnz, Is.EqualTo(40));
        Assert.That(wd.RowOffsets, Is.EqualTo(wc.RowOffsets));
        Assert.That(wd.ColumnIndices, Is.EqualTo(wc.ColumnIndices));
        Assert.That(wd.Values, Is.EqualTo(wc.Values));
        Assert.That(sd, Is.EqualTo(sc));
        Assert.That(wd.Values.Count(v => v == 0f), Is.GreaterThan(0), "some grown weights start at 0");
    }

    [Test]
    public void PruneToAndZapOnTheDevice()
    {
        var device = TestDevice.Get();
        using var dev = new DeviceTensorBackend(device);
        float[] w = [0.5f, -3f, 0.1f, 2f, -0.2f, 1f];
        using var model = Mlp.FromHost(dev, [(DenseTensor.FromArray(2, 3, (float[])w.Clone()), null, DenseTensor.FromArray(2, 1, [0f, 0f]))]);
        var layer = model.Layers[0];
        var mask = LayerSurgery.PruneTo(dev, layer, null, 4, csrBelowDensity: 0.5);
        Assert.That(mask, Is.EqualTo(new[] { true, true, false, true, false, true }), "dense with a mask at density 0.67");
        Assert.That(layer.Weight.Value.ToArray(), Is.EqualTo(new[] { 0.5f, -3f, 0f, 2f, 0f, 1f }));
        mask = LayerSurgery.PruneTo(dev, layer, mask, 2, csrBelowDensity: 0.5);
        Assert.That(mask, Is.Null);
        var h = layer.Sparse!.ToHost();
        Assert.That(h.ColumnIndices, Is.EqualTo(new[] { 1, 0 }));
        Assert.That(h.Values, Is.EqualTo(new[] { -3f, 2f }));
        new Zapping(1, 1, new KaimingNormal(), 5).Zap(model, 0);
        var z = layer.Sparse!.ToHost().Values;
        Assert.That(z.Count(v => v is -3f or 2f), Is.EqualTo(1), "one class row re-initialised");
    }
}
