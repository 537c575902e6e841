using System.Diagnostics;
using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>The settings of a training run.</summary>
public sealed record TrainConfig
{
    /// <summary>The number of epochs (default 3).</summary>
    public int Epochs { get; init; } = 3;
    /// <summary>Samples per minibatch (default 128).</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>The base learning rate the schedule shapes (default 0.05).</summary>
    public float LearningRate { get; init; } = 0.05f;
    /// <summary>The seed of the run (default 1).</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>One epoch's figures.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
                                  long[] NnzPerLayer, double EpochSeconds, double StepMilliseconds, long PeakDeviceBytes, float LearningRate);

/// <summary>
/// Where an epoch stands after a step: enough to continue it bit for bit in another process (the shuffled order, the
/// next step, the running sums). Saved in mid-epoch checkpoints (<see cref="Checkpoint"/>).
/// </summary>
/// <param name="Epoch">The 0-based epoch.</param>
/// <param name="NextStep">The first step not yet done (0-based).</param>
/// <param name="Order">The epoch's shuffled sample order.</param>
/// <param name="LossSum">Sum of loss x batch size over the counted batches.</param>
/// <param name="Correct">Correct predictions over the counted batches.</param>
/// <param name="Seen">Samples in the counted batches.</param>
/// <param name="PeakDeviceBytes">Peak device memory in use so far.</param>
/// <param name="Seconds">Training seconds spent on the epoch so far.</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="SkippedBatches">Batches skipped by the <see cref="NonFiniteGuard"/> so far in the epoch.</param>
public sealed record EpochProgress(int Epoch, int NextStep, int[] Order, double LossSum, long Correct, long Seen, long PeakDeviceBytes,
                                   double Seconds, float LearningRate, int SkippedBatches);

/// <summary>Progress of one step, for a live display.</summary>
public readonly record struct StepProgress(int Epoch, int Step, int StepsPerEpoch, double RunningLoss, double RunningAccuracy, double StepsPerSecond);

/// <summary>
/// The training loop: per epoch a seeded shuffle, batches, forward, mean softmax cross-entropy, backward, hooks,
/// optimizer step with the scheduled learning rate, then evaluation on the test set.
/// </summary>
public sealed class Trainer
{
    /// <summary>Creates the loop. Throws <see cref="ArgumentOutOfRangeException"/> for a batch size below 1 and <see cref="ArgumentException"/> when the data's features or classes do not fit the model.</summary>
    public Trainer(Sequential model, Optimizer optimizer, ILrSchedule schedule, TrainConfig config, BatchSource train, BatchSource test,
        TrainRng rng)
    {
        if (config.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(config), config.BatchSize, "The batch size must be positive.");
        if (train.Data.Features != model.InputFeatures)
            throw new ArgumentException($"The model takes {model.InputFeatures} inputs but the data has {train.Data.Features} features per sample.", nameof(train));
        if (train.Data.Classes != model.Classes)
            throw new ArgumentException($"The model gives {model.Classes} outputs but the data has {train.Data.Classes} classes.",
                nameof(train));
        Model = model; Optimizer = optimizer; Schedule = schedule; Config = config; Train = train; Test = test; Rng = rng;
    }

    /// <summary>The model being trained.</summary>
    public Sequential Model { get; }
    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>The learning-rate schedule.</summary>
    public ILrSchedule Schedule { get; }
    /// <summary>The settings.</summary>
    public TrainConfig Config { get; }
    /// <summary>The training batches.</summary>
    public BatchSource Train { get; }
    /// <summary>The test batches.</summary>
    public BatchSource Test { get; }
    /// <summary>The random source of the shuffles (saved in checkpoints).</summary>
    public TrainRng Rng { get; }
    /// <summary>The hooks called at every epoch start and step, in order (sparsity methods, zapping).</summary>
    public List<IStepHook> Hooks { get; } = [];
    /// <summary>The training loss (tape, logits, batch x, labels) -> scalar; null = mean softmax cross-entropy. KD tickets set it.</summary>
    public Func<Tape, Var, DenseTensor, Labels, Var>? LossFunction { get; set; }
    /// <summary>Set before <see cref="RunEpoch"/> to continue an epoch from a mid-epoch checkpoint (consumed by it).</summary>
    public EpochProgress? ResumeFrom { get; set; }
    /// <summary>Called after every step but an epoch's last with where the epoch stands; returning true stops the epoch there
    /// (<see cref="RunEpoch"/> then returns null and <see cref="Stopped"/> holds the progress). Interrupts and mid-epoch
    /// checkpoints plug in here.</summary>
    public Func<EpochProgress, bool>? AfterStep { get; set; }
    /// <summary>Where the last epoch stopped when <see cref="AfterStep"/> returned true; null after a whole epoch.</summary>
    public EpochProgress? Stopped { get; private set; }
    /// <summary>Data-parallel training (Distributed): the part of every global batch this replica trains on; null = all.</summary>
    internal DataShard? Shard { get; set; }
    /// <summary>Data-parallel training: turns the epoch's local (loss sum, correct, samples) into the global ones.</summary>
    internal Func<(double LossSum, long Correct, long Seen), (double LossSum, long Correct, long Seen)>? ReduceEpochSums { get; set; }
    /// <summary>Raised after every training step, for a live display.</summary>
    public event Action<StepProgress>? Progress;

    /// <summary>The number of batches per epoch (the last may be smaller).</summary>
    public int StepsPerEpoch => (Train.Data.Count + Config.BatchSize - 1) / Config.BatchSize;

    /// <summary>Trains one epoch (0-based <paramref name="epoch"/>) and evaluates on the test set. Throws
    /// <see cref="InvalidOperationException"/> when <see cref="AfterStep"/> stops it (use <see cref="TryRunEpoch"/> then).</summary>
    public EpochMetrics RunEpoch(int epoch)
        => TryRunEpoch(epoch)
           ?? throw new InvalidOperationException($"Epoch {epoch + 1} was stopped by AfterStep; call TryRunEpoch to continue it later.");

    /// <summary>Trains one epoch (0-based <paramref name="epoch"/>) and evaluates on the test set; null when
    /// <see cref="AfterStep"/> stopped it (see <see cref="Stopped"/>).</summary>
    public EpochMetrics? TryRunEpoch(int epoch)
    {
        var b = Model.Backend;
        int n = Train.Data.Count, bs = Config.BatchSize, steps = StepsPerEpoch;
        var resume = ResumeFrom;
        ResumeFrom = null; Stopped = null;
        if (resume is not null && (resume.Epoch != epoch || resume.Order.Length != n || resume.NextStep > steps))
        {
            throw new ArgumentException(
                $"The mid-epoch state is for epoch {resume.Epoch + 1} step {resume.NextStep} of {resume.Order.Length} samples; "
                + $"this is epoch {epoch + 1} of {n} samples ({steps} steps).", nameof(epoch));
        }
        if (resume is null) foreach (var h in Hooks) h.BeforeEpoch(Model, Optimizer, epoch);
        var order = resume?.Order ?? Enumerable.Range(0, n).ToArray();
        if (resume is null) Rng.Shuffle(order);
        double lossSum = resume?.LossSum ?? 0;
        long correct = resume?.Correct ?? 0, seen = resume?.Seen ?? 0, peak = resume?.PeakDeviceBytes ?? 0;
        int skipped = resume?.SkippedBatches ?? 0;
        double before = resume?.Seconds ?? 0;
        float lr = resume?.LearningRate ?? Config.LearningRate;
        var clock = Stopwatch.StartNew();
        for (int step = resume?.NextStep ?? 0; step < steps; step++)
        {
            var idx = order.AsSpan(step * bs, Math.Min(bs, n - step * bs));
            if (Shard is { } shard) idx = shard.Of(idx);
            var (x, labels) = Train.Get(idx);
            lr = Schedule.At(Config.LearningRate, epoch, step, steps, Config.Epochs);
            Optimizer.LearningRate = lr;
            float loss;
            bool skipBatch;
            using (labels)
            using (x)
            using (var t = new Tape(b))
            {
                var logits = Model.Forward(t, t.Constant(x));
                var l = LossFunction?.Invoke(t, logits, x, labels) ?? Fn.Mean(t, Fn.SoftmaxCrossEntropy(t, logits, labels));
                t.Backward(l);
                loss = Scalar(l.Value);
                long ok = Correct(logits.Value, labels);
                var ctx = new StepContext(Model, Optimizer, epoch, step, steps, (long)epoch * steps + step, loss) { TotalSteps = (long)Config.Epochs * steps };
                foreach (var h in Hooks) { h.BeforeOptimizerStep(ctx); if (ctx.SkipBatch) break; }
                skipBatch = ctx.SkipBatch;
                if (!ctx.SkipOptimizerStep && !skipBatch) Optimizer.Step(b, Model.Parameters);
                else foreach (var p in Model.Parameters) p.Var.ZeroGrad();
                if (!skipBatch) foreach (var h in Hooks) h.AfterOptimizerStep(ctx);
                if (!skipBatch) correct += ok;
            }
            if (skipBatch) skipped++;
            else
            {
                lossSum += (double)loss * idx.Length;
                seen += idx.Length;
            }
            if (b.Device is { } d && (step & 15) == 0)
            {
                var mem = d.GetMemoryInfo();
                peak = Math.Max(peak, mem.TotalBytes - mem.FreeBytes);
            }
            Progress?.Invoke(new StepProgress(epoch, step + 1, steps, lossSum / seen, (double)correct / seen, (step + 1) / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
            if (AfterStep is { } after && step + 1 < steps)
            {
                double spent = before + clock.Elapsed.TotalSeconds;
                var progress = new EpochProgress(epoch, step + 1, order, lossSum, correct, seen, peak, spent, lr, skipped);
                if (after(progress))
                {
                    b.Synchronize();
                    Stopped = progress;
                    return null;
                }
            }
        }
        b.Synchronize();
        if (ReduceEpochSums is { } reduce) (lossSum, correct, seen) = reduce((lossSum, correct, seen));
        double seconds = before + clock.Elapsed.TotalSeconds;
        LastEpochSkippedBatches = skipped;
        var (testLoss, testAcc) = Evaluate(Test);
        return new EpochMetrics(epoch + 1, lossSum / seen, (double)correct / seen, testLoss, testAcc,
            Model.Layers.Select(l => l.WeightCount).ToArray(), seconds, 1000 * seconds / steps, peak, lr);
    }

    /// <summary>Batches the <see cref="NonFiniteGuard"/> skipped in the last whole epoch.</summary>
    public int LastEpochSkippedBatches { get; private set; }

    /// <summary>Mean cross-entropy and accuracy over a dataset (batches of 1000, fewer for layers wider than 4096; no
    /// optimizer step).</summary>
    public (double Loss, double Accuracy) Evaluate(BatchSource data)
    {
        var b = Model.Backend;
        int n = data.Data.Count;
        var order = Enumerable.Range(0, n).ToArray();
        double lossSum = 0; long correct = 0;
        // At most 4M floats (16 MB) per activation: a 65536-wide layer evaluates 64 samples at a time.
        int widest = Model.Layers.Max(l => Math.Max(l.In, l.Out)), batch = Math.Clamp((4 << 20) / widest, 1, 1000);
        for (int s = 0; s < n; s += batch)
        {
            var idx = order.AsSpan(s, Math.Min(batch, n - s));
            var (x, labels) = data.Get(idx);
            using (labels)
            using (x)
            using (var t = new Tape(b))
            {
                var logits = Model.Forward(t, t.Constant(x));
                var l = Fn.Mean(t, Fn.SoftmaxCrossEntropy(t, logits, labels));
                lossSum += (double)Scalar(l.Value) * idx.Length;
                correct += Correct(logits.Value, labels);
            }
        }
        return (lossSum / Math.Max(1, n), (double)correct / Math.Max(1, n));
    }

    private static float Scalar(DenseTensor t) => t.IsOnDevice ? t.ToArray()[0] : t.HostData[0];

    private static long Correct(DenseTensor logits, Labels labels)
    {
        var z = logits.IsOnDevice ? logits.ToArray() : logits.HostData; var y = labels.ToArray();
        int classes = logits.Rows, batch = logits.Cols;
        long ok = 0;
        for (int s = 0; s < batch; s++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (z[c * batch + s] > z[best * batch + s]) best = c;
            if (best == y[s]) ok++;
        }
        return ok;
    }
}
