using NUnit.Framework;
using SparseKernels.Tensors;
using SparseKernels.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace SparseKernels.TorchSharp.Tests;

/// <summary>
/// SparseLinear against TorchSharp's own dense computation on the masked weight: functional.linear(x, w * mask, b),
/// forward, input gradient and weight gradient (gathered at the pattern, in CSR order), fp32 tolerance.
/// </summary>
public class SparseLinearTests
{
    private const double Tol = 1e-4;

    /// <summary>Runs the layer and the dense reference on the same x and the same upstream gradient, and compares.</summary>
    private static void CheckAgainstDense(SparseLinear layer, int batch, int seed)
    {
        using var scope = NewDisposeScope();
        manual_seed(seed);
        var x0 = randn(batch, layer.InFeatures);
        var gy = randn(batch, layer.OutFeatures);

        // ours
        var x = x0.clone().requires_grad_(true);
        foreach (var p in layer.parameters()) p.grad = null;
        var y = layer.forward(x);
        y.backward([gy]);

        // TorchSharp dense: the masked weight
        var mask = layer.Mask();
        var w = layer.ToDense().requires_grad_(true);
        var xr = x0.clone().requires_grad_(true);
        var b = layer.Bias is null ? null : layer.Bias.detach().clone().requires_grad_(true);
        var yr = nn.functional.linear(xr, w * mask, b);
        yr.backward([gy]);

        AssertClose(y, yr, "y");
        AssertClose(x.grad!, xr.grad!, "dx");
        // weight gradient at the pattern, CSR order
        var csr = layer.ToCsr();
        var pos = new long[csr.Nnz];
        for (int r = 0; r < csr.Rows; r++)
            for (int p = csr.RowOffsets[r]; p < csr.RowOffsets[r + 1]; p++) pos[p] = (long)r * csr.Cols + csr.ColumnIndices[p];
        var gwRef = w.grad!.flatten().index_select(0, tensor(pos));
        AssertClose(layer.Values.grad!, gwRef, "dW values");
        if (b is not null) AssertClose(layer.Bias!.grad!, b.grad!, "db");
    }

    private static void AssertClose(Tensor got, Tensor want, string what)
    {
        Assert.That(got.shape, Is.EqualTo(want.shape), $"{what}: shape");
        if (want.numel() == 0) return;
        double scale = Math.Max(1.0, want.abs().max().item<float>());
        double err = (got - want).abs().max().item<float>();
        Assert.That(err, Is.LessThanOrEqualTo(Tol * scale), $"{what}: max |got - want| = {err} (scale {scale})");
    }

    [TestCase(7, 5, 3, 0.5)]
    [TestCase(33, 17, 1, 0.3)]     // batch 1
    [TestCase(130, 65, 9, 0.1)]
    [TestCase(257, 129, 64, 0.05)] // big enough for the engine's parallel paths
    [TestCase(1, 1, 2, 1.0)]
    public void Random_pattern_matches_dense_masked_linear(int inF, int outF, int batch, double density)
    {
        using var layer = new SparseLinear(inF, outF, density, hasBias: true, seed: 7);
        CheckAgainstDense(layer, batch, seed: inF);
    }

    [Test]
    public void Empty_rows_and_no_bias_match()
    {
        manual_seed(3);
        var mask = rand(23, 31) < 0.2;
        mask[3] = zeros(31, ScalarType.Bool);     // empty rows, including the first and last
        mask[0] = zeros(31, ScalarType.Bool);
        mask[22] = zeros(31, ScalarType.Bool);
        var w = randn(23, 31);
        using var layer = SparseLinear.FromMask(mask, w);
        Assert.That(layer.Bias, Is.Null);
        Assert.That(layer.Nnz, Is.EqualTo(mask.sum().item<long>()));
        CheckAgainstDense(layer, batch: 5, seed: 11);
    }

    [Test]
    public void From_dense_keeps_the_nonzeros()
    {
        var w = tensor(new float[] { 0, 2, 0, -1, 0, 0, 3, 0 }, [2, 4]);
        using var layer = SparseLinear.FromDense(w, bias: tensor(new float[] { 0.5f, -0.5f }));
        Assert.That(layer.Nnz, Is.EqualTo(3));
        Assert.That(layer.ToDense().data<float>().ToArray(), Is.EqualTo(w.data<float>().ToArray()));
        CheckAgainstDense(layer, batch: 4, seed: 1);
    }

    [Test]
    public void Dlmc_pattern_matches_dense_masked_linear()
    {
        // a 1000 x 2048 layer of ResNet-50 at 98 % (magnitude pruning)
        var csr = SparseKernels.Tests.Support.Dlmc.Load("rn50/magnitude_pruning/0.98/final_dense.smtx", new Random(5));
        var dense = csr.ToDense();
        using var w = tensor(dense.HostData, [csr.Rows, csr.Cols]);
        using var mask = w.ne(0);
        Assert.That(mask.sum().item<long>(), Is.EqualTo(csr.Nnz), "the values drawn for the pattern are nonzero");
        using var layer = SparseLinear.FromMask(mask, w, bias: randn(csr.Rows));
        Assert.That(layer.Nnz, Is.EqualTo(csr.Nnz));
        CheckAgainstDense(layer, batch: 32, seed: 2);
    }

    [Test]
    public void Create_uses_the_engine_layer_densities()
    {
        var layers = SparseLinear.Create([784, 300, 100, 10], 0.9, Sparsity.DensityDistribution.ErdosRenyiKernel, seed: 1);
        var counts = Sparsity.LayerDensities.Counts([784, 300, 100, 10], 0.9, Sparsity.DensityDistribution.ErdosRenyiKernel);
        Assert.That(layers.Select(l => (long)l.Nnz), Is.EqualTo(counts));
        Assert.That(layers.Select(l => (l.InFeatures, l.OutFeatures)), Is.EqualTo(new[] { (784, 300), (300, 100), (100, 10) }));
        foreach (var l in layers) l.Dispose();
    }

    [Test]
    public void Parameters_and_state_dict_hold_values_bias_and_pattern()
    {
        using var layer = new SparseLinear(20, 10, 0.3, seed: 4);
        var names = layer.named_parameters().Select(p => p.name).ToArray();
        Assert.That(names, Is.EquivalentTo(new[] { "values", "bias" }));
        Assert.That(layer.parameters().First().shape, Is.EqualTo(new long[] { layer.Nnz }));
        var sd = layer.state_dict();
        Assert.That(sd.Keys, Is.EquivalentTo(new[] { "values", "bias", "row_offsets", "column_indices" }));

        // save / load round trip into a layer with another pattern of the same nnz
        string file = Path.GetTempFileName();
        try
        {
            layer.save(file);
            using var other = new SparseLinear(20, 10, 0.3, seed: 99);
            Assert.That(other.Nnz, Is.EqualTo(layer.Nnz));
            other.load(file);
            Assert.That(other.ToDense().eq(layer.ToDense()).all().item<bool>(), Is.True);
            Assert.That(other.RowOffsets.eq(layer.RowOffsets).all().item<bool>(), Is.True);
        }
        finally { File.Delete(file); }
    }

    [Test]
    public void An_optimizer_step_trains_the_values()
    {
        using var layer = new SparseLinear(16, 4, 0.5, seed: 2);
        var opt = optim.Adam(layer.parameters(), lr: 0.05);
        manual_seed(0);
        var x = randn(32, 16);
        var target = randn(32, 4);
        float first = 0, last = 0;
        for (int i = 0; i < 50; i++)
        {
            opt.zero_grad();
            using var loss = nn.functional.mse_loss(layer.forward(x), target);
            loss.backward();
            opt.step();
            if (i == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.That(last, Is.LessThan(first * 0.8), $"loss {first} -> {last}");
    }

    /// <summary>
    /// gradcheck-style finite differences: the backward is the derivative of the forward, for every element of x, of the
    /// values and of the bias. TorchSharp 0.107 has no <c>gradcheck</c>, and the layer has no double path (the engine
    /// computes in float32 and refuses float64 input), so the check runs in float32: central differences with
    /// h = 0.125 of L = sum(y * g) summed in double, divided by the step actually taken after float32 rounding. y is
    /// linear in x, in the values and in the bias, so the central difference has no truncation error and only the
    /// float32 rounding of y is left (about 1e-7 relative per element, ~1e-5 after dividing by 2h): tolerance 1e-3 of
    /// max(1, |gradient|).
    /// </summary>
    [TestCase(11, 6, 3, 0.4)]
    [TestCase(70, 9, 2, 0.3)]   // rows longer than a vector; batch smaller than one
    public void Gradients_match_fp32_finite_differences(int inF, int outF, int batch, double density)
    {
        using var scope = NewDisposeScope();
        using var layer = new SparseLinear(inF, outF, density, hasBias: true, seed: 5);
        manual_seed(9);
        var x = randn(batch, inF);
        var g = randn(batch, outF);
        var gd = g.data<float>().ToArray();

        var xg = x.clone().requires_grad_(true);
        layer.forward(xg).backward([g]);
        var dx = xg.grad!.data<float>().ToArray();
        var dv = layer.Values.grad!.data<float>().ToArray();
        var db = layer.Bias!.grad!.data<float>().ToArray();

        double Loss()
        {
            using var _ = no_grad();
            using var y = layer.forward(x);
            var yd = y.data<float>().ToArray();
            double l = 0;
            for (int i = 0; i < yd.Length; i++) l += (double)yd[i] * gd[i];
            return l;
        }
        void Check(Tensor t, float[] analytic, string what)
        {
            const float h = 0.125f;
            using var flat = t.detach().view(-1);   // the same storage, indexed by element
            var acc = flat.data<float>();
            for (int i = 0; i < analytic.Length; i++)
            {
                float v = acc[i];
                float up = v + h, down = v - h;
                double lu, ld;
                using (no_grad()) { acc[i] = up; lu = Loss(); acc[i] = down; ld = Loss(); acc[i] = v; }
                double fd = (lu - ld) / ((double)up - down);
                Assert.That(Math.Abs(fd - analytic[i]), Is.LessThanOrEqualTo(1e-3 * Math.Max(1, Math.Abs(fd))),
                    $"{what}[{i}]: finite difference {fd}, backward {analytic[i]}");
            }
        }
        Check(x, dx, "dx");
        Check(layer.Values, dv, "dvalues");
        Check(layer.Bias, db, "dbias");
    }

    // ------------------------------------------------------------ bad input

    [Test]
    public void Non_contiguous_input_is_refused_naming_x()
    {
        using var layer = new SparseLinear(6, 3, 0.5);
        using var xt = randn(6, 4).t();   // 4 x 6, not contiguous
        var e = Assert.Throws<ArgumentException>(() => layer.forward(xt))!;
        Assert.That(e.Message, Does.Contain("x is not contiguous"));
    }

    [Test]
    public void Float64_input_is_refused()
    {
        using var layer = new SparseLinear(6, 3, 0.5);
        using var x = randn(4, 6, ScalarType.Float64);
        var e = Assert.Throws<ArgumentException>(() => layer.forward(x))!;
        Assert.That(e.Message, Does.Contain("x has dtype Float64"));
    }

    [Test]
    public void Wrong_shape_is_refused()
    {
        using var layer = new SparseLinear(6, 3, 0.5);
        using var x = randn(4, 7);
        var e = Assert.Throws<ArgumentException>(() => layer.forward(x))!;
        Assert.That(e.Message, Does.Contain("takes 6 input features"));
        using var x3 = randn(2, 4, 6);
        Assert.That(Assert.Throws<ArgumentException>(() => layer.forward(x3))!.Message, Does.Contain("2-D"));
    }

    [Test]
    public void Cuda_input_without_a_gpu_is_a_clear_error()
    {
        using var layer = new SparseLinear(6, 3, 0.5);
        if (cuda.is_available())
        {
            using var xc = randn(4, 6).cuda();
            Assert.That(Assert.Throws<NotSupportedException>(() => layer.forward(xc))!.Message, Does.Contain("CPU tensors only"));
            return;
        }
        // TorchSharp-cpu refuses to make a CUDA tensor at all: that error is what a user without a GPU sees first
        var e = Assert.Catch(() => randn(4, 6).cuda());
        Assert.That(e!.Message, Does.Contain("CUDA").IgnoreCase);
        // a tensor on another non-CPU device (meta) is refused by the layer, naming x and its device
        using var xm = empty(4, 6, device: new Device(DeviceType.META));
        Assert.That(Assert.Throws<NotSupportedException>(() => layer.forward(xm))!.Message, Does.Contain("x is on meta"));
    }
}
