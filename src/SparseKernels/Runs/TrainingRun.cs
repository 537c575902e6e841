using System.Globalization;
using System.Text.Json;
using SparseKernels.Autograd;
using SparseKernels.Training;

namespace SparseKernels.Runs;

/// <summary>Everything the <c>train</c> command asks for.</summary>
public sealed record RunOptions
{
    /// <summary>The layer sizes of an MLP, inputs first and classes last (at least two; default 784-300-100-10); used when <see
    /// cref="Model"/> is null.</summary>
    public int[] Layers { get; init; } = [784, 300, 100, 10];
    /// <summary>The model as a <see cref="ModelSpec"/> text (e.g. <c>mlp:784-300-100-10</c>), or null for the MLP of <see
    /// cref="Layers"/>.</summary>
    public string? Model { get; init; }
    /// <summary>One value for every layer, or one per layer; 0 = dense.</summary>
    public double[] Sparsity { get; init; } = [0];
    /// <summary>The number of epochs to train (default 3).</summary>
    public int Epochs { get; init; } = 3;
    /// <summary>Samples per minibatch (default 128).</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>The base learning rate (default 0.05), shaped by <see cref="Schedule"/>.</summary>
    public float LearningRate { get; init; } = 0.05f;
    /// <summary>The optimizer: <c>sgd</c> (default) or <c>adam</c>.</summary>
    public string Optimizer { get; init; } = "sgd";
    /// <summary>SGD momentum (default 0.9).</summary>
    public float Momentum { get; init; } = 0.9f;
    /// <summary>L2 weight decay added to the gradients (default 5e-4).</summary>
    public float WeightDecay { get; init; } = 5e-4f;
    /// <summary>Whether SGD uses Nesterov momentum.</summary>
    public bool Nesterov { get; init; }
    /// <summary>The learning-rate schedule: <c>cosine</c> (default), <c>step</c> or <c>constant</c>.</summary>
    public string Schedule { get; init; } = "cosine";
    /// <summary>For the <c>step</c> schedule: the epochs between learning-rate drops (default 10).</summary>
    public int StepEvery { get; init; } = 10;
    /// <summary>For the <c>step</c> schedule: the factor of each drop (default 0.1).</summary>
    public float StepGamma { get; init; } = 0.1f;
    /// <summary>The weight initializer, by name (see <see cref="Initializers.Names"/>), or <c>auto</c> (the default):
    /// <c>kaiming-normal</c> for an MLP, <c>torch-default</c> for a model with convolutions (<see cref="InitName"/>).</summary>
    public string Init { get; init; } = "auto";
    /// <summary>The seed of the initialisation, the shuffling and the methods' randomness (default 1).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Use only the first N training / test samples (0 = all).</summary>
    public int TrainLimit { get; init; }
    /// <summary>Use only the first N test samples (0 = all).</summary>
    public int TestLimit { get; init; }
    /// <summary>The folder for metrics.jsonl, metrics.csv and checkpoint.bin, or null to write nothing.</summary>
    public string? OutputFolder { get; init; }
    /// <summary>Continue the run whose checkpoint is in <see cref="OutputFolder"/> instead of starting a new one.</summary>
    public bool Resume { get; init; }
    /// <summary>A sparse-training method (Sparsity/): when set, it decides the layer densities (its Sparsity and
    /// Distribution) and <see cref="Sparsity"/> above is ignored. null = the plain run (uniform per-layer sparsity).</summary>
    public Sparsity.SparsityOptions? Method { get; init; }
    /// <summary>Zapping of the output layer: null = off, "all" or "k:N"; every <see cref="ZapEvery"/> epochs.</summary>
    public string? Zap { get; init; }
    /// <summary>The epochs between zaps of the output layer (default 1).</summary>
    public int ZapEvery { get; init; } = 1;
    /// <summary>What a NaN or infinite loss or gradient does: stop the run (default) or skip the batch.</summary>
    public NonFiniteAction NonFinite { get; init; } = NonFiniteAction.Stop;
    /// <summary>Also write a (mid-epoch) checkpoint every N steps (0 = only after each epoch); needs <see cref="OutputFolder"/>.</summary>
    public int CheckpointEverySteps { get; init; }

    /// <summary>The sparsity of each layer from <see cref="Sparsity"/> (one value repeated, or one per layer). Throws <see cref="ArgumentException"/> when the count fits neither.</summary>
    public double[] SparsityPerLayer()
    {
        int n = Spec().WeightMatrices.Count;
        if (Sparsity.Length == 1) return Enumerable.Repeat(Sparsity[0], n).ToArray();
        if (Sparsity.Length != n) throw new ArgumentException($"RunOptions.Sparsity has {Sparsity.Length} values; give one, or one per layer ({n}).");
        return Sparsity;
    }

    /// <summary>
    /// The initializer <see cref="Init"/> names; <c>auto</c> is <c>kaiming-normal</c> for an MLP and <c>torch-default</c>
    /// (PyTorch's nn.Conv2d / nn.Linear default, U(+-1/sqrt(fan_in))) for a model with convolutions: from Kaiming's 6x larger
    /// variance the dense LeNet-5 diverges at the default lr 0.05 with momentum 0.9 (31 % test accuracy after 2 epochs on
    /// 10,000 images, 81 % from PyTorch's default; the gradients match PyTorch's, LeNet5TorchTests).
    /// </summary>
    public string InitName()
    {
        if (!Init.Equals("auto", StringComparison.OrdinalIgnoreCase)) return Init;
        return Spec().Layers.Any(l => l.Kind == LayerKind.Conv2d) ? "torch-default" : "kaiming-normal";
    }

    /// <summary>The architecture: <see cref="Model"/> parsed, or the MLP of <see cref="Layers"/>. Throws <see cref="ArgumentException"/>
    /// naming what is wrong.</summary>
    public ModelSpec Spec()
    {
        if (Model is { } text) return ModelSpec.Parse(text);
        if (Layers.Length < 2) throw new ArgumentException("RunOptions.Layers needs at least two sizes (inputs and classes).");
        return ModelSpec.Mlp(Layers);
    }
}

/// <summary>
/// A training run on a backend: builds (or resumes) the model, trains epoch by epoch and, when an output folder
/// is given, writes metrics.jsonl, metrics.csv and checkpoint.bin after every epoch.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    /// <summary>The file names the run writes into <see cref="RunOptions.OutputFolder"/>: the checkpoint, the metrics as JSON lines and as CSV.</summary>
    public const string CheckpointFile = "checkpoint.bin", JsonFile = "metrics.jsonl", CsvFile = "metrics.csv";
    private readonly List<string> _jsonLines = [];

    /// <summary>Builds the run: the model (or the one resumed from the checkpoint), the optimizer, the schedule, the method and the batch sources. Throws <see cref="ArgumentException"/> for invalid options or data that do not fit the layers, and <see cref="InvalidOperationException"/> when the output folder holds a checkpoint and <see cref="RunOptions.Resume"/> is not set.</summary>
    public TrainingRun(RunOptions options, ITensorBackend backend, ImageDataset train, ImageDataset test)
    {
        Options = options;
        Backend = backend;
        var spec = options.Spec();
        var shapes = Sparsity.LayerDensities.Shapes(spec);
        if (options.Epochs < 0) throw new ArgumentException($"RunOptions.Epochs is {options.Epochs}; it must be >= 0.");
        if (options.BatchSize <= 0) throw new ArgumentException($"RunOptions.BatchSize is {options.BatchSize}; it must be positive.");
        if (options.CheckpointEverySteps < 0)
            throw new ArgumentException($"RunOptions.CheckpointEverySteps is {options.CheckpointEverySteps}; it must be >= 0.");
        if (!(options.LearningRate > 0)) throw new ArgumentException($"RunOptions.LearningRate is {options.LearningRate}; it must be positive.");
        options.Method?.Validate();
        var sparsity = options.Method is { } m0 ? Sparsity.Methods.InitialSparsity(m0, shapes) : options.SparsityPerLayer();
        // Which layers a checkpoint must hold as CSR; null for GMP / IMP / KD tickets, which turn layers CSR as they
        // prune (the checkpoint says which).
        var expectedSparse = options.Method is { PrunesGradually: true } ? null
            : options.Method is { Method: "snip" } m1
            ? m1.Counts(shapes).Select((c, i) => c < shapes[i].Weights).ToArray()
            : sparsity.Select(x => x > 0).ToArray();
        RunMemory.Check(spec, sparsity, options, backend.Device is not null);
        if (options.TrainLimit > 0) train = train.Take(options.TrainLimit);
        if (options.TestLimit > 0) test = test.Take(options.TestLimit);
        string what = options.Model is null ? "RunOptions.Layers" : $"RunOptions.Model {spec.Text}";
        if (spec.Input.Features != train.Features) throw new ArgumentException($"{what} starts with {spec.Input.Features} inputs but the data has {train.Features} features per sample.");
        if (spec.Classes != train.Classes) throw new ArgumentException($"{what} ends with {spec.Classes} outputs but the data has {train.Classes} classes.");
        Optimizer = options.Optimizer.ToLowerInvariant() switch
        {
            "sgd" => new SgdOptimizer { Momentum = options.Momentum, WeightDecay = options.WeightDecay, Nesterov = options.Nesterov },
            "adam" => new AdamOptimizer { WeightDecay = options.WeightDecay },
            _ => throw new ArgumentException($"Unknown optimizer '{options.Optimizer}'; use sgd or adam."),
        };
        ILrSchedule schedule = options.Schedule.ToLowerInvariant() switch
        {
            "cosine" => new CosineSchedule(),
            "step" => new StepSchedule(options.StepEvery, options.StepGamma),
            "constant" => new ConstantSchedule(),
            _ => throw new ArgumentException($"Unknown schedule '{options.Schedule}'; use cosine, step or constant."),
        };
        Rng = new TrainRng(options.Seed);
        Method = options.Method is { } mo ? Sparsity.Methods.Create(mo with { Seed = options.Seed }) : null;
        Method?.CheckFeasible(shapes);
        string? ckpt = options.OutputFolder is null ? null : Path.Combine(options.OutputFolder, CheckpointFile);
        EpochProgress? resumeFrom = null;
        if (options.Resume)
        {
            if (ckpt is null) throw new ArgumentException("RunOptions.Resume needs OutputFolder (the folder holding checkpoint.bin).");
            var (model, state) = Checkpoint.Load(ckpt, backend, spec, expectedSparse, Optimizer, Rng, Method);
            Model = model;
            EpochsDone = state.EpochsDone;
            _jsonLines.AddRange(state.MetricsJsonLines);
            resumeFrom = state.Partial;
        }
        else
        {
            if (ckpt is not null && File.Exists(ckpt))
                throw new InvalidOperationException($"{ckpt} exists: set RunOptions.Resume to continue it, or choose another RunOptions.OutputFolder (nothing was overwritten).");
            Model = Sequential.Create(backend, spec, sparsity, Initializers.ByName(options.InitName()), Rng);
        }
        TrainBatches = new BatchSource(train, backend);
        TestBatches = new BatchSource(test, backend);
        TotalEpochs = options.Epochs;
        if (Method is Sparsity.LotteryTicket)
        {
            TotalEpochs = Sparsity.LotteryTicket.TotalEpochs(options.Epochs, options.Method!.ImpLevels);
            schedule = new LevelSchedule(schedule, options.Epochs);
        }
        Trainer = new Trainer(Model, Optimizer, schedule, new TrainConfig { Epochs = TotalEpochs, BatchSize = options.BatchSize, LearningRate = options.LearningRate, Seed = options.Seed },
                              TrainBatches, TestBatches, Rng);
        if (Method is not null)
        {
            Method.Attach(Model, Trainer);
            Trainer.Hooks.Add(Method);
        }
        if (options.Zap is { } zap)
        {
            int classes = Sparsity.Zapping.ParseClasses(zap);
            if (classes > spec.Classes) throw new ArgumentException($"RunOptions.Zap k:{classes}: the output layer has only {spec.Classes} classes.");
            var method = Method;
            Trainer.Hooks.Add(new Sparsity.Zapping(options.ZapEvery, classes, Initializers.ByName(options.InitName()), options.Seed, method is null ? null : method.Mask));
        }
        Guard = new NonFiniteGuard(options.NonFinite);
        Trainer.Hooks.Insert(0, Guard);
        Trainer.ResumeFrom = resumeFrom;
        Trainer.AfterStep = AfterStep;
    }

    /// <summary>The NaN / infinity check that runs first in every step (<see cref="RunOptions.NonFinite"/>).</summary>
    public NonFiniteGuard Guard { get; }
    /// <summary>Polled after every step and epoch; returning true stops the run there, after writing a checkpoint
    /// (a mid-epoch one inside an epoch). The CLI sets it from SIGINT / SIGTERM (<see cref="RunInterrupts"/>).</summary>
    public Func<bool>? StopRequested { get; set; }
    /// <summary>Whether the last <see cref="Run"/> was stopped by <see cref="StopRequested"/> before its last epoch ended.</summary>
    public bool Interrupted { get; private set; }
    /// <summary>Where an interrupted run stands, e.g. "epoch 2, after step 17 of 40" or "after epoch 1".</summary>
    public string InterruptedAt { get; private set; } = "";
    /// <summary>The file written when a non-finite value stopped the run (in <see cref="RunOptions.OutputFolder"/>).</summary>
    public const string NonFiniteFile = "nonfinite.json";

    private bool AfterStep(EpochProgress p)
    {
        if (StopRequested?.Invoke() == true) return true;
        int every = Options.CheckpointEverySteps;
        if (every > 0 && p.NextStep % every == 0) SaveCheckpoint(p);
        return false;
    }

    private void SaveCheckpoint(EpochProgress? partial)
    {
        if (Options.OutputFolder is not { } dir) return;
        Directory.CreateDirectory(dir);
        Checkpoint.Save(Path.Combine(dir, CheckpointFile), Model, Optimizer, Rng, EpochsDone, _jsonLines, Method, partial);
    }

    /// <summary>The sparsity method's hook (null for a plain run, dense or static).</summary>
    public Sparsity.SparsityMethod? Method { get; }
    /// <summary>Epochs the run trains: Options.Epochs, or Epochs x (levels + 1) for IMP / KD tickets.</summary>
    public int TotalEpochs { get; }

    /// <summary>Restarts the inner schedule every <c>every</c> epochs (each IMP level trains with a fresh schedule).</summary>
    private sealed class LevelSchedule(ILrSchedule inner, int every) : ILrSchedule
    {
        public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs) => inner.At(baseLr, epoch % every, step, stepsPerEpoch, every);
    }

    /// <summary>The options the run was built with.</summary>
    public RunOptions Options { get; }
    /// <summary>The backend the run trains on.</summary>
    public ITensorBackend Backend { get; }
    /// <summary>The model being trained.</summary>
    public Sequential Model { get; }
    /// <summary>The optimizer (SGD or Adam, from <see cref="RunOptions.Optimizer"/>).</summary>
    public Optimizer Optimizer { get; }
    /// <summary>The run's random source (its state is saved in checkpoints).</summary>
    public TrainRng Rng { get; }
    /// <summary>The trainer that runs the epochs.</summary>
    public Trainer Trainer { get; }
    /// <summary>The training minibatches.</summary>
    public BatchSource TrainBatches { get; }
    /// <summary>The test minibatches.</summary>
    public BatchSource TestBatches { get; }
    /// <summary>The epochs finished so far (including those of a resumed checkpoint).</summary>
    public int EpochsDone { get; private set; }
    /// <summary>One JSON line of metrics per finished epoch, as written to metrics.jsonl.</summary>
    public IReadOnlyList<string> MetricsJsonLines => _jsonLines;
    /// <summary>The metrics of the epochs this object trained.</summary>
    public List<EpochMetrics> Metrics { get; } = [];

    /// <summary>Trains the remaining epochs (up to Options.Epochs), writing outputs after each.</summary>
    public IReadOnlyList<EpochMetrics> Run(int? stopAfterEpochs = null)
    {
        int last = stopAfterEpochs is int s ? Math.Min(s, TotalEpochs) : TotalEpochs;
        Interrupted = false; InterruptedAt = "";
        while (EpochsDone < last)
        {
            EpochMetrics? m;
            try { m = Trainer.TryRunEpoch(EpochsDone); }
            catch (NonFiniteException e)
            {
                WriteNonFiniteReport(e);
                throw;
            }
            if (m is null)
            {
                var p = Trainer.Stopped!;
                SaveCheckpoint(p);
                Interrupted = true;
                InterruptedAt = $"epoch {p.Epoch + 1}, after step {p.NextStep} of {Trainer.StepsPerEpoch}";
                return Metrics;
            }
            EpochsDone++;
            Metrics.Add(m);
            if (Method is Sparsity.LotteryTicket lt)
            {
                lt.EpochDone(Model, m);
                if (Options.OutputFolder is { } od && WritesOutputs)
                {
                    Directory.CreateDirectory(od);
                    WriteAtomically(Path.Combine(od, "levels.json"),
                        JsonSerializer.Serialize(lt.Levels, RunJson.Default.IReadOnlyListImpLevel));
                }
            }
            _jsonLines.Add(ToJson(m, Trainer.LastEpochSkippedBatches));
            WriteOutputs();
            if (EpochsDone < last && StopRequested?.Invoke() == true)
            {
                Interrupted = true;
                InterruptedAt = $"after epoch {EpochsDone}";
                return Metrics;
            }
        }
        return Metrics;
    }

    /// <summary>The metrics so far (metrics.jsonl, metrics.csv) and nonfinite.json naming where it happened; the checkpoint
    /// is left as it was (the last good state).</summary>
    private void WriteNonFiniteReport(NonFiniteException e)
    {
        if (Options.OutputFolder is not { } dir) return;
        Directory.CreateDirectory(dir);
        WriteMetrics(dir);
        WriteAtomically(Path.Combine(dir, NonFiniteFile), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["epoch"] = e.Epoch + 1,
            ["batch"] = e.Batch + 1,
            ["step"] = e.Step + 1,
            ["what"] = e.What,
            ["first_nonfinite_gradient"] = e.Gradient ?? "none",
            ["epochs_done"] = EpochsDone,
            ["checkpoint"] = File.Exists(Path.Combine(dir, CheckpointFile))
                ? $"{CheckpointFile} (after epoch {EpochsDone}, untouched)"
                : "none",
            ["message"] = e.Message,
        }, RunJson.Default.DictionaryStringObject) + "\n");
    }
    /// <summary>Data-parallel training: false on every replica but rank 0, which alone writes the outputs.</summary>
    internal bool WritesOutputs { get; set; } = true;

    private void WriteOutputs()
    {
        if (Options.OutputFolder is not { } dir || !WritesOutputs) return;
        Directory.CreateDirectory(dir);
        Checkpoint.Save(Path.Combine(dir, CheckpointFile), Model, Optimizer, Rng, EpochsDone, _jsonLines, Method);
        WriteMetrics(dir);
    }

    private void WriteMetrics(string dir)
    {
        WriteAtomically(Path.Combine(dir, JsonFile), string.Concat(_jsonLines.Select(l => l + "\n")));
        var csv = new List<string> { "epoch,train_loss,train_acc,test_loss,test_acc,nnz_per_layer,epoch_s,step_ms,peak_device_bytes,lr" };
        foreach (var line in _jsonLines)
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            string F(string name) => e.GetProperty(name).GetRawText().Trim('"');
            csv.Add(string.Join(',', F("epoch"), F("train_loss"), F("train_acc"), F("test_loss"), F("test_acc"),
                string.Join(';', e.GetProperty("nnz_per_layer").EnumerateArray().Select(x => x.GetRawText())), F("epoch_s"), F("step_ms"), F("peak_device_bytes"), F("lr")));
        }
        WriteAtomically(Path.Combine(dir, CsvFile), string.Join("\n", csv) + "\n");
    }

    private static void WriteAtomically(string path, string text)
    {
        using (var f = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write))
        {
            f.Write(System.Text.Encoding.UTF8.GetBytes(text));
            f.Flush(flushToDisk: true);
        }
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The JSON line metrics.jsonl holds for one epoch (snake_case keys: epoch, train_loss, test_acc, ...,
    /// skipped_batches); NaN and infinities are written as the strings "NaN", "Infinity", "-Infinity".</summary>
    public static string ToJson(EpochMetrics m, int skippedBatches = 0) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["epoch"] = m.Epoch,
        ["train_loss"] = m.TrainLoss,
        ["train_acc"] = m.TrainAccuracy,
        ["test_loss"] = m.TestLoss,
        ["test_acc"] = m.TestAccuracy,
        ["nnz_per_layer"] = m.NnzPerLayer,
        ["epoch_s"] = Math.Round(m.EpochSeconds, 4),
        ["step_ms"] = Math.Round(m.StepMilliseconds, 4),
        ["peak_device_bytes"] = m.PeakDeviceBytes,
        ["lr"] = m.LearningRate,
        ["skipped_batches"] = skippedBatches,
    }, RunJson.Default.DictionaryStringObject);

    /// <inheritdoc/>
    public void Dispose()
    {
        TrainBatches.Dispose();
        TestBatches.Dispose();
        (Method as IDisposable)?.Dispose();
        Model.Dispose();
    }
}
