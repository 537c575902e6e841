using System.CommandLine;
using System.Globalization;
using SparseKernels.Autograd;
using SparseKernels.Cli.Results;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using SparseKernels.Training;
using Spectre.Console;

namespace SparseKernels.Cli;

/// <summary>
/// <c>train</c>: trains an MLP on Fashion-MNIST (dense or sparse layers) on the GPU, the CPU or the emulated device,
/// with a live progress bar, per-epoch metrics (JSON lines, CSV), a PNG plot and checkpoints (--resume).
/// With no arguments: the main job (<see cref="MainJob"/>), 784-300-100-10 dense and RigL 90 % ERK, 3 epochs each,
/// a comparison table and one plot of both runs.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var layers = new Option<string?>("--layers") { Description = "MLP layer sizes, e.g. 784-300-100-10 (default); the same as --model mlp:784-300-100-10." };
        var model = new Option<string?>("--model")
        {
            Description = "The model: mlp:784-300-100-10 (the default; --layers is its alias), lenet5, vgg-tiny, or a spec " +
                "<CxHxW>:<token>,... with fc<N>, conv<C>k<K>[s<S>][p<P>], relu, maxpool<K>[s<S>], gap, flatten " +
                "(e.g. 1x28x28:conv20k5,relu,maxpool2,flatten,fc10).",
        };
        var sparsity = new Option<string?>("--sparsity") { Description = "Fraction of zero weights: one value for all layers or one per layer, e.g. 0.9 or 0.9,0.9,0 (default 0 = dense)." };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (default 3)." };
        var batch = new Option<int>("--batch-size") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
        var lr = new Option<float>("--lr") { Description = "Base learning rate.", DefaultValueFactory = _ => 0.05f };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd or adam.", DefaultValueFactory = _ => "sgd" };
        var momentum = new Option<float>("--momentum") { Description = "SGD momentum.", DefaultValueFactory = _ => 0.9f };
        var wd = new Option<float>("--weight-decay") { Description = "L2 weight decay.", DefaultValueFactory = _ => 5e-4f };
        var nesterov = new Option<bool>("--nesterov") { Description = "Nesterov momentum (SGD)." };
        var schedule = new Option<string>("--schedule") { Description = "cosine, step (x0.1 every 10 epochs) or constant.", DefaultValueFactory = _ => "cosine" };
        var init = new Option<string>("--init") { Description = "auto (kaiming-normal for an MLP, torch-default for a model with convolutions), kaiming (kaiming-normal), kaiming-uniform, torch-default (PyTorch's default, U(+-1/sqrt(fan_in))), glorot (glorot-uniform), sparsity-aware or sparsity-aware-uniform (variance 1 / the unit's nonzero fan-in, rigl_tf2's unit_scaled_init), sparsity-aware-he (2 / fan-in).", DefaultValueFactory = _ => "auto" };
        var method = new Option<string?>("--method") { Description = "Sparse-training method: dense, static, set, rigl, snip, gmp, imp or kd-ticket (then --sparsity is one global value spread by --distribution)." };
        var distribution = new Option<string>("--distribution") { Description = "Layer densities for --method: uniform, er or erk.", DefaultValueFactory = _ => "erk" };
        var firstDense = new Option<bool>("--first-dense")
        {
            Description = "Keep the first layer dense (--method; the default for a model with convolutions).",
        };
        var firstSparse = new Option<bool>("--first-sparse")
        {
            Description = "Make a CNN's first layer sparse too (--method; CNNs keep it dense by default, as the RigL and SNIP papers do).",
        };
        var lastDense = new Option<bool>("--last-dense") { Description = "Keep the last layer dense (--method)." };
        var updateEvery = new Option<int>("--update-every") { Description = "RigL/SET: steps between mask updates (dT).", DefaultValueFactory = _ => 100 };
        var endFraction = new Option<double>("--end-fraction") { Description = "RigL/SET: stop mask updates at this fraction of training (T_end).", DefaultValueFactory = _ => 0.75 };
        var alpha = new Option<double>("--alpha") { Description = "RigL/SET: initial drop fraction.", DefaultValueFactory = _ => 0.3 };
        var gmpEvery = new Option<int>("--gmp-every") { Description = "GMP: prune every n steps.", DefaultValueFactory = _ => 100 };
        var gmpStart = new Option<double>("--gmp-start") { Description = "GMP: first pruning step as a fraction of training (t0).", DefaultValueFactory = _ => 0.0 };
        var gmpEnd = new Option<double>("--gmp-end") { Description = "GMP: last pruning step as a fraction of training (t_end).", DefaultValueFactory = _ => 0.75 };
        var csrBelow = new Option<double>("--csr-below-density") { Description = "GMP/IMP: a layer becomes CSR below this density (default: the sparse/dense dispatch crossover).", DefaultValueFactory = _ => SparseKernels.Sparsity.SparsityOptions.DefaultCsrBelowDensity };
        var impLevels = new Option<int>("--imp-levels") { Description = "IMP/KD ticket: pruning levels L (the run trains --epochs per level, L + 1 levels).", DefaultValueFactory = _ => 5 };
        var pruneFraction = new Option<double>("--prune-fraction") { Description = "IMP: fraction of the remaining weights pruned per level (0 = reach --sparsity after L levels).", DefaultValueFactory = _ => 0.0 };
        var rewindStep = new Option<long>("--rewind-step") { Description = "IMP/KD ticket: rewind survivors to their values at this step and resume the LR schedule there (0 = original lottery ticket / KD ticket alone).", DefaultValueFactory = _ => 0L };
        var noRewind = new Option<bool>("--no-rewind") { Description = "IMP/KD ticket: no rewinding, the pruned weights keep their trained values: fine-tuning (IMP) or fine-tuning + KD (kd-ticket; the paper's KD ticket alone is --rewind-step 0, the default)." };
        var perLayer = new Option<bool>("--per-layer-pruning") { Description = "IMP: prune per layer under --distribution instead of one global threshold." };
        var kdTemp = new Option<float>("--kd-temperature") { Description = "KD ticket: distillation temperature.", DefaultValueFactory = _ => 4f };
        var kdAlpha = new Option<float>("--kd-alpha") { Description = "KD ticket: weight of the soft-label term.", DefaultValueFactory = _ => 0.9f };
        var zap = new Option<string?>("--zap") { Description = "Zapping: re-initialise the output layer, all or k:N random classes." };
        var zapEvery = new Option<int>("--zap-every") { Description = "Zapping: at the start of every epoch e > 0 with e % N == 0.", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of patterns, initialisation and shuffling.", DefaultValueFactory = _ => 1UL };
        var device = new Option<string>("--device") { Description = "auto (GPU if there is one, else CPU), cpu, cuda or emulated (slow; for tests).", DefaultValueFactory = _ => "auto" };
        var data = new Option<string>("--data") { Description = "Folder of the Fashion-MNIST gzip IDX files.", DefaultValueFactory = _ => FashionMnist.DefaultFolder };
        var output = new Option<string?>("--output", "-o") { Description = "Output folder: metrics.jsonl, metrics.csv, plot.png, checkpoint.bin." };
        var resume = new Option<bool>("--resume") { Description = "Continue from <output>/checkpoint.bin." };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        var distributed = new Option<bool>("--distributed")
        {
            Description = "Data-parallel training under mpirun -np N (one replica per rank, each on its slice of every batch; rank 0 writes the outputs).",
        };
        var trainLimit = new Option<int>("--train-limit") { Description = "Use only the first N training samples (0 = all).", DefaultValueFactory = _ => 0 };
        var testLimit = new Option<int>("--test-limit") { Description = "Use only the first N test samples (0 = all).", DefaultValueFactory = _ => 0 };
        var onNonFinite = new Option<string>("--on-nonfinite")
        {
            Description = "A NaN/infinite loss or gradient: stop (exit 3, naming the step and layer; the last checkpoint is kept) "
                + "or skip-batch.",
            DefaultValueFactory = _ => "stop",
        };
        var checkpointEvery = new Option<int>("--checkpoint-every")
        {
            Description = "Also write a mid-epoch checkpoint every N steps (0 = after each epoch only).",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("train", "Train an MLP (dense or sparse layers) on Fashion-MNIST. With no options: the README's main job (784-300-100-10, dense vs RigL 90 % ERK, 3 epochs, one table and one plot).");
        foreach (var o in new Option[] { layers, model, sparsity, epochs, batch, lr, optimizer, momentum, wd, nesterov, schedule, init,
            seed, device, data, output, resume, threads, trainLimit, testLimit,
                                          distributed, method, distribution, firstDense, firstSparse, lastDense, updateEvery, endFraction, alpha,
                                              gmpEvery, gmpStart, gmpEnd, csrBelow, impLevels, pruneFraction, rewindStep, noRewind,
                                                  perLayer, kdTemp, kdAlpha, zap, zapEvery, onNonFinite, checkpointEvery })
            command.Options.Add(o);
        command.Subcommands.Add(ResultsCommand.Create());
        command.SetAction(parse =>
        {
            try
            {
                int t = parse.GetValue(threads);
                if (t < 0 || t > MaxThreads) throw new ArgumentException($"--threads is {t}; it must be in [0, {MaxThreads}] (0 = all cores).");
                var cpu = t > 0 ? new CpuTensorBackend(new Cpu.CpuBackend(t)) : CpuTensorBackend.Instance;
                var baseOptions = new RunOptions
                {
                    Layers = parse.GetValue(layers) is { } l ? ParseSizes(l) : [784, 300, 100, 10],
                    Model = parse.GetValue(model) is { } mtext
                        ? parse.GetValue(layers) is null ? mtext : throw new ArgumentException("Give either --model or --layers (its alias for an MLP), not both.")
                        : null,
                    Sparsity = parse.GetValue(sparsity) is { } s ? ParseFractions(s) : [0],
                    Epochs = parse.GetValue(epochs) ?? 3,
                    BatchSize = parse.GetValue(batch),
                    LearningRate = parse.GetValue(lr),
                    Optimizer = parse.GetValue(optimizer)!,
                    Momentum = parse.GetValue(momentum),
                    WeightDecay = parse.GetValue(wd),
                    Nesterov = parse.GetValue(nesterov),
                    Schedule = parse.GetValue(schedule)!,
                    Init = parse.GetValue(init)!,
                    Seed = parse.GetValue(seed),
                    OutputFolder = parse.GetValue(output),
                    Resume = parse.GetValue(resume),
                    TrainLimit = parse.GetValue(trainLimit),
                    TestLimit = parse.GetValue(testLimit),
                    Zap = parse.GetValue(zap),
                    ZapEvery = parse.GetValue(zapEvery),
                    NonFinite = NonFiniteGuard.Parse(parse.GetValue(onNonFinite)!),
                    CheckpointEverySteps = parse.GetValue(checkpointEvery),
                };
                if (parse.GetValue(method) is { } name)
                {
                    var sp = baseOptions.Sparsity;
                    if (sp.Length != 1) throw new ArgumentException($"--method {name} takes one global --sparsity (spread by --distribution); got {sp.Length} values.");
                    baseOptions = baseOptions with
                    {
                        Method = new SparseKernels.Sparsity.SparsityOptions
                        {
                            Method = name.ToLowerInvariant(),
                            Sparsity = sp[0],
                            Distribution = SparseKernels.Sparsity.LayerDensities.Parse(parse.GetValue(distribution)!),
                            FirstLayerDense = parse.GetValue(firstDense)
                                || (!parse.GetValue(firstSparse) && baseOptions.Spec().Layers.Any(l => l.Kind == LayerKind.Conv2d)),
                            LastLayerDense = parse.GetValue(lastDense),
                            UpdateEvery = parse.GetValue(updateEvery),
                            EndFraction = parse.GetValue(endFraction),
                            Alpha = parse.GetValue(alpha),
                            GmpEvery = parse.GetValue(gmpEvery),
                            GmpStartFraction = parse.GetValue(gmpStart),
                            GmpEndFraction = parse.GetValue(gmpEnd),
                            CsrBelowDensity = parse.GetValue(csrBelow),
                            ImpLevels = parse.GetValue(impLevels),
                            PruneFraction = parse.GetValue(pruneFraction),
                            RewindStep = parse.GetValue(rewindStep),
                            Rewind = !parse.GetValue(noRewind),
                            GlobalPruning = !parse.GetValue(perLayer),
                            KdTemperature = parse.GetValue(kdTemp),
                            KdAlpha = parse.GetValue(kdAlpha),
                        },
                    };
                }
                if (baseOptions.Model is { } mt)
                {
                    try { ModelSpec.Parse(mt); }
                    catch (ArgumentException e) { throw new ArgumentException($"--model: {e.Message}", e); }
                }
                if (ValidateOnly is { } validate)
                {
                    var (vb, vo) = OpenBackend(parse.GetValue(device)!, cpu);
                    try { return validate(baseOptions, vb); }
                    finally
                    {
                        (vb as IDisposable)?.Dispose();
                        vo?.Dispose();
                    }
                }
                if (parse.GetValue(distributed))
                    return DistributedTrain.Run(baseOptions, parse.GetValue(device)!, parse.GetValue(data)!, cpu);
                if (SparseKernels.Distributed.MpiCollectives.LaunchedSize is > 1 and int ranks)
                    throw new ArgumentException($"started by mpirun with {ranks} processes but without --distributed: "
                        + "each would train alone and write the same files; add --distributed.");
                bool mainJob = parse.GetValue(layers) is null && parse.GetValue(model) is null && parse.GetValue(sparsity) is null
                    && parse.GetValue(output) is null && !baseOptions.Resume && baseOptions.Method is null && baseOptions.Zap is null;
                // The main job's sparse run: RigL at 90 % with the layer densities of --distribution (ERK by default),
                // through the library's own method API, as `train --method rigl --sparsity 0.9 --distribution erk` does.
                var mainJobRigl = !mainJob ? null : new SparseKernels.Sparsity.SparsityOptions
                {
                    Method = "rigl",
                    Sparsity = 0.9,
                    Distribution = SparseKernels.Sparsity.LayerDensities.Parse(parse.GetValue(distribution)!),
                    UpdateEvery = parse.GetValue(updateEvery),
                    EndFraction = parse.GetValue(endFraction),
                    Alpha = parse.GetValue(alpha),
                };
                return Run(baseOptions, parse.GetValue(device)!, parse.GetValue(data)!, mainJobRigl, cpu);
            }
            catch (NonFiniteException e)
            {
                AnsiConsole.MarkupLine($"[red]train: {Markup.Escape(e.Message)}[/]");
                return NonFiniteExitCode;
            }
            catch (InterruptedRunException e) { return e.ExitCode; }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or CheckpointException
                                       or InvalidOperationException or IOException or OutOfMemoryException)
            {
                AnsiConsole.MarkupLine($"[red]train: {Markup.Escape(e.Message)}[/]");
                return 2;
            }
        });
        return command;
    }

    /// <summary>For the option-parsing fuzzer (tests): when set, <c>train</c> parses and checks its options, opens the
    /// backend and calls this instead of loading data and training (its result is the exit code).</summary>
    internal static Func<RunOptions, ITensorBackend, int>? ValidateOnly { get; set; }

    /// <summary>The model for messages: the MLP's sizes (784-300-100-10) or the spec's text.</summary>
    internal static string ModelText(RunOptions options)
        => options.Spec() is { MlpSizes: { } sizes } ? string.Join('-', sizes) : options.Spec().Text;

    /// <summary>The most CPU threads --threads accepts (each is a worker thread the backend starts).</summary>
    internal const int MaxThreads = 1024;

    /// <summary>The exit code of a run stopped by a NaN or infinite loss or gradient (--on-nonfinite stop).</summary>
    public const int NonFiniteExitCode = 3;

    /// <summary>A run stopped by SIGINT / SIGTERM after writing its checkpoint; the process exits with <see cref="ExitCode"/>.</summary>
    private sealed class InterruptedRunException(int exitCode) : Exception
    {
        public int ExitCode { get; } = exitCode;
    }

    private static string ResumeCommand()
    {
        var args = Environment.GetCommandLineArgs().Skip(1).Select(a => a.Any(char.IsWhiteSpace) ? $"'{a}'" : a).ToList();
        if (!args.Contains("--resume")) args.Add("--resume");
        return "dotnet " + string.Join(' ', args);
    }

    private static int[] ParseSizes(string text)
    {
        var parts = text.Split(['-', ',', 'x'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new ArgumentException($"--layers '{text}': '{p}' is not a positive layer size.")).ToArray();
    }

    private static double[] ParseFractions(string text)
        => text.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && v < 1 ? v
                : throw new ArgumentException($"--sparsity '{text}': '{p}' is not a fraction in [0, 1).")).ToArray();

    private static (ITensorBackend Backend, IDisposable? Owner) OpenBackend(string device, CpuTensorBackend cpu)
    {
        try { return OpenBackendOrThrow(device, cpu); }
        catch (SparseKernels.Native.CudaUnavailableException e)
        {
            throw new InvalidOperationException($"--device {device}: {e.Message}", e);
        }
    }

    private static (ITensorBackend Backend, IDisposable? Owner) OpenBackendOrThrow(string device, CpuTensorBackend cpu)
    {
        switch (device.ToLowerInvariant())
        {
            case "cpu": return (cpu, null);
            case "cuda":
                {
                    var d = Devices.Open(DevicePreference.Cuda);
                    return (new DeviceTensorBackend(d), new Owners(d));
                }
            case "emulated":
                {
                    var d = Devices.Open(DevicePreference.Emulated);
                    return (new DeviceTensorBackend(d), new Owners(d));
                }
            case "auto":
                if (Devices.ProbeCuda() is null)
                {
                    var d = Devices.Open(DevicePreference.Cuda);
                    return (new DeviceTensorBackend(d), new Owners(d));
                }
                return (cpu, null);
            default: throw new ArgumentException($"--device '{device}': use auto, cpu, cuda or emulated.");
        }
    }

    private sealed class Owners(IDisposable d) : IDisposable { public void Dispose() => d.Dispose(); }

    private static int Run(RunOptions options, string deviceName, string dataFolder, SparseKernels.Sparsity.SparsityOptions? mainJobRigl, CpuTensorBackend cpu)
    {
        var (backend, owner) = OpenBackend(deviceName, cpu);
        try
        {
            AnsiConsole.MarkupLine($"[bold]train[/] on {Markup.Escape(backend.Name)} ({(backend.Device is null ? $"{cpu.Cpu.MaxDegreeOfParallelism} CPU threads" : "device-resident data")}); data {Markup.Escape(dataFolder)}");
            var (train, test) = FashionMnist.Load(dataFolder);
            if (mainJobRigl is null)
            {
                var m = TrainOne(options, backend, train, test, "run").Metrics;
                return m.Count > 0 || options.Epochs == 0 || options.Resume ? 0 : 1;   // a resumed run may have nothing left to train
            }
            return MainJob.Run(options, mainJobRigl, backend, train, test);
        }
        finally
        {
            (backend as IDisposable)?.Dispose();
            owner?.Dispose();
        }
    }

    /// <summary>One run's metrics and, measured on its final model, the bytes of its weights as stored and of its optimizer state.</summary>
    internal sealed record RunSummary(string Label, RunOptions Options, IReadOnlyList<EpochMetrics> Metrics, IReadOnlyList<string> MetricsJsonLines,
                                      long Nonzeros, long StoredWeightBytes, long OptimizerStateBytes, int? MaskUpdates);

    internal static RunSummary TrainOne(RunOptions options, ITensorBackend backend, ImageDataset train, ImageDataset test, string label)
    {
        using var run = new TrainingRun(options, backend, train, test);
        using var interrupts = new RunInterrupts(Console.Error);
        run.StopRequested = () => interrupts.Requested;
        string sp = options.Method is { } mo
            ? $"{mo.Method} {mo.Sparsity.ToString("0.###", CultureInfo.InvariantCulture)} {mo.Distribution} (nnz {string.Join('/', mo.Counts(SparseKernels.Sparsity.LayerDensities.Shapes(options.Spec())))})"
            : string.Join(",", options.SparsityPerLayer().Select(x => x.ToString("0.##", CultureInfo.InvariantCulture)));
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(label)}[/]: {ModelText(options)}, sparsity {sp}, {options.Optimizer}{(options.Nesterov ? " (Nesterov)" : "")} lr {options.LearningRate} {options.Schedule}, batch {options.BatchSize}, seed {options.Seed}" +
                               (run.EpochsDone > 0 ? $", resumed after epoch {run.EpochsDone}" : ""));
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                while (run.EpochsDone < run.TotalEpochs)
                {
                    int e = run.EpochsDone;
                    var task = ctx.AddTask($"epoch {e + 1}/{run.TotalEpochs}", maxValue: run.Trainer.StepsPerEpoch);
                    void OnStep(StepProgress p)
                    {
                        task.Value = p.Step;
                        task.Description = $"epoch {p.Epoch + 1}/{run.TotalEpochs} loss {p.RunningLoss:F4} acc {p.RunningAccuracy:P1} {p.StepsPerSecond:F0} steps/s";
                    }
                    run.Trainer.Progress += OnStep;
                    run.Run(stopAfterEpochs: e + 1);
                    run.Trainer.Progress -= OnStep;
                    if (run.Interrupted || (interrupts.Requested && run.EpochsDone < run.TotalEpochs))
                    {
                        task.StopTask();
                        break;
                    }
                    var m = run.Metrics[^1];
                    task.Description = $"epoch {m.Epoch}/{run.TotalEpochs} train loss {m.TrainLoss:F4} acc {m.TrainAccuracy:P1} | test acc {m.TestAccuracy:P2} | {m.EpochSeconds:F1} s";
                    task.StopTask();
                }
            });
        if (interrupts.Requested && run.EpochsDone < run.TotalEpochs)
        {
            string where = run.Interrupted ? run.InterruptedAt : $"after epoch {run.EpochsDone}";
            Console.Error.WriteLine(options.OutputFolder is { } od
                ? $"{interrupts.SignalName}: stopped {where}; checkpoint written to {Path.Combine(od, TrainingRun.CheckpointFile)}. "
                  + $"Resume with:\n  {ResumeCommand()}"
                : $"{interrupts.SignalName}: stopped {where}; nothing saved (no --output folder).");
            throw new InterruptedRunException(interrupts.ExitCode);
        }
        foreach (var m in run.Metrics)
            AnsiConsole.MarkupLine($"  epoch {m.Epoch}: train loss {m.TrainLoss:F4}, train acc {m.TrainAccuracy:P2}, test acc {m.TestAccuracy:P2}, nnz {string.Join('/', m.NnzPerLayer)}, {m.EpochSeconds:F2} s, {m.StepMilliseconds:F2} ms/step" +
                                   (m.PeakDeviceBytes > 0 ? $", peak device memory {m.PeakDeviceBytes / (1 << 20)} MiB" : ""));
        if (run.Method is SparseKernels.Sparsity.LotteryTicket lt)
            foreach (var level in lt.Levels)
                AnsiConsole.MarkupLine($"  level {level.Level}: sparsity {level.Sparsity:P2}, {level.Nonzeros:N0} nonzeros, test acc {level.TestAccuracy:P2}");
        if (options.OutputFolder is { } dir && run.MetricsJsonLines.Count > 0)
        {
            string png = Path.Combine(dir, "plot.png");
            Plotting.LossAndAccuracy(run.MetricsJsonLines, png, label);
            AnsiConsole.MarkupLine($"  wrote {Markup.Escape(Path.Combine(dir, TrainingRun.JsonFile))}, {TrainingRun.CsvFile}, plot.png, {TrainingRun.CheckpointFile}");
        }
        var (nnz, stored, state) = MainJob.Bytes(run.Model);
        return new RunSummary(label, options, run.Metrics.ToArray(), run.MetricsJsonLines.ToArray(), nnz, stored, state,
                              run.Method is SparseKernels.Sparsity.SparsityMethod sm ? sm.Updates : null);
    }
}

/// <summary>The PNG plot of loss and accuracy per epoch (ScottPlot).</summary>
internal static class Plotting
{
    /// <summary>A metrics number; NaN and infinities are written as strings ("NaN", "Infinity").</summary>
    public static double Number(System.Text.Json.JsonElement e)
        => e.ValueKind == System.Text.Json.JsonValueKind.String
            ? double.Parse(e.GetString()!, CultureInfo.InvariantCulture)
            : e.GetDouble();

    public static void LossAndAccuracy(IReadOnlyList<string> jsonLines, string path, string title)
    {
        var rows = jsonLines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToArray();
        double[] epoch = rows.Select(r => Number(r.GetProperty("epoch"))).ToArray();
        double[] loss = rows.Select(r => Number(r.GetProperty("train_loss"))).ToArray();
        double[] testLoss = rows.Select(r => Number(r.GetProperty("test_loss"))).ToArray();
        double[] trainAcc = rows.Select(r => Number(r.GetProperty("train_acc"))).ToArray();
        double[] testAcc = rows.Select(r => Number(r.GetProperty("test_acc"))).ToArray();
        var plt = new ScottPlot.Plot();
        var a = plt.Add.Scatter(epoch, loss); a.LegendText = "train loss";
        var b = plt.Add.Scatter(epoch, testLoss); b.LegendText = "test loss";
        var c = plt.Add.Scatter(epoch, trainAcc); c.LegendText = "train accuracy"; c.Axes.YAxis = plt.Axes.Right;
        var d = plt.Add.Scatter(epoch, testAcc); d.LegendText = "test accuracy"; d.Axes.YAxis = plt.Axes.Right;
        plt.Title(title);
        plt.XLabel("epoch");
        plt.YLabel("loss");
        plt.Axes.Right.Label.Text = "accuracy";
        plt.ShowLegend();
        plt.SavePng(path, 900, 540);
    }

    /// <summary>
    /// Several runs on one figure, two panels: test accuracy (left) and loss (right: test solid, train dashed) per
    /// epoch, one colour per run, the legend naming the runs.
    /// </summary>
    public static void Compare(IReadOnlyList<(string Label, IReadOnlyList<string> JsonLines)> runs, string path, string title)
    {
        var mp = new ScottPlot.Multiplot();
        ScottPlot.IMultiplotExtensions.AddPlots(mp, 2);
        mp.Layout = new ScottPlot.MultiplotLayouts.Columns();
        ScottPlot.Plot acc = ScottPlot.IMultiplotExtensions.GetPlot(mp, 0), loss = ScottPlot.IMultiplotExtensions.GetPlot(mp, 1);
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < runs.Count; i++)
        {
            var rows = runs[i].JsonLines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToArray();
            double[] Col(string name) => rows.Select(r => Number(r.GetProperty(name))).ToArray();
            double[] epoch = Col("epoch");
            var color = palette.GetColor(i);
            var a = acc.Add.Scatter(epoch, Col("test_acc").Select(x => x * 100).ToArray(), color); a.LegendText = runs[i].Label;
            var t = loss.Add.Scatter(epoch, Col("test_loss"), color); t.LegendText = $"{runs[i].Label} test";
            var tr = loss.Add.Scatter(epoch, Col("train_loss"), color); tr.LegendText = $"{runs[i].Label} train"; tr.LinePattern = ScottPlot.LinePattern.Dashed;
            foreach (var sc in new[] { a, t, tr }) { sc.LineWidth = 2; sc.MarkerSize = 7; }
        }
        acc.Title($"test accuracy: {title}", size: 12);
        acc.XLabel("epoch"); acc.YLabel("test accuracy (%)");
        acc.ShowLegend(ScottPlot.Alignment.LowerRight);
        loss.Title("loss (test solid, train dashed)", size: 12);
        loss.XLabel("epoch"); loss.YLabel("cross-entropy");
        loss.ShowLegend(ScottPlot.Alignment.UpperRight);
        foreach (var p in new[] { acc, loss })
            p.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        ScottPlot.IMultiplotExtensions.SavePng(mp, path, 1400, 560);
    }
}
