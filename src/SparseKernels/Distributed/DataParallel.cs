// Data-parallel sparse training: every replica holds the whole model, trains on its slice of every global batch, and
// all replicas keep bit-identical weights and topologies without ever broadcasting a mask:
//  - the same seed gives every replica the same initial model and the same shuffles; replica r of R trains on the
//    contiguous slice [len r / R, len (r + 1) / R) of each global batch (Training.DataShard);
//  - after backward, the gradients of all parameters (a sparse layer's per-nonzero values: every replica has the same
//    pattern, so position i means the same weight everywhere; dense weights; biases) are packed into one flat fp32
//    buffer, scaled by the replica's share of the global batch (n_r / N: the losses are means over the local slice),
//    and summed by one all-reduce: every replica then holds the gradient of the global batch's mean loss and makes the
//    same optimizer step;
//  - RigL's growth scores |dY^T X| are summed over the replicas chunk by chunk before the top-k (Rigl.ScoreSum ->
//    CpuBackend.GradientGrowSummed), as RigL's TPU code sums the gradients used for regrowth across replicas; SET's
//    random growth is keyed by (seed, layer, global step) and its drop by |w|, both identical on every replica;
//  - after every mask update and at every epoch start the topology fingerprints (ModelHash) are compared across ranks
//    (all-reduce of min and max), and the weights' at every epoch start: a difference stops the job with a message;
//  - rank 0 alone writes metrics, plots and checkpoints; a checkpoint holds nothing rank-specific, so --resume works
//    with any number of replicas.
using System.Diagnostics;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Distributed;

/// <summary>Data-parallel training of one <see cref="TrainingRun"/> over a group of replicas (see the file's head).</summary>
internal sealed class DataParallel : IDisposable
{
    private readonly TrainingRun _run;
    private readonly GradientHook _gradients;
    private readonly TopologyHook _topology;

    private DataParallel(TrainingRun run, ICollectives group, IDeviceGradientSum? deviceSum)
    {
        _run = run; Group = group;
        _gradients = new GradientHook(this, deviceSum);
        _topology = new TopologyHook(this);
    }

    /// <summary>The replicas.</summary>
    public ICollectives Group { get; }
    /// <summary>The run being trained.</summary>
    public TrainingRun Run => _run;
    /// <summary>Values (fp32) in the last step's gradient all-reduce.</summary>
    public long GradientValuesPerStep => _gradients.Values;
    /// <summary>Bytes each rank contributed to collectives so far: gradients, growth scores, fingerprints, metrics.</summary>
    public long BytesReduced { get; private set; }
    /// <summary>Bytes of growth scores each rank contributed to RigL's summed top-k so far.</summary>
    public long GrowthScoreBytes { get; private set; }
    /// <summary>Topology comparisons across ranks that found every rank equal (every mask update, every epoch start).</summary>
    public int TopologyChecks { get; private set; }
    /// <summary>Weight comparisons across ranks that found every rank equal (every epoch start and <see cref="CheckWeights"/>).</summary>
    public int WeightChecks { get; private set; }
    /// <summary>Wall time spent in the gradient sum (packing, all-reduce, unpacking) so far, seconds.</summary>
    public double GradientSumSeconds => _gradients.Seconds;
    /// <summary>Gradient sums (training steps) so far.</summary>
    public long GradientSums => _gradients.Sums;
    /// <summary>Where the gradients are summed: "host (MPI)" or "device (NCCL)".</summary>
    public string GradientPath => _gradients.Path;

    /// <summary>
    /// Makes <paramref name="run"/> data-parallel over <paramref name="group"/>: shards the batches, adds the gradient
    /// all-reduce (first hook) and the topology check (last hook), sums RigL's growth scores, reduces the epoch's
    /// train loss and accuracy, and lets rank 0 alone write outputs. <paramref name="deviceSum"/> sums gradients on
    /// the device (NCCL) when given; else gradients go through host memory and <paramref name="group"/>. Throws
    /// <see cref="ArgumentException"/> when a global batch has fewer samples than there are ranks, or for a method
    /// whose choices are not made identical across replicas (SNIP: its one-batch saliency is not summed).
    /// </summary>
    public static DataParallel Attach(TrainingRun run, ICollectives group, IDeviceGradientSum? deviceSum = null)
    {
        int n = run.TrainBatches.Data.Count, bs = run.Options.BatchSize, size = group.Size;
        int last = n % bs == 0 ? bs : n % bs;
        if (Math.Min(bs, last) < size)
            throw new ArgumentException($"Data-parallel training over {size} ranks needs at least {size} samples in every batch, but "
                + (bs < size ? $"the batch size is {bs}" : $"the last batch of each epoch holds {last} of the {n} samples")
                + $"; use fewer ranks or another RunOptions.BatchSize / TrainLimit.");
        if (run.Options.Method is { Method: "snip" })
            throw new ArgumentException("Data-parallel training does not support SNIP (its one-batch saliency would differ per replica); "
                + "use static, set, rigl, gmp, imp or kd-ticket.");
        var dp = new DataParallel(run, group, deviceSum);
        run.Trainer.Shard = new DataShard(group.Rank, size);
        run.Trainer.Hooks.Insert(0, dp._gradients);
        run.Trainer.Hooks.Add(dp._topology);
        run.Trainer.ReduceEpochSums = dp.ReduceEpochSums;
        run.WritesOutputs = group.Rank == 0;
        if (run.Method is Sparsity.Rigl rigl) rigl.ScoreSum = dp.SumGrowthScores;
        return dp;
    }

    private (double, long, long) ReduceEpochSums((double LossSum, long Correct, long Seen) local)
    {
        Span<double> s = [local.LossSum, local.Correct, local.Seen];
        Group.AllReduceSum(s);
        BytesReduced += 3 * sizeof(double);
        return (s[0], (long)Math.Round(s[1]), (long)Math.Round(s[2]));
    }

    private void SumGrowthScores(Span<float> chunk)
    {
        float w = _gradients.Weight;
        if (w != 1) foreach (ref float v in chunk) v *= w;
        Group.AllReduceSum(chunk);
        BytesReduced += (long)chunk.Length * sizeof(float);
        GrowthScoreBytes += (long)chunk.Length * sizeof(float);
    }

    /// <summary>Compares the topology fingerprint across ranks; throws <see cref="InvalidOperationException"/> (on every
    /// rank) when they differ.</summary>
    public void CheckTopology(string when)
    {
        ulong h = ModelHash.Topology(_run.Model, _run.Method is { } m ? m.Mask : null);
        Compare(h, "sparse patterns", when);
        TopologyChecks++;
    }

    /// <summary>Compares the weights' fingerprint across ranks; throws <see cref="InvalidOperationException"/> (on every
    /// rank) when they differ.</summary>
    public void CheckWeights(string when)
    {
        Compare(ModelHash.Values(_run.Model), "weights", when);
        WeightChecks++;
    }

    private void Compare(ulong hash, string what, string when)
    {
        Span<long> lo = [(long)hash], hi = [(long)hash];
        Group.AllReduceMin(lo);
        Group.AllReduceMax(hi);
        BytesReduced += 2 * sizeof(long);
        if (lo[0] != hi[0])
            throw new InvalidOperationException($"Data-parallel replicas diverged: the {what} differ across the {Group.Size} ranks {when} "
                + $"(rank {Group.Rank}: fingerprint {hash:x16}; lowest {(ulong)lo[0]:x16}, highest {(ulong)hi[0]:x16}).");
    }

    /// <inheritdoc/>
    public void Dispose() => _gradients.Dispose();

    /// <summary>First hook: the one all-reduce of all gradients per step.</summary>
    private sealed class GradientHook(DataParallel owner, IDeviceGradientSum? deviceSum) : IStepHook, IDisposable
    {
        private float[] _flat = [];

        public long Values { get; private set; }
        public double Seconds { get; private set; }
        public long Sums { get; private set; }
        /// <summary>This replica's share of the current global batch, n_r / N.</summary>
        public float Weight { get; private set; } = 1;
        public string Path => deviceSum is null ? "host (MPI all-reduce)" : deviceSum.Description;

        public void BeforeOptimizerStep(StepContext c)
        {
            long start = Stopwatch.GetTimestamp();
            Sum(c);
            Seconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
            Sums++;
        }

        private void Sum(StepContext c)
        {
            var trainer = owner._run.Trainer;
            int n = trainer.Train.Data.Count, bs = trainer.Config.BatchSize;
            int global = Math.Min(bs, n - c.Step * bs);
            int local = new DataShard(owner.Group.Rank, owner.Group.Size).Length(global);
            Weight = (float)local / global;
            var ps = c.Model.Parameters.ToArray();
            long total = 0;
            foreach (var p in ps)
            {
                if (p.Grad is null)
                    throw new InvalidOperationException(
                        $"{p.Name} has no gradient after backward; data-parallel training sums every parameter's gradient.");
                total += p.Grad.Length;
            }
            Values = total;
            owner.BytesReduced += total * sizeof(float);
            if (deviceSum is not null && c.Model.Backend.Device is not null)
            {
                deviceSum.SumScaled(ps.Select(p => p.Grad!).ToArray(), total, Weight);
                return;
            }
            if (_flat.Length != total) _flat = new float[total];   // reused: nnz per layer is constant between updates
            var flat = _flat.AsSpan();
            long at = 0;
            foreach (var p in ps)
            {
                var g = p.Grad!;
                var dst = flat.Slice((int)at, (int)g.Length);
                if (g.IsOnDevice) g.DeviceData.CopyTo(dst);
                else g.HostData.CopyTo(dst);
                at += g.Length;
            }
            if (Weight != 1) foreach (ref float v in flat) v *= Weight;
            owner.Group.AllReduceSum(flat);
            at = 0;
            foreach (var p in ps)
            {
                var g = p.Grad!;
                var src = flat.Slice((int)at, (int)g.Length);
                if (g.IsOnDevice) g.DeviceData.CopyFrom(src);
                else src.CopyTo(g.HostData);
                at += g.Length;
            }
        }

        public void Dispose() => (deviceSum as IDisposable)?.Dispose();
    }

    /// <summary>Last hook: topology compared after every mask update (SET's comes after the optimizer step), topology and
    /// weights at every epoch start.</summary>
    private sealed class TopologyHook(DataParallel owner) : IStepHook
    {
        private int _updates = -1;

        public void BeforeEpoch(Sequential model, Optimizer optimizer, int epoch)
        {
            owner.CheckTopology($"at the start of epoch {epoch + 1}");
            owner.CheckWeights($"at the start of epoch {epoch + 1}");
            _updates = owner._run.Method?.Updates ?? 0;
        }

        public void AfterOptimizerStep(StepContext c)
        {
            int updates = owner._run.Method?.Updates ?? 0;
            if (updates == _updates) return;
            _updates = updates;
            owner.CheckTopology($"after mask update {updates} (global step {c.GlobalStep})");
        }
    }
}

/// <summary>Sums gradients that live on a device across the replicas without a trip through host memory (NCCL).</summary>
internal interface IDeviceGradientSum
{
    /// <summary>What sums the gradients, for logs.</summary>
    string Description { get; }
    /// <summary>Replaces each gradient by the sum over the replicas of <paramref name="weight"/> x that replica's gradient.</summary>
    void SumScaled(IReadOnlyList<DenseTensor> gradients, long totalValues, float weight);
}
