using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Tests.Sparsity;

/// <summary>Every sparsity rule on tiny layers with numbers checked by hand (CPU backend).</summary>
public class SparsityRuleTests
{
    private static readonly ITensorBackend Cpu = CpuTensorBackend.Instance;

    // ---- layer densities ----

    [Test]
    public void ErBudgetsAreExact()
    {
        // 4-6-2: raw (4+6)/24 and (6+2)/12; S = 0.5 -> budget 18 = eps (10 + 8) -> eps = 1 -> 10 and 8.
        Assert.That(LayerDensities.Counts([4, 6, 2], 0.5, DensityDistribution.ErdosRenyi), Is.EqualTo(new long[] { 10, 8 }));
        // S = 0.7 -> budget 10.8, eps = 0.6 -> 6 and floor(4.8) = 4 (floor, not rounding).
        Assert.That(LayerDensities.Counts([4, 6, 2], 0.7, DensityDistribution.ErdosRenyi), Is.EqualTo(new long[] { 6, 4 }));
    }

    [Test]
    public void ErCapsDenseLayersAndRecomputesEps()
    {
        // 10-10-2: raw 0.2 (100 weights), 0.6 (20). S = 0.5: budget 60, eps = 60/32 = 1.875 puts layer 1 at 1.125 > 1:
        // it becomes dense (20) and eps = 40 / 20 = 2 -> layer 0 at 0.4 -> 40.
        Assert.That(LayerDensities.Counts([10, 10, 2], 0.5, DensityDistribution.ErdosRenyi), Is.EqualTo(new long[] { 40, 20 }));
        Assert.That(LayerDensities.Counts([10, 10, 2], 0.5, DensityDistribution.ErdosRenyiKernel), Is.EqualTo(new long[] { 40, 20 }), "ERK = ER for fully connected layers");
    }

    [Test]
    public void UniformAndKeepDenseOptions()
    {
        Assert.That(LayerDensities.Counts([4, 6, 2], 0.5, DensityDistribution.Uniform), Is.EqualTo(new long[] { 12, 6 }));
        Assert.That(LayerDensities.Counts([4, 6, 2], 0.9, DensityDistribution.Uniform), Is.EqualTo(new long[] { 2, 1 }));
        Assert.That(LayerDensities.Counts([4, 6, 2], 0.5, DensityDistribution.Uniform, lastDense: true), Is.EqualTo(new long[] { 12, 12 }));
        // ER with the last layer kept dense (RigL: left out of the budget): layer 0 alone, budget 0.5 x 24 = 12 -> 12.
        Assert.That(LayerDensities.Counts([4, 6, 2], 0.5, DensityDistribution.ErdosRenyi, lastDense: true), Is.EqualTo(new long[] { 12, 12 }));
        // 10-10-2 with the first layer kept dense: layer 1 alone, budget 0.5 x 20 = 10 (charging the 100 dense
        // weights to the budget of 60 threw before).
        Assert.That(LayerDensities.Counts([10, 10, 2], 0.5, DensityDistribution.ErdosRenyi, firstDense: true), Is.EqualTo(new long[] { 100, 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerDensities.Counts([4, 6, 2], 1.0, DensityDistribution.Uniform));
    }

    [Test]
    public void ErkBudgetOnTheRealModelMatchesTheTarget()
    {
        var c = LayerDensities.Counts([784, 300, 100, 10], 0.9, DensityDistribution.ErdosRenyiKernel);
        long total = 784 * 300 + 300 * 100 + 100 * 10;
        Assert.That(c.Sum(), Is.LessThanOrEqualTo((long)(0.1 * total)).And.GreaterThan((long)(0.1 * total) - 3), "floor per layer: at most one short per layer");
        Assert.That(c[2], Is.EqualTo(1000), "the 100x10 layer is dense under ERK at 90 %");
        var sp = LayerDensities.ToSparsity([784, 300, 100, 10], c);
        using var m = Mlp.Create(Cpu, [784, 300, 100, 10], sp, new KaimingNormal(), new TrainRng(3));
        Assert.That(m.Layers.Select(l => l.WeightCount), Is.EqualTo(c), "Mlp.Create draws exactly the counted nonzeros");
    }

    // ---- schedules ----

    [Test]
    public void CosineDropScheduleValues()
    {
        Assert.That(DropSchedule.CosineFraction(0.3, 0, 100), Is.EqualTo(0.3).Within(1e-12));
        Assert.That(DropSchedule.CosineFraction(0.3, 50, 100), Is.EqualTo(0.15).Within(1e-12));
        Assert.That(DropSchedule.CosineFraction(0.3, 100, 100), Is.EqualTo(0).Within(1e-12));
        Assert.That(DropSchedule.Count(0.3, 50, 100, 1000), Is.EqualTo(150));
        Assert.That(DropSchedule.Count(0.3, 25, 100, 10), Is.EqualTo(2), "0.15 (1 + cos(pi/4)) x 10 = 2.56 -> 2");
        Assert.That(DropSchedule.EndStep(0.75, 1000), Is.EqualTo(750));
        Assert.That(DropSchedule.IsUpdateStep(100, 100, 750), Is.True);
        Assert.That(DropSchedule.IsUpdateStep(0, 100, 750), Is.True, "RigL's is_mask_update_iter: from t = 0");
        Assert.That(DropSchedule.IsUpdateStep(150, 100, 750), Is.False);
        Assert.That(DropSchedule.IsUpdateStep(700, 100, 700), Is.True, "up to T_end inclusive");
        Assert.That(DropSchedule.IsUpdateStep(800, 100, 750), Is.False);
    }

    [Test]
    public void GmpCubicScheduleValues()
    {
        Assert.That(Gmp.SparsityAt(0.9, 0, 0, 100), Is.EqualTo(0).Within(1e-12));
        Assert.That(Gmp.SparsityAt(0.9, 50, 0, 100), Is.EqualTo(0.7875).Within(1e-12));
        Assert.That(Gmp.SparsityAt(0.9, 25, 0, 100), Is.EqualTo(0.5203125).Within(1e-12));
        Assert.That(Gmp.SparsityAt(0.9, 100, 0, 100), Is.EqualTo(0.9).Within(1e-12));
        Assert.That(Gmp.SparsityAt(0.9, 5, 10, 100), Is.EqualTo(0));
    }

    // ---- RigL / SET drop and grow ----

    /// <summary>A 2x3 CSR layer (0,0) = 0.5, (0,2) = -0.1, (1,1) = 2.0 with momentum 0.7, 0.8, 0.9, after backward of
    /// x = (1, 2, 3) with dY = (1, -4): the dense gradient is [[1, 2, 3], [-4, -8, -12]].</summary>
    private static Sequential TinyLayerAfterBackward()
    {
        var csr = new CsrMatrix(2, 3, [0, 2, 3], [0, 2, 1], [0.5f, -0.1f, 2.0f]);
        var m = Mlp.FromHost(Cpu, [(null, csr, DenseTensor.FromArray(2, 1, [0.3f, -0.2f]))]);
        var layer = m.Layers[0];
        layer.Weight.State = [DenseTensor.FromArray(1, 3, [0.7f, 0.8f, 0.9f])];
        layer.CaptureActivations = true;
        var t = new Tape(Cpu);
        var y = m.Forward(t, t.Constant(DenseTensor.FromArray(3, 1, [1f, 2f, 3f])));
        t.Backward(y, DenseTensor.FromArray(2, 1, [1f, -4f]));
        return m;
    }

    [Test]
    public void RiglDropsSmallestAndGrowsLargestGradientWithZeroWeightAndMomentum()
    {
        using var m = TinyLayerAfterBackward();
        var layer = m.Layers[0];
        // Drop 1: |-0.1| is smallest. Absent after the drop: (0,1) |2|, (0,2) |3|, (1,0) |4|, (1,2) |12| -> grow (1,2).
        LayerSurgery.DropGrow(Cpu, layer, 1, GrowRule.Gradient, 0);
        var w = layer.Sparse!.ToHost();
        Assert.That(w.RowOffsets, Is.EqualTo(new[] { 0, 1, 3 }));
        Assert.That(w.ColumnIndices, Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(w.Values, Is.EqualTo(new[] { 0.5f, 2.0f, 0f }), "kept weights keep their value; the grown one starts at 0");
        Assert.That(layer.Weight.State[0].ToArray(), Is.EqualTo(new[] { 0.7f, 0.9f, 0f }), "momentum carried for kept, 0 for grown");
        Assert.That(layer.WeightCount, Is.EqualTo(3), "nnz constant");
    }

    [Test]
    public void RiglHookUpdatesOnlyOnScheduleAndSkipsTheOptimizerStep()
    {
        using var m = TinyLayerAfterBackward();
        var rigl = new Rigl(new SparsityOptions { Method = "rigl", Sparsity = 0.5, UpdateEvery = 10, Alpha = 0.6, EndFraction = 0.5 });
        var opt = new SgdOptimizer();
        var off = new StepContext(m, opt, 0, 5, 100, 5, 0f) { TotalSteps = 100 };
        rigl.BeforeOptimizerStep(off);
        Assert.That(off.SkipOptimizerStep, Is.False);
        Assert.That(rigl.Updates, Is.EqualTo(0));
        // t = 10 of T_end = 50: a_t = 0.3 (1 + cos(pi/5)) = 0.5427 -> floor(0.5427 x 3) = 1 dropped and grown.
        var on = new StepContext(m, opt, 0, 10, 100, 10, 0f) { TotalSteps = 100 };
        rigl.BeforeOptimizerStep(on);
        Assert.That(on.SkipOptimizerStep, Is.True);
        Assert.That(rigl.LastCounts, Is.EqualTo(new long[] { 1 }));
        Assert.That(m.Layers[0].Sparse!.ToHost().Values, Is.EqualTo(new[] { 0.5f, 2.0f, 0f }));
    }

    [Test]
    public void SetGrowsRandomlyAndDeterministicallyForASeed()
    {
        int[] Grow(ulong seed)
        {
            using var m = TinyLayerAfterBackward();
            LayerSurgery.DropGrow(Cpu, m.Layers[0], 1, GrowRule.Random, seed);
            var w = m.Layers[0].Sparse!.ToHost();
            Assert.That(w.Nnz, Is.EqualTo(3));
            Assert.That(w.Values.Count(v => v == 0f), Is.LessThanOrEqualTo(1));
            Assert.That(w.Values.Contains(-0.1f) ? 1 : 0, Is.EqualTo(w.Values.Contains(0f) ? 0 : 1), "either -0.1 was regrown (kept value) or a new 0 appeared");
            return Enumerable.Range(0, 2).SelectMany(r => Enumerable.Range(w.RowOffsets[r], w.RowOffsets[r + 1] - w.RowOffsets[r]).Select(p => r * 3 + w.ColumnIndices[p])).ToArray();
        }
        Assert.That(Grow(42), Is.EqualTo(Grow(42)));
        var seen = Enumerable.Range(0, 40).Select(s => string.Join(",", Grow((ulong)s))).Distinct().Count();
        Assert.That(seen, Is.GreaterThan(2), "different seeds grow different positions");
    }

    // ---- the training loop's skip flag ----

    private sealed class SkipAll : IStepHook
    {
        public void BeforeOptimizerStep(StepContext c) => c.SkipOptimizerStep = true;
    }

    private static (BatchSource Train, BatchSource Test) Synthetic(int n = 64, int features = 6, int classes = 3, int seed = 5)
    {
        var rng = new Random(seed);
        var images = Enumerable.Range(0, n * features).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => i % classes).ToArray();
        var ds = new ImageDataset(images, labels, features, classes, "synthetic");
        return (new BatchSource(ds, Cpu), new BatchSource(ds, Cpu));
    }

    [Test]
    public void NoWeightUpdateWhenAHookSkipsTheStep()
    {
        var (train, test) = Synthetic();
        float[] Run(bool skip)
        {
            using var m = Mlp.Create(Cpu, [6, 5, 3], [0.5, 0], new KaimingNormal(), new TrainRng(1));
            var tr = new Trainer(m, new SgdOptimizer { Momentum = 0.9f }, new ConstantSchedule(), new TrainConfig { Epochs = 1, BatchSize = 16, LearningRate = 0.1f }, train, test, new TrainRng(2));
            if (skip) tr.Hooks.Add(new SkipAll());
            var before = m.Layers[0].Weight.Value.ToArray().ToArray();
            tr.RunEpoch(0);
            var after = m.Layers[0].Weight.Value.ToArray();
            Assert.That(m.Parameters.All(p => p.Grad is null), "gradients are dropped either way");
            return before.Zip(after, (a, b) => a - b).ToArray();
        }
        Assert.That(Run(skip: true), Is.All.EqualTo(0f));
        Assert.That(Run(skip: false).Any(d => d != 0f), Is.True);
    }

    // ---- SNIP ----

    [Test]
    public void SnipKeepsTopGTimesWPerLayerWithTiesToTheLowerPosition()
    {
        // W = [[1, -2], [3, 0.5]], x = (1, 0.5), dY = (2, -1): G = [[2, 1], [-1, -0.5]], |G.W| = [2, 2, 3, 0.25].
        // Keep 2 (uniform 50 %): 3 at position 2, then the tie 2 = 2 goes to position 0.
        using var m = Mlp.FromHost(Cpu, [(DenseTensor.FromArray(2, 2, [1f, -2f, 3f, 0.5f]), null, DenseTensor.FromArray(2, 1, [0f, 0f]))]);
        var t = new Tape(Cpu);
        var y = m.Forward(t, t.Constant(DenseTensor.FromArray(2, 1, [1f, 0.5f])));
        t.Backward(y, DenseTensor.FromArray(2, 1, [2f, -1f]));
        var snip = new Snip(new SparsityOptions { Method = "snip", Sparsity = 0.5, Distribution = DensityDistribution.Uniform });
        var c = new StepContext(m, new SgdOptimizer(), 0, 0, 10, 0, 0f) { TotalSteps = 10 };
        snip.BeforeOptimizerStep(c);
        Assert.That(c.SkipOptimizerStep, Is.True);
        var w = m.Layers[0].Sparse!.ToHost();
        Assert.That(w.RowOffsets, Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(w.ColumnIndices, Is.EqualTo(new[] { 0, 0 }));
        Assert.That(w.Values, Is.EqualTo(new[] { 1f, 3f }), "kept weights keep their initial values");
        t.Dispose();
    }

    // ---- KD loss gradient ----

    [Test]
    public void KdLossGradientMatchesTheClosedForm()
    {
        // One linear 2 -> 3 teacher; student logits z (3 x 2). dL/dz = [(1-a)(p - y) + a T (p_T - q_T)] / B.
        using var teacher = Mlp.FromHost(Cpu, [(DenseTensor.FromArray(3, 2, [0.5f, -1f, 2f, 0.25f, -0.5f, 1.5f]), null, DenseTensor.FromArray(3, 1, [0.1f, 0f, -0.1f]))]);
        var x = DenseTensor.FromArray(2, 2, [1f, -2f, 0.5f, 3f]);
        float[] z0 = [0.3f, -1.2f, 2.0f, 0.7f, -0.4f, 1.1f];
        float temp = 2f, alpha = 0.7f;
        using var labels = new Labels([2, 0]);
        var t = new Tape(Cpu);
        var z = t.Input(DenseTensor.FromArray(3, 2, (float[])z0.Clone()));
        var loss = KdTicket.Loss(t, teacher, z, x, labels, temp, alpha);
        t.Backward(loss);
        var g = z.Grad!.ToArray();
        // Teacher logits by hand: W x + b.
        double[] tl = new double[6];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 2; c++)
                tl[r * 2 + c] = new[] { 0.5, -1, 2, 0.25, -0.5, 1.5 }[r * 2] * x[0, c] + new[] { 0.5, -1, 2, 0.25, -0.5, 1.5 }[r * 2 + 1] * x[1, c] + new[] { 0.1, 0, -0.1 }[r];
        var expected = new double[6];
        int[] y = [2, 0];
        for (int c = 0; c < 2; c++)
        {
            double[] Soft(Func<int, double> v, double T) { var e = Enumerable.Range(0, 3).Select(r => Math.Exp(v(r) / T)).ToArray(); double s = e.Sum(); return e.Select(a => a / s).ToArray(); }
            var p = Soft(r => z0[r * 2 + c], 1); var pT = Soft(r => z0[r * 2 + c], temp); var qT = Soft(r => tl[r * 2 + c], temp);
            for (int r = 0; r < 3; r++)
                expected[r * 2 + c] = ((1 - alpha) * (p[r] - (y[c] == r ? 1 : 0)) + alpha * temp * (pT[r] - qT[r])) / 2;
        }
        Support.Approx.AssertAllClose(g, expected, 1e-6, 1e-4, "d KD loss / d student logits");
        t.Dispose();
    }

    // ---- sparsity-aware init ----

    [Test]
    public void SparsityAwareInitUsesEachUnitsNonzeroFanIn()
    {
        // 2000 units with 4 nonzero inputs and 2000 with 50, of 100 inputs. Default scale 1.0 (rigl_tf2 unit_scaled_init):
        // std sqrt(1/4) = 0.5 and sqrt(1/50) (not sqrt(1/100)); uniform bound sqrt(3/4).
        int rows = 4000, cols = 100;
        var ro = new int[rows + 1]; var ci = new List<int>();
        for (int r = 0; r < rows; r++) { int k = r < 2000 ? 4 : 50; for (int j = 0; j < k; j++) ci.Add(j * 2); ro[r + 1] = ci.Count; }
        var p = new CsrMatrix(rows, cols, ro, ci.ToArray(), new float[ci.Count]);
        foreach (bool uniform in new[] { false, true })
        {
            var init = new SparsityAwareInit(uniform);
            init.Initialize(p.Values, new LayerInitContext(cols, rows, p), new TrainRng(9));
            double Std(int a, int b) => Math.Sqrt(p.Values[a..b].Select(v => (double)v * v).Average());
            Assert.That(Std(0, ro[2000]), Is.EqualTo(Math.Sqrt(0.25)).Within(0.02), $"fan-in 4 ({init.Name})");
            Assert.That(Std(ro[2000], ro[rows]), Is.EqualTo(Math.Sqrt(0.02)).Within(0.002), $"fan-in 50 ({init.Name})");
            if (uniform) Assert.That(p.Values[..ro[2000]].Max(Math.Abs), Is.LessThanOrEqualTo((float)Math.Sqrt(0.75)));
        }
        Assert.That(Initializers.ByName("sparsity-aware"), Is.InstanceOf<SparsityAwareInit>());
        Assert.That(((SparsityAwareInit)Initializers.ByName("sparsity-aware")).Scale, Is.EqualTo(1.0));
        Assert.That(((SparsityAwareInit)Initializers.ByName("sparsity-aware-he")).Std(4), Is.EqualTo(Math.Sqrt(0.5)), "He scale 2: sqrt(2/4)");
    }

    // ---- zapping ----

    [Test]
    public void ZappingReinitialisesKRandomClassRowsAndKeepsTheirState()
    {
        using var m = Mlp.Create(Cpu, [3, 5], [0], new KaimingNormal(), new TrainRng(4));
        var layer = m.Layers[0];
        layer.Weight.State = [DenseTensor.FromArray(5, 3, Enumerable.Repeat(1f, 15).ToArray())];
        var before = layer.Weight.Value.ToArray().ToArray();
        var bias = layer.Bias.Value.ToArray().ToArray();
        var zap = new Zapping(every: 2, classes: 2, new KaimingNormal(), seed: 11);
        zap.BeforeEpoch(m, new SgdOptimizer(), 1);
        Assert.That(zap.Zaps, Is.EqualTo(0), "epoch 1 with n = 2: no zap");
        zap.BeforeEpoch(m, new SgdOptimizer(), 2);
        Assert.That(zap.Zaps, Is.EqualTo(1), "epoch 2 with n = 2: zap");
        Assert.That(zap.LastRows.Length, Is.EqualTo(2));
        var after = layer.Weight.Value.ToArray(); var st = layer.Weight.State[0].ToArray();
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
            {
                bool zapped = zap.LastRows.Contains(r);
                Assert.That(after[r * 3 + c] != before[r * 3 + c], Is.EqualTo(zapped), $"row {r} col {c}");
                Assert.That(st[r * 3 + c], Is.EqualTo(1f), "optimizer state kept, as the reference (lobotomize touches the weights only)");
            }
        Assert.That(layer.Bias.Value.ToArray(), Is.EqualTo(bias), "bias kept");
        var all = new Zapping(1, 0, new KaimingNormal(), 11);
        all.Zap(m, 0);
        Assert.That(all.LastRows, Is.EqualTo(new[] { 0, 1, 2, 3, 4 }));
        Assert.That(layer.Weight.State[0].ToArray(), Is.All.EqualTo(1f));
        Assert.Throws<ArgumentException>(() => Zapping.ParseClasses("k:0"));
        Assert.That(Zapping.ParseClasses("k:3"), Is.EqualTo(3));
    }

    // ---- lottery tickets ----

    private sealed class Capture(int atStep) : IStepHook
    {
        public List<float[]> Weights { get; } = [];
        public void AfterOptimizerStep(StepContext c)
        {
            if (c.GlobalStep == atStep) foreach (var l in c.Model.Layers) Weights.Add(LayerSurgery.DenseOf(l, null).Dense);
        }
    }

    [Test]
    public void ImpPrunesAndRewindsSurvivorsToTheRecordedValues()
    {
        var (train, test) = Synthetic();
        foreach (long rewind in new long[] { 0, 2 })
        {
            using var m = Mlp.Create(Cpu, [6, 8, 3], [0, 0], new KaimingNormal(), new TrainRng(1));
            var tr = new Trainer(m, new SgdOptimizer(), new ConstantSchedule(), new TrainConfig { Epochs = 2, BatchSize = 16, LearningRate = 0.1f }, train, test, new TrainRng(2));
            var lt = new LotteryTicket(new SparsityOptions { Method = "imp", Sparsity = 0.5, ImpLevels = 1, RewindStep = rewind, GlobalPruning = false, Distribution = DensityDistribution.Uniform, CsrBelowDensity = 0.6 });
            lt.Attach(m, tr);
            var cap = new Capture(atStep: 4);   // the first step of level 1 (4 steps per epoch): pruned, rewound, not updated
            tr.Hooks.Add(lt); tr.Hooks.Add(cap);
            tr.RunEpoch(0);
            var trained = m.Layers.Select(l => LayerSurgery.DenseOf(l, null).Dense).ToArray();
            tr.RunEpoch(1);
            Assert.That(lt.Level, Is.EqualTo(1));
            Assert.That(m.Layers.Select(l => l.IsSparse), Is.All.True, "50 % < CsrBelowDensity 0.6: CSR");
            Assert.That(m.Layers.Select(l => l.WeightCount), Is.EqualTo(new long[] { 24, 12 }), "per layer: floor(0.5 x weights)");
            for (int l = 0; l < 2; l++)
            {
                var rec = lt.RewindWeights(l)!;
                var now = cap.Weights[l];
                int kept = 0;
                for (int i = 0; i < now.Length; i++)
                {
                    if (now[i] == 0) continue;
                    kept++;
                    Assert.That(now[i], Is.EqualTo(rec[i]), $"rewind {rewind}: layer {l} position {i} restored");
                }
                Assert.That(kept, Is.EqualTo(m.Layers[l].WeightCount));
                // The survivors are the largest |w| of the trained level-0 weights.
                float cut = trained[l].Select(Math.Abs).OrderByDescending(v => v).ElementAt(kept - 1);
                for (int i = 0; i < now.Length; i++) if (now[i] != 0) Assert.That(Math.Abs(trained[l][i]), Is.GreaterThanOrEqualTo(cut));
            }
        }
    }
}
