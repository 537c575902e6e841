using NUnit.Framework;
using SparseKernels.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace SparseKernels.TorchSharp.Tests;

/// <summary>
/// RigL / SET steps through TorchSharp: nnz kept, the grown set equal to the one computed here independently with
/// TorchSharp's dense ops (top |w| kept, top |dY^T X| grown among the absent), grown weights and their Adam / SGD
/// state at zero, kept weights and state carried with their positions.
/// </summary>
public class SparseConnectivityTests
{
    private static (SparseLinear layer, Tensor x, Tensor target) Setup(int inF, int outF, int batch, double density)
    {
        var layer = new SparseLinear(inF, outF, density, seed: 3);
        manual_seed(1);
        return (layer, randn(batch, inF), randn(batch, outF));
    }

    private static Tensor Scatter(SparseLinear l, Tensor perNnz)
    {
        // out x in dense tensor with perNnz at the pattern
        var csr = l.ToCsr();
        var d = zeros(l.OutFeatures * l.InFeatures);
        var pos = new long[csr.Nnz];
        for (int r = 0; r < csr.Rows; r++)
            for (int p = csr.RowOffsets[r]; p < csr.RowOffsets[r + 1]; p++) pos[p] = (long)r * csr.Cols + csr.ColumnIndices[p];
        d.index_put_(perNnz.detach().clone(), tensor(pos));
        return d.reshape(l.OutFeatures, l.InFeatures);
    }

    [Test]
    public void Rigl_step_grows_the_top_gradients_and_zeroes_grown_adam_state()
    {
        var (layer, x, target) = Setup(40, 24, 16, 0.2);
        var opt = optim.Adam(layer.parameters(), lr: 0.01);
        var rigl = new SparseConnectivity(GrowthRule.Gradient, alpha: 0.3, updateEvery: 10);
        rigl.Attach(layer);
        // a few ordinary steps so that the weights and the Adam moments are non-trivial
        for (int s = 1; s <= 3; s++)
        {
            opt.zero_grad();
            nn.functional.mse_loss(layer.forward(x), target).backward();
            Assert.That(rigl.Step(layer, s, 100, opt), Is.False, $"step {s} is no update step");
            opt.step();
        }
        opt.zero_grad();
        var y = layer.forward(x);
        var yd = y.detach();
        nn.functional.mse_loss(y, target).backward();
        var dy = (2.0f / (yd.numel())) * (yd - target);   // d mse / dy

        int nnz = layer.Nnz;
        var wOld = layer.ToDense();
        var maskOld = layer.Mask();
        var st = (global::TorchSharp.Modules.Adam.State)opt.state_dict().State[0];
        var m1Old = Scatter(layer, st.exp_avg);
        var m2Old = Scatter(layer, st.exp_avg_sq);

        Assert.That(rigl.Step(layer, 10, 100, opt), Is.True);
        long count = rigl.LastCounts[0];
        Assert.That(count, Is.GreaterThan(0));
        Assert.That(layer.Nnz, Is.EqualTo(nnz));

        // expected, with TorchSharp's dense ops: keep the nnz - count largest |w| of the pattern, grow the count
        // largest |dY^T X| among the positions absent after the drop
        var score = (wOld.abs() + 1).mul(maskOld).flatten();               // absent positions score 0
        var keptIdx = score.topk(nnz - (int)count).indexes;
        var kept = zeros(wOld.numel()); kept.index_put_(ones(keptIdx.shape[0]), keptIdx);
        var g = dy.t().matmul(x).abs().flatten();
        var gCand = g.masked_fill(kept.to(ScalarType.Bool), -1);
        var grownIdx = gCand.topk((int)count).indexes;
        var grown = zeros(wOld.numel()); grown.index_put_(ones(count), grownIdx);
        var expected = (kept + grown).reshape(wOld.shape);

        var maskNew = layer.Mask();
        Assert.That(maskNew.eq(expected).all().item<bool>(), Is.True, "the new pattern is kept + top-|G| grown");
        // newly grown: grown and absent before (a position dropped and regrown in the same update keeps its value
        // and state, as the engine's CsrRebuild does); carried: present before and after
        var grownMask = grown.reshape(wOld.shape) * (1 - maskOld);
        var keptMask = maskNew * maskOld;
        Assert.That(grownMask.sum().item<float>(), Is.GreaterThan(0f), "the update grew new positions");
        var wNew = layer.ToDense();
        Assert.That((wNew * grownMask).abs().max().item<float>(), Is.EqualTo(0f), "grown weights start at 0");
        Assert.That((wNew * keptMask).eq(wOld * keptMask).all().item<bool>(), Is.True, "kept weights keep their values");
        var st2 = (global::TorchSharp.Modules.Adam.State)opt.state_dict().State[0];
        var m1New = Scatter(layer, st2.exp_avg);
        var m2New = Scatter(layer, st2.exp_avg_sq);
        Assert.That((m1New * grownMask).abs().max().item<float>(), Is.EqualTo(0f), "grown exp_avg is 0");
        Assert.That((m2New * grownMask).abs().max().item<float>(), Is.EqualTo(0f), "grown exp_avg_sq is 0");
        Assert.That((m1Old * keptMask).abs().max().item<float>(), Is.GreaterThan(0f), "the test has non-zero state to carry");
        Assert.That((m1New * keptMask).eq(m1Old * keptMask).all().item<bool>(), Is.True, "kept exp_avg carried with its position");
        Assert.That((m2New * keptMask).eq(m2Old * keptMask).all().item<bool>(), Is.True, "kept exp_avg_sq carried with its position");
        // gradient carried too (grown: 0)
        Assert.That((Scatter(layer, layer.Values.grad!) * grownMask).abs().max().item<float>(), Is.EqualTo(0f));

        // training goes on with the new pattern
        opt.zero_grad();
        nn.functional.mse_loss(layer.forward(x), target).backward();
        opt.step();
        layer.Dispose();
    }

    [Test]
    public void Set_step_keeps_nnz_and_zeroes_grown_sgd_momentum()
    {
        var (layer, x, target) = Setup(30, 20, 8, 0.25);
        var opt = optim.SGD(layer.parameters(), 0.05, momentum: 0.9);
        var set = new SparseConnectivity(GrowthRule.Random, alpha: 0.5, updateEvery: 5, seed: 9);
        set.Attach(layer);
        opt.zero_grad();
        nn.functional.mse_loss(layer.forward(x), target).backward();
        opt.step();
        opt.zero_grad();
        nn.functional.mse_loss(layer.forward(x), target).backward();
        int nnz = layer.Nnz;
        var maskOld = layer.Mask();
        Assert.That(set.Step(layer, 5, 100, opt), Is.True);
        Assert.That(layer.Nnz, Is.EqualTo(nnz));
        var maskNew = layer.Mask();
        Assert.That(maskNew.sum().item<float>(), Is.EqualTo((float)nnz));
        var grownOnly = maskNew * (1 - maskOld);
        Assert.That(grownOnly.sum().item<float>(), Is.GreaterThan(0f), "SET moved some weights");
        Assert.That((layer.ToDense() * grownOnly).abs().max().item<float>(), Is.EqualTo(0f));
        var mb = ((global::TorchSharp.Modules.SGD.State)opt.state_dict().State[0]).momentum_buffer;
        Assert.That((Scatter(layer, mb) * grownOnly).abs().max().item<float>(), Is.EqualTo(0f), "grown momentum is 0");
        layer.Dispose();
    }

    [Test]
    public void Rigl_without_attach_says_what_to_do()
    {
        var (layer, x, target) = Setup(10, 6, 4, 0.5);
        nn.functional.mse_loss(layer.forward(x), target).backward();
        var rigl = new SparseConnectivity(GrowthRule.Gradient, updateEvery: 1);
        var e = Assert.Throws<InvalidOperationException>(() => rigl.Step(layer, 0, 10));
        Assert.That(e!.Message, Does.Contain("Attach(model)"));
        layer.Dispose();
    }

    [Test]
    public void Layers_are_found_in_a_sequential_model()
    {
        var model = nn.Sequential(("fc1", new SparseLinear(8, 6, 0.5)), ("relu", nn.ReLU()), ("fc2", new SparseLinear(6, 3, 0.5)));
        Assert.That(SparseConnectivity.Layers(model).Count, Is.EqualTo(2));
        Assert.That(model.parameters().Count(), Is.EqualTo(4));
    }
}
