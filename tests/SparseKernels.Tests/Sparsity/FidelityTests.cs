using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Tests.Sparsity;

/// <summary>
/// The rules where the methods follow their reference implementations, each pinned
/// with numbers worked out by hand in the comments (CPU backend). The fidelity table in
/// src/SparseKernels/Sparsity/README.md points here.
/// </summary>
public class FidelityTests
{
    private static readonly ITensorBackend Cpu = CpuTensorBackend.Instance;

    private static (BatchSource Train, BatchSource Test) Synthetic(int n = 64, int features = 6, int classes = 3, int seed = 5)
    {
        var rng = new Random(seed);
        var images = Enumerable.Range(0, n * features).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => i % classes).ToArray();
        var ds = new ImageDataset(images, labels, features, classes, "synthetic");
        return (new BatchSource(ds, Cpu), new BatchSource(ds, Cpu));
    }

    private sealed class Probe(Action<StepContext, bool> onStep) : IStepHook
    {
        public void BeforeOptimizerStep(StepContext c) => onStep(c, true);
        public void AfterOptimizerStep(StepContext c) => onStep(c, false);
    }

    // ---- zapping (bug 1) ----

    [Test]
    public void ZappingHappensAtTheStartOfAnEpochNeverAfterItsLastStep()
    {
        // Reference: zap at the start of epoch e > 0 with e % n == 0, before that epoch's first forward pass. So a
        // 1-epoch run never zaps (its test accuracy, saved model and checkpoint are those of the trained layer), and in
        // a 3-epoch run with n = 1 the zaps come before epochs 1 and 2, none after epoch 2's last step.
        var (train, test) = Synthetic();
        (double Acc, Zapping? Zap, List<string> Log) Run(int epochs, bool zap)
        {
            using var m = Mlp.Create(Cpu, [6, 5, 3], [0, 0], new KaimingNormal(), new TrainRng(1));
            var tr = new Trainer(m, new SgdOptimizer(), new ConstantSchedule(), new TrainConfig { Epochs = epochs, BatchSize = 16, LearningRate = 0.1f }, train, test, new TrainRng(2));
            var z = zap ? new Zapping(every: 1, classes: 0, new KaimingNormal(), seed: 7) : null;
            var log = new List<string>();
            if (z is not null) tr.Hooks.Add(z);
            tr.Hooks.Add(new Probe((c, before) =>
            {
                if (z is null) return;
                if (before && c.Step == 0) log.Add($"epoch {c.Epoch} first step: {z.Zaps} zaps");
                if (!before && c.Step == c.StepsPerEpoch - 1) log.Add($"epoch {c.Epoch} last step: {z.Zaps} zaps");
            }));
            double acc = 0;
            for (int e = 0; e < epochs; e++) acc = tr.RunEpoch(e).TestAccuracy;
            return (acc, z, log);
        }
        var one = Run(1, zap: true);
        Assert.That(one.Zap!.Zaps, Is.EqualTo(0), "a 1-epoch run never zaps");
        Assert.That(one.Acc, Is.EqualTo(Run(1, zap: false).Acc), "so its test accuracy is the unzapped run's");
        var three = Run(3, zap: true);
        Assert.That(three.Log, Is.EqualTo(new[]
        {
            "epoch 0 first step: 0 zaps", "epoch 0 last step: 0 zaps",
            "epoch 1 first step: 1 zaps", "epoch 1 last step: 1 zaps",
            "epoch 2 first step: 2 zaps", "epoch 2 last step: 2 zaps",
        }));
    }

    [Test]
    public void ZappingKeepsAMaskedDenseLayersPrunedPositionsAtZero()
    {
        // A 2x2 output layer kept dense with the mask [1 0; 0 1] (GMP/IMP): a zap of all rows re-draws (0,0) and (1,1);
        // the pruned (0,1) and (1,0) stay 0 instead of being refilled.
        using var m = Mlp.FromHost(Cpu, [(DenseTensor.FromArray(2, 2, [0.5f, 0f, 0f, -0.25f]), null, DenseTensor.FromArray(2, 1, [0f, 0f]))]);
        bool[] mask = [true, false, false, true];
        var zap = new Zapping(1, 0, new KaimingNormal(), 3, layer => layer == 0 ? mask : null);
        zap.BeforeEpoch(m, new SgdOptimizer(), 1);
        var w = m.Layers[0].Weight.Value.ToArray();
        Assert.That(zap.Zaps, Is.EqualTo(1));
        Assert.That(new[] { w[1], w[2] }, Is.All.EqualTo(0f), "pruned positions stay pruned");
        Assert.That(w[0], Is.Not.EqualTo(0.5f)); Assert.That(w[3], Is.Not.EqualTo(-0.25f));
    }

    // ---- feasibility checked when the method is built (bug 2) ----

    private static ImageDataset SyntheticSet(int n = 64, int features = 6, int classes = 3)
    {
        var rng = new Random(5);
        return new ImageDataset(Enumerable.Range(0, n * features).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
                                Enumerable.Range(0, n).Select(i => i % classes).ToArray(), features, classes, "synthetic");
    }

    private static RunOptions Run6x8x3(SparsityOptions method) => new() { Layers = [6, 8, 3], Epochs = 2, BatchSize = 16, Method = method };

    [TestCase("gmp", true)]
    [TestCase("imp", false)]
    [TestCase("kd-ticket", false)]
    public void AnInfeasibleLayerIsRefusedWhenTheRunIsBuiltNamingTheLayerAndTheNumbers(string method, bool globalPruning)
    {
        // 6-8-3 uniform at S = 0.99: layer 0 keeps floor(0.01 x 48) = 0 weights, layer 1 floor(0.01 x 24) = 0: no layer
        // can hold 0 weights (it would cut the network), so GMP (at its final sparsity) and per-layer IMP (at its last
        // level) cannot reach their target. Before the fix GMP/IMP silently kept 1 weight and missed the target.
        var ds = SyntheticSet();
        var o = new SparsityOptions { Method = method, Sparsity = 0.99, Distribution = DensityDistribution.Uniform, GlobalPruning = globalPruning, ImpLevels = 1 };
        var e = Assert.Throws<ArgumentException>(() => new TrainingRun(Run6x8x3(o), Cpu, ds, ds).Dispose())!;
        Assert.That(e.Message, Does.Contain("layer 0").And.Contain("6x8").And.Contain("48").And.Contain("0.99"), e.Message);
        TestContext.Out.WriteLine(e.Message);
        // Global IMP picks survivors over all layers at once and is not refused.
        if (method != "gmp") Assert.DoesNotThrow(() => new TrainingRun(Run6x8x3(o with { GlobalPruning = true }), Cpu, ds, ds).Dispose());
    }

    // ---- KD ticket labels (bug 3) ----

    [Test]
    public void NoRewindIsLabelledFineTuningPlusKdNotKdTicketAlone()
    {
        // Ma et al. 2021 ("Good Students Play Big Lottery Better"): the "KD ticket" alone retrains the pruned network
        // from the original initialisation (rewind step 0) on the teacher's soft labels. --no-rewind keeps the trained
        // weights, so it is fine-tuning + KD and must not be called "KD alone".
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "SparseKernels.Cli.dll"));
        psi.ArgumentList.Add("train"); psi.ArgumentList.Add("--help");
        psi.Environment["NO_COLOR"] = "1";
        using var p = System.Diagnostics.Process.Start(psi)!;
        string help = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string line = string.Join(" ", help.Split('\n').SkipWhile(l => !l.Contains("--no-rewind")).Take(2));
        Assert.That(line, Does.Contain("--no-rewind"));
        Assert.That(line, Does.Not.Contain("KD alone"), line);
        Assert.That(line, Does.Contain("fine-tuning"), line);
        var kd = new SparsityOptions { Method = "kd-ticket", Sparsity = 0.5 };
        Assert.That(new KdTicket(kd).Variant, Is.EqualTo("KD ticket alone (original initialisation, step 0)"));
        Assert.That(new KdTicket(kd with { RewindStep = 20 }).Variant, Is.EqualTo("KD ticket + rewinding to step 20"));
        Assert.That(new KdTicket(kd with { Rewind = false }).Variant, Does.StartWith("fine-tuning + KD"));
        Assert.That(new LotteryTicket(kd with { Method = "imp", Rewind = false }).Variant, Is.EqualTo("fine-tuning (no rewind)"));
    }

    // ---- layer densities: kept-dense layers out of the budget (RigL sparse_utils.get_sparsities_erdos_renyi) ----

    [Test]
    public void KeptDenseLayersAreLeftOutOfTheErkBudgetAsInRigl()
    {
        // 784-300-100-10, --first-dense, ERK, S = 0.9 (threw above 11.7 % before: the 235,200 dense weights were
        // charged to the budget). RigL leaves the kept-dense layer out: layers 1 and 2 hold 30,000 + 1,000 = 31,000
        // weights, budget 0.1 x 31,000 = 3,100. raw = 400/30,000 and 110/1,000; divisor = 400 + 110 = 510;
        // eps = 3,100 / 510 = 6.07843; densities 0.0810458 and 0.668627 -> floor 2,431.37 = 2,431 and floor 668.63 = 668.
        var c = LayerDensities.Counts([784, 300, 100, 10], 0.9, DensityDistribution.ErdosRenyiKernel, firstDense: true);
        Assert.That(c, Is.EqualTo(new long[] { 235_200, 2_431, 668 }));
        // Uniform follows get_sparsities_uniform: every layer not kept dense at S; S is the zero fraction over those.
        var u = LayerDensities.Counts([784, 300, 100, 10], 0.9, DensityDistribution.Uniform, lastDense: true);
        // In doubles 1 - 0.9 = 0.09999999999999998, so floor(x 235,200) = 23,519 and floor(x 30,000) = 2,999 (we floor
        // the nonzeros; RigL's get_n_zeros floors the zeros, which can keep one more); the last layer is dense: 1,000.
        Assert.That(u, Is.EqualTo(new long[] { 23_519, 2_999, 1_000 }));
        // With no layer kept dense S is the whole model's zero fraction: ERK at 0.9 keeps <= 0.1 x 266,200 = 26,620.
        Assert.That(LayerDensities.Counts([784, 300, 100, 10], 0.9, DensityDistribution.ErdosRenyiKernel).Sum(), Is.InRange(26_618, 26_620));
        // And GMP with --first-dense at 0.9 is feasible (it threw mid-run when s_t passed 11.7 %).
        var ds = SyntheticSet(features: 784, classes: 10);
        Assert.DoesNotThrow(() => new TrainingRun(new RunOptions { Layers = [784, 300, 100, 10], Epochs = 1, Method = new SparsityOptions { Method = "gmp", Sparsity = 0.9, FirstLayerDense = true } }, Cpu, ds, ds).Dispose());
    }

    // ---- SET and RigL mask-update schedule (rigl/sparse_optimizers_base.py) ----

    /// <summary>A 2x3 CSR layer (0,0) = 0.5, (0,2) = -0.1, (1,1) = 2.0, after backward of x = (1, 2, 3) with dY = (1, -4):
    /// the gradient at the three nonzeros is 1, 3 and -8.</summary>
    private static Sequential TinyLayerAfterBackward()
    {
        var csr = new CsrMatrix(2, 3, [0, 2, 3], [0, 2, 1], [0.5f, -0.1f, 2.0f]);
        var m = Mlp.FromHost(Cpu, [(null, csr, DenseTensor.FromArray(2, 1, [0.3f, -0.2f]))]);
        m.Layers[0].CaptureActivations = true;
        var t = new Tape(Cpu);
        var y = m.Forward(t, t.Constant(DenseTensor.FromArray(3, 1, [1f, 2f, 3f])));
        t.Backward(y, DenseTensor.FromArray(2, 1, [1f, -4f]));
        return m;
    }

    /// <summary>One training step as the Trainer runs it: hooks before, the optimizer unless skipped, hooks after.</summary>
    private static StepContext Step(Sequential m, IStepHook hook, long t, long total, float lr)
    {
        var opt = new SgdOptimizer { Momentum = 0f, WeightDecay = 0f, LearningRate = lr };
        var c = new StepContext(m, opt, 0, (int)t, (int)total, t, 0f) { TotalSteps = total };
        hook.BeforeOptimizerStep(c);
        if (!c.SkipOptimizerStep) opt.Step(Cpu, m.Parameters); else foreach (var p in m.Parameters) p.Var.ZeroGrad();
        hook.AfterOptimizerStep(c);
        return c;
    }

    [Test]
    public void SetAppliesTheOptimizerStepThenUpdatesTheMask()
    {
        // RigL's SET baseline (SparseSETOptimizerBase.apply_gradients): the optimizer update first, then the mask update.
        // t = 10, dT = 10, T_end = 50, a = 0.6: a_t = 0.3 (1 + cos(pi/5)) = 0.5427 -> floor(0.5427 x 3) = 1 dropped.
        // SGD lr 0.2: 0.5 - 0.2 x 1 = 0.3, -0.1 - 0.2 x 3 = -0.7, 2.0 + 0.2 x 8 = 3.6 -> the smallest |w| is now 0.3 at
        // (0,0) (dropping before the step would have taken -0.1). One random absent position grows at 0; if it is the
        // just-dropped (0,0) it keeps its value (RigL's new_connections excludes positions that were in the mask).
        int movedElsewhere = 0;
        for (ulong seed = 1; seed <= 12; seed++)
        {
            using var m = TinyLayerAfterBackward();
            var set = new Set(new SparsityOptions { Method = "set", Sparsity = 0.5, UpdateEvery = 10, Alpha = 0.6, EndFraction = 0.5, Seed = seed });
            var c = Step(m, set, t: 10, total: 100, lr: 0.2f);
            Assert.That(c.SkipOptimizerStep, Is.False, "SET does not skip the weight update");
            Assert.That(set.LastCounts, Is.EqualTo(new long[] { 1 }));
            var w = m.Layers[0].Sparse!.ToHost();
            float w00 = 0.5f - 0.2f * 1f, w02 = -0.1f - 0.2f * 3f, w11 = 2.0f - 0.2f * -8f;
            Assert.That(w.Values, Does.Contain(w02).And.Contain(w11), "the survivors carry the optimizer step");
            bool regrown = w.RowOffsets[1] == 2 && w.ColumnIndices[0] == 0;
            if (regrown) Assert.That(w.Values, Is.EqualTo(new[] { w00, w02, w11 }));
            else { Assert.That(w.Values, Does.Contain(0f).And.Not.Contain(w00), "0.3 dropped, a new 0 grown"); movedElsewhere++; }
        }
        Assert.That(movedElsewhere, Is.GreaterThan(0), "some seed grows another position");
    }

    [Test]
    public void RiglUpdatesAtStepZeroAndAtTEndAsTheReference()
    {
        // is_mask_update_iter: begin_step (0) <= t <= end_step, every dT. T = 100, T_end = 50, dT = 10, a = 0.6.
        // t = 0: a_0 = 0.6 -> floor(0.6 x 3) = 1 dropped, by |w| the -0.1, grown by |grad| among the absent positions
        // (0,1) |2|, (1,0) |4|, (1,2) |12| and the just-dropped (0,2) |3| -> (1,2) at 0.
        using var m = TinyLayerAfterBackward();
        var rigl = new Rigl(new SparsityOptions { Method = "rigl", Sparsity = 0.5, UpdateEvery = 10, Alpha = 0.6, EndFraction = 0.5 });
        var c0 = Step(m, rigl, t: 0, total: 100, lr: 0.2f);
        Assert.That(c0.SkipOptimizerStep, Is.True, "no weight update on a mask-update step");
        Assert.That(rigl.LastCounts, Is.EqualTo(new long[] { 1 }));
        var w = m.Layers[0].Sparse!.ToHost();
        Assert.That(w.ColumnIndices, Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(w.Values, Is.EqualTo(new[] { 0.5f, 2.0f, 0f }));
        // t = 50 = T_end: a = 0.3 (1 + cos(pi)) = 0, nothing moves, but it is an update step (the weight update skipped).
        using var m2 = TinyLayerAfterBackward();
        var cEnd = Step(m2, rigl, t: 50, total: 100, lr: 0.2f);
        Assert.That(cEnd.SkipOptimizerStep, Is.True);
        Assert.That(rigl.LastCounts, Is.EqualTo(new long[] { 0 }));
        Assert.That(rigl.Updates, Is.EqualTo(2));
        Assert.That(Step(m2, rigl, t: 60, total: 100, lr: 0.2f).SkipOptimizerStep, Is.False, "none after T_end");
    }

    // ---- IMP rewinding to k > 0 (open_lth: resume the schedule at step k, train T - k steps) ----

    [Test]
    public void ImpRewindingToStepKResumesTheScheduleAtKAndTrainsTMinusKSteps()
    {
        // 64 samples, batch 16: 4 steps per epoch, 1 epoch per level (T = 4), 1 level, rewind step k = 2, cosine lr 0.1
        // restarted per level. open_lth (training/train.py with start_step = k) skips the level's first k iterations
        // and trains T - k = 2 steps at the schedule's steps 2 and 3: lr = 0.05 (1 + cos(pi 2/4)) = 0.05 and
        // 0.05 (1 + cos(pi 3/4)) = 0.0146447. Level 1 is global steps 4..7: 4 prunes/rewinds, 5 is the schedule's step 1
        // (< k: no update), 6 and 7 update.
        var ds = SyntheticSet();
        var o = new RunOptions
        {
            Layers = [6, 8, 3],
            Epochs = 1,
            BatchSize = 16,
            LearningRate = 0.1f,
            Schedule = "cosine",
            Method = new SparsityOptions { Method = "imp", Sparsity = 0.5, ImpLevels = 1, RewindStep = 2 },
        };
        using var run = new TrainingRun(o, Cpu, ds, ds);
        var log = new List<string>();
        run.Trainer.Hooks.Add(new Probe((c, before) =>
        {
            if (!before && c.GlobalStep >= 4) log.Add(c.SkipOptimizerStep ? $"{c.GlobalStep}: no update" : $"{c.GlobalStep}: lr {c.Optimizer.LearningRate:F7}");
        }));
        run.Run();
        Assert.That(log, Is.EqualTo(new[] { "4: no update", "5: no update", "6: lr 0.0500000", "7: lr 0.0146447" }));
    }

    private sealed class SkipAll : IStepHook
    {
        public void BeforeOptimizerStep(StepContext c) => c.SkipOptimizerStep = true;
    }

    [TestCase(false, new long[] { 2, 1 })]
    [TestCase(true, new long[] { 2, 2 })]
    public void ImpGlobalPruningKeepsTheLargestMagnitudesOverThePrunableLayers(bool lastDense, long[] expected)
    {
        // open_lth pruning/sparse_global.py: one threshold over every prunable weight. 2-2-1 with
        // W0 = [0.1 -0.9; 0.5 0.05], W1 = [0.3 -0.2], one level at p = 0.5 (weights frozen: every step skipped).
        // All prunable: keep floor(0.5 x 6) = 3 -> |0.9|, |0.5| (layer 0) and |0.3| (layer 1): counts 2 and 1.
        // Output layer kept dense (open_lth's pruning_layers_to_ignore): keep floor(0.5 x 4) = 2 of layer 0 -> 0.9, 0.5.
        var ds = new ImageDataset([1f, 0f, 0f, 1f], [0, 0], 2, 1, "tiny");
        using var m = Mlp.FromHost(Cpu, [
            (DenseTensor.FromArray(2, 2, [0.1f, -0.9f, 0.5f, 0.05f]), null, DenseTensor.FromArray(2, 1, [0f, 0f])),
            (DenseTensor.FromArray(1, 2, [0.3f, -0.2f]), null, DenseTensor.FromArray(1, 1, [0f]))]);
        var tr = new Trainer(m, new SgdOptimizer(), new ConstantSchedule(), new TrainConfig { Epochs = 2, BatchSize = 2, LearningRate = 0.1f },
                             new BatchSource(ds, Cpu), new BatchSource(ds, Cpu), new TrainRng(1));
        var lt = new LotteryTicket(new SparsityOptions { Method = "imp", Sparsity = 0.5, ImpLevels = 1, LastLayerDense = lastDense, CsrBelowDensity = 0.6 });
        lt.Attach(m, tr);
        tr.Hooks.Add(new SkipAll()); tr.Hooks.Add(lt);
        tr.RunEpoch(0); tr.RunEpoch(1);
        var present = m.Layers.Select(l => { var (d, p) = LayerSurgery.DenseOf(l, lt.Mask(l.Index)); return d.Where((_, i) => p[i]).ToArray(); }).ToArray();
        Assert.That(present.Select(x => (long)x.Length), Is.EqualTo(expected));
        Assert.That(present[0], Is.EquivalentTo(new[] { -0.9f, 0.5f }));
        Assert.That(present[1], Is.EquivalentTo(lastDense ? new[] { 0.3f, -0.2f } : new[] { 0.3f }));
    }
}
