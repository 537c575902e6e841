// Lottery tickets by iterative magnitude pruning (Frankle & Carbin 2019, "The Lottery Ticket Hypothesis"; rewinding:
// Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis"). Reference code:
// facebookresearch/open_lth - lottery/runner.py (levels: train, prune, rewind), pruning/sparse_global.py
// (one magnitude threshold over the prunable weights; fraction 0.2 of the remaining per level), training/train.py
// (train(..., start_step, end_step): a level rewound to step k starts there - its data and learning-rate schedule
// resume at k - and runs to the end, T - k steps).
// The rule here: level 0 trains the dense model for E epochs (T steps); each later level (L in all) prunes p of the
// remaining weights by magnitude - globally (one threshold over the layers not kept dense, as sparse_global) or per
// layer (counts from LayerDensities) - rewinds the survivors and the biases to their values at global step k
// (k = 0: the original lottery ticket; Rewind = false: no rewinding, i.e. fine-tuning), restarts the optimizer state
// and the learning-rate schedule, and trains E epochs in which, when rewinding to k > 0, the first k steps make no
// weight update: the level trains T - k steps with the schedule's steps k..T-1, as open_lth. The prune/rewind happens
// on the first step of a level, whose weight update is skipped. Each level's sparsity and final test accuracy are
// recorded (Levels). Layers stay dense with a mask until their density is below CsrBelowDensity (by default the
// dispatch crossover), then become CSR.
// Departs from open_lth (deliberately):
//  - p defaults to 1 - (1 - S)^(1/L), so the L levels reach the asked sparsity S; open_lth and Frankle prune 0.2 per
//    level (--prune-fraction 0.2 gives that; then S is not used to stop).
//  - the level's first step (the prune/rewind step) makes no weight update, so with k = 0 a level trains T - 1 steps.
//  - the skipped k steps still draw their batches (the Trainer runs whole epochs), and each epoch is shuffled from
//    the run's generator, so levels do not repeat open_lth's per-epoch data order.
//  - the output layer is pruned like the others unless --last-dense (open_lth's models never prune it).
using SparseKernels.Autograd;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>One IMP level's outcome.</summary>
public sealed record ImpLevel(int Level, double Sparsity, long Nonzeros, double TestAccuracy);

/// <summary>Lottery tickets by iterative magnitude pruning (Frankle and Carbin 2019, with rewinding as Frankle et al. 2020): each level prunes a fraction of the remaining weights by magnitude, rewinds the survivors and trains again.</summary>
/// <param name="options">The method's options (<c>Method = "imp"</c>; <see cref="SparsityOptions.ImpLevels"/>, <see cref="SparsityOptions.PruneFraction"/>, <see cref="SparsityOptions.RewindStep"/>); validated, throwing <see cref="ArgumentException"/>.</param>
public class LotteryTicket(SparsityOptions options) : SparsityMethod(options)
{
    private readonly Dictionary<int, bool[]> _masks = [];
    private float[][]? _rewindWeights, _rewindBiases;
    private int _level;
    private readonly List<ImpLevel> _levels = [];

    /// <inheritdoc/>
    public override string Name => "imp";

    /// <summary>Which variant the options give: the original ticket (step 0), rewinding to step k, or fine-tuning.</summary>
    public virtual string Variant => !Options.Rewind ? "fine-tuning (no rewind)"
        : Options.RewindStep == 0 ? "lottery ticket (original initialisation, step 0)"
        : $"lottery ticket with rewinding to step {Options.RewindStep}";
    /// <summary>Epochs per level E (the run trains E x (L + 1) epochs).</summary>
    public int EpochsPerLevel { get; set; } = 1;
    /// <summary>Rewind at all (false: the pruned weights are fine-tuned from where they are).</summary>
    public bool Rewind => Options.Rewind;
    /// <summary>The outcome of each finished level (sparsity, nonzeros, test accuracy), level 0 first.</summary>
    public IReadOnlyList<ImpLevel> Levels => _levels;
    /// <summary>The current level (0: the dense training before the first prune).</summary>
    public int Level => _level;
    /// <summary>The mask of a masked-dense layer (null: full, or CSR), for tests.</summary>
    public override bool[]? Mask(int layer) => _masks.GetValueOrDefault(layer);
    /// <summary>The trainer the method is attached to, or null before <see cref="Attach"/>.</summary>
    protected Trainer? Trainer { get; private set; }

    /// <summary>p: the fraction of remaining weights pruned per level.</summary>
    public double PruneFraction => Options.PruneFraction > 0 ? Options.PruneFraction : 1 - Math.Pow(1 - Options.Sparsity, 1.0 / Options.ImpLevels);

    /// <summary>Total epochs of an IMP run of E epochs per level.</summary>
    public static int TotalEpochs(int epochsPerLevel, int levels) => epochsPerLevel * (levels + 1);

    /// <summary>Per-layer pruning: every layer must reach its count at every level (global pruning picks over all layers and needs no check).</summary>
    public override void CheckFeasible(IReadOnlyList<LayerShape> shapes)
    {
        if (Options.GlobalPruning) return;
        for (int level = 1; level <= Options.ImpLevels; level++)
        {
            double s = 1 - Math.Pow(1 - PruneFraction, level);
            LayerDensities.CheckFeasible(shapes, s, Options.Distribution, Options.FirstLayerDense, Options.LastLayerDense,
                $"{Name} (per-layer pruning) at level {level} of {Options.ImpLevels}, sparsity {s:G6}");
        }
    }

    /// <inheritdoc/>
    public override void Attach(Sequential model, Trainer trainer)
    {
        CheckFeasible(LayerDensities.Shapes(model.Spec));
        Trainer = trainer;
        EpochsPerLevel = Math.Max(1, trainer.Config.Epochs / (Options.ImpLevels + 1));
        if (Options.RewindStep >= (long)EpochsPerLevel * trainer.StepsPerEpoch)
            throw new ArgumentException($"RewindStep {Options.RewindStep} must be earlier than the end of level 0 ({EpochsPerLevel * trainer.StepsPerEpoch} steps).");
    }

    /// <inheritdoc/>
    public override void BeforeOptimizerStep(StepContext c)
    {
        if (c.GlobalStep == Options.RewindStep && _level == 0)
        {
            _rewindWeights = c.Model.Layers.Select(l => LayerSurgery.DenseOf(l, null).Dense).ToArray();
            _rewindBiases = c.Model.Layers.Select(l => (float[])l.Bias.Value.ToArray().Clone()).ToArray();
        }
        // Rewinding to step k > 0: the level resumes the (per-level) learning-rate schedule at step k, so its first k
        // steps make no weight update and it trains T - k steps (open_lth's start_step); k = 0 changes nothing.
        int levelOfEpoch = c.Epoch / EpochsPerLevel;
        long levelStep = (long)(c.Epoch % EpochsPerLevel) * c.StepsPerEpoch + c.Step;
        if (Rewind && levelOfEpoch >= 1 && levelOfEpoch <= Options.ImpLevels && levelStep > 0 && levelStep < Options.RewindStep)
        {
            c.SkipOptimizerStep = true;
            return;
        }
        if (c.Step != 0 || c.Epoch == 0 || c.Epoch % EpochsPerLevel != 0 || levelOfEpoch > Options.ImpLevels) return;
        _level = levelOfEpoch;
        OnLevelStart(c);
        Prune(c.Model);
        if (Rewind) RewindTo(c.Model);
        foreach (var p in c.Model.Parameters) { foreach (var s in p.State) s.Dispose(); p.State = []; }
        c.Optimizer.StepCount = 0;
        Updates++;
        c.SkipOptimizerStep = true;
    }

    /// <summary>Before the level's pruning (KD tickets take the teacher here).</summary>
    protected virtual void OnLevelStart(StepContext c) { }

    /// <inheritdoc/>
    public override void AfterOptimizerStep(StepContext c)
    {
        foreach (var (i, m) in _masks) LayerSurgery.ApplyMask(c.Model.Layers[i], m);
    }

    /// <summary>Called by the run after each epoch: records a level's result at its last epoch.</summary>
    public void EpochDone(Sequential model, EpochMetrics m)
    {
        if (m.Epoch % EpochsPerLevel != 0) return;
        long nnz = m.NnzPerLayer.Sum(), nnzMasked = 0;
        for (int i = 0; i < model.Layers.Count; i++)
            nnzMasked += _masks.TryGetValue(i, out var mk) ? mk.LongCount(x => x) : m.NnzPerLayer[i];
        long total = model.Layers.Sum(l => (long)l.In * l.Out);
        _levels.Add(new ImpLevel(m.Epoch / EpochsPerLevel - 1, 1 - (double)nnzMasked / total, nnzMasked, m.TestAccuracy));
    }

    /// <summary>Nonzeros per layer this level should keep.</summary>
    public long[] TargetCounts(Sequential model, long[] present)
    {
        double density = Math.Pow(1 - PruneFraction, _level);
        var shapes = LayerDensities.Shapes(model.Spec);
        if (!Options.GlobalPruning)
            return LayerDensities.Counts(shapes, 1 - density, Options.Distribution, Options.FirstLayerDense, Options.LastLayerDense)
                .Select((c, i) => Math.Min(c, present[i])).ToArray();
        // Global: one magnitude threshold over the prunable layers; kept-dense layers keep everything.
        int n = model.Layers.Count;
        var prunable = Enumerable.Range(0, n).Where(i => !(i == 0 && Options.FirstLayerDense) && !(i == n - 1 && Options.LastLayerDense)).ToArray();
        long prunableWeights = prunable.Sum(i => shapes[i].Weights);
        long keep = (long)Math.Floor(density * prunableWeights);
        var all = new List<(float Score, int Layer, int Pos)>();
        foreach (int i in prunable)
        {
            var (d, p) = LayerSurgery.DenseOf(model.Layers[i], _masks.GetValueOrDefault(i));
            for (int j = 0; j < d.Length; j++) if (p[j]) all.Add((Math.Abs(d[j]), i, j));
        }
        keep = Math.Min(keep, all.Count);
        all.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Layer != b.Layer ? a.Layer.CompareTo(b.Layer) : a.Pos.CompareTo(b.Pos));
        var counts = (long[])present.Clone();
        foreach (int i in prunable) counts[i] = 0;
        for (int j = 0; j < keep; j++) counts[all[j].Layer]++;
        return counts;
    }

    private void Prune(Sequential model)
    {
        var present = model.Layers.Select(l => l.IsSparse ? l.Sparse!.Nnz : _masks.TryGetValue(l.Index, out var m) ? m.LongCount(x => x) : (long)l.In * l.Out).ToArray();
        var counts = TargetCounts(model, present);
        foreach (var l in model.Layers)
        {
            if (counts[l.Index] >= present[l.Index]) continue;
            var mask = LayerSurgery.PruneTo(model.Backend, l, _masks.GetValueOrDefault(l.Index), Math.Max(1, counts[l.Index]), Options.CsrBelowDensity);
            if (mask is null) _masks.Remove(l.Index); else _masks[l.Index] = mask;
        }
    }

    private void RewindTo(Sequential model)
    {
        if (_rewindWeights is null || _rewindBiases is null) throw new InvalidOperationException($"IMP: no weights were recorded at the rewind step {Options.RewindStep}.");
        foreach (var l in model.Layers)
        {
            var (_, present) = LayerSurgery.DenseOf(l, _masks.GetValueOrDefault(l.Index));
            var positions = Enumerable.Range(0, present.Length).Where(i => present[i]).ToArray();
            var mask = LayerSurgery.SetPattern(model.Backend, l, positions, (float[])_rewindWeights[l.Index].Clone(), null, l.IsSparse ? 1.0 : Options.CsrBelowDensity);
            if (mask is null) _masks.Remove(l.Index); else _masks[l.Index] = mask;
            var b = _rewindBiases[l.Index];
            if (l.Bias.Value.IsOnDevice) l.Bias.Value.DeviceData.CopyFrom(b); else b.CopyTo(l.Bias.Value.HostData, 0);
        }
    }

    /// <summary>The recorded rewind weights of a layer (dense layout), for tests.</summary>
    public float[]? RewindWeights(int layer) => _rewindWeights?[layer];

    /// <summary>
    /// Checkpoint state: Updates, the level, the levels' records, the masks of masked-dense layers, and the rewind
    /// weights (dense layout) and biases once recorded.
    /// </summary>
    public override void WriteState(BinaryWriter w)
    {
        base.WriteState(w);
        w.Write(_level);
        w.Write(_levels.Count);
        foreach (var l in _levels) { w.Write(l.Level); w.Write(l.Sparsity); w.Write(l.Nonzeros); w.Write(l.TestAccuracy); }
        LayerSurgery.WriteMasks(w, _masks);
        w.Write(_rewindWeights is not null);
        for (int i = 0; i < (_rewindWeights?.Length ?? 0); i++) { Checkpoint.WriteFloats(w, _rewindWeights![i]); Checkpoint.WriteFloats(w, _rewindBiases![i]); }
    }

    /// <inheritdoc/>
    public override void ReadState(BinaryReader r, Sequential model)
    {
        base.ReadState(r, model);
        _level = r.ReadInt32();
        if (_level < 0 || _level > Options.ImpLevels) throw new InvalidDataException($"level {_level} is not in 0..{Options.ImpLevels} (ImpLevels).");
        int levels = r.ReadInt32();
        if (levels < 0 || levels > Options.ImpLevels + 1) throw new InvalidDataException($"{levels} level records for {Options.ImpLevels} levels (ImpLevels).");
        _levels.Clear();
        for (int i = 0; i < levels; i++)
        {
            int level = r.ReadInt32(); double sparsity = r.ReadDouble(); long nonzeros = r.ReadInt64(); double accuracy = r.ReadDouble();
            _levels.Add(new ImpLevel(level, sparsity, nonzeros, accuracy));
        }
        _masks.Clear();
        foreach (var (i, m) in LayerSurgery.ReadMasks(r, model)) _masks[i] = m;
        _rewindWeights = _rewindBiases = null;
        if (!r.ReadBoolean()) return;
        var weights = new float[model.Layers.Count][];
        var biases = new float[model.Layers.Count][];
        foreach (var l in model.Layers)
        {
            weights[l.Index] = Checkpoint.ReadFloats(r);
            biases[l.Index] = Checkpoint.ReadFloats(r);
            if (weights[l.Index].Length != (long)l.Out * l.In || biases[l.Index].Length != l.Out)
                throw new InvalidDataException($"layer {l.Index}'s rewind weights/biases have {weights[l.Index].Length}/{biases[l.Index].Length} values for {l.Out}x{l.In}.");
        }
        (_rewindWeights, _rewindBiases) = (weights, biases);
    }
}
