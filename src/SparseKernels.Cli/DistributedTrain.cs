using System.Globalization;
using SparseKernels.Autograd;
using SparseKernels.Distributed;
using SparseKernels.Native;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using SparseKernels.Training;

namespace SparseKernels.Cli;

/// <summary>
/// <c>train --distributed</c> under <c>mpirun -np N</c>: data-parallel training (Distributed.DataParallel), one
/// replica per rank, each on its slice of every global batch of --batch-size samples. Rank 0 prints the progress and
/// writes the outputs. Any exception on any rank prints a message naming the rank and ends every rank with
/// MPI_Abort (exit code 1), so a failure never leaves the others waiting in a collective; a rank that dies is noticed
/// by mpirun, which ends the job.
/// </summary>
internal static class DistributedTrain
{
    public static int Run(RunOptions options, string deviceName, string dataFolder, CpuTensorBackend cpu)
    {
        MpiCollectives group;
        try { group = MpiCollectives.Initialize(); }
        catch (MpiException e)
        {
            Console.Error.WriteLine($"train --distributed: {e.Message}");
            return 2;
        }
        int rank = group.Rank, size = group.Size;
        void Say(string line) { if (rank == 0) Console.WriteLine(line); }
        try
        {
            Console.WriteLine($"rank {rank} of {size}: pid {Environment.ProcessId} on {Environment.MachineName}");
            var (backend, owner, deviceSum) = OpenBackend(deviceName, cpu, group);
            try
            {
                var (train, test) = FashionMnist.Load(dataFolder);
                using var run = new TrainingRun(options, backend, train, test);
                using var dp = DataParallel.Attach(run, group, deviceSum);
                string method = options.Method is { } mo
                    ? $"{mo.Method} {mo.Sparsity.ToString("0.###", CultureInfo.InvariantCulture)} {mo.Distribution}"
                      + $" (nnz {string.Join('/', mo.Counts(options.Layers))})"
                    : "sparsity " + string.Join(",", options.SparsityPerLayer().Select(
                        x => x.ToString("0.##", CultureInfo.InvariantCulture)));
                Say($"train --distributed: {size} ranks over {group.Description}; {backend.Name} per rank"
                    + (backend.Device is null ? $" ({cpu.Cpu.MaxDegreeOfParallelism} CPU threads)" : ""));
                Say($"  {string.Join('-', options.Layers)}, {method}, global batch {options.BatchSize} "
                    + $"({options.BatchSize / size}-{(options.BatchSize + size - 1) / size} per rank), seed {options.Seed}, "
                    + $"gradients summed on the {dp.GradientPath}" + (run.EpochsDone > 0 ? $", resumed after epoch {run.EpochsDone}" : ""));
                while (run.EpochsDone < run.TotalEpochs)
                {
                    run.Run(stopAfterEpochs: run.EpochsDone + 1);
                    var m = run.Metrics[^1];
                    Say($"  epoch {m.Epoch}: train loss {m.TrainLoss:F4}, train acc {m.TrainAccuracy:P2}, test acc {m.TestAccuracy:P2}, "
                        + $"nnz {string.Join('/', m.NnzPerLayer)}, "
                        + $"{m.EpochSeconds:F2} s, {m.StepMilliseconds:F2} ms/step");
                }
                dp.CheckTopology("at the end of training");
                dp.CheckWeights("at the end of training");
                int updates = (run.Method as Sparsity.SparsityMethod)?.Updates ?? 0;
                Say($"  mask updates {updates}; identical on all {size} ranks: topology {dp.TopologyChecks} checks "
                    + "(every mask update, every epoch start, the end), "
                    + $"weights {dp.WeightChecks} checks");
                Say($"  communicated per rank: {dp.GradientValuesPerStep:N0} gradient values "
                    + $"({dp.GradientValuesPerStep * 4:N0} bytes) per step; "
                    + $"{dp.GrowthScoreBytes:N0} bytes of growth scores; {dp.BytesReduced:N0} bytes in all; gradient sum "
                    + $"{1000 * dp.GradientSumSeconds / Math.Max(1, dp.GradientSums):F2} ms/step");
                if (rank == 0 && options.OutputFolder is { } dir && run.MetricsJsonLines.Count > 0)
                {
                    string title = $"{string.Join('-', options.Layers)} on {size} ranks";
                    Plotting.LossAndAccuracy(run.MetricsJsonLines, Path.Combine(dir, "plot.png"), title);
                    Say($"  wrote {Path.Combine(dir, TrainingRun.JsonFile)}, {TrainingRun.CsvFile}, plot.png, "
                        + TrainingRun.CheckpointFile);
                }
            }
            finally
            {
                (backend as IDisposable)?.Dispose();
                owner?.Dispose();
            }
            group.Dispose();
            return 0;
        }
        catch (Exception e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"train --distributed: rank {rank} of {size} failed: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine($"train --distributed: rank {rank} aborts the job (MPI_Abort) so that no rank waits for it.");
            Console.Error.Flush();
            group.Abort(1);
            return 1;
        }
    }

    /// <summary>The rank's backend: the CPU, the emulated device, or the GPU of its local rank (with NCCL when it loads,
    /// else gradients through the host).</summary>
    private static (ITensorBackend Backend, IDisposable? Owner, IDeviceGradientSum? DeviceSum) OpenBackend(
        string device, CpuTensorBackend cpu, MpiCollectives group)
    {
        string name = device.ToLowerInvariant();
        if (name == "cpu" || (name == "auto" && Devices.ProbeCuda() is not null)) return (cpu, null, null);
        if (name == "emulated")
        {
            var d = Devices.Open(DevicePreference.Emulated);
            return (new DeviceTensorBackend(d), d, null);
        }
        if (name is not ("cuda" or "auto")) throw new ArgumentException($"--device '{device}': use auto, cpu, cuda or emulated.");
        var gpu = NcclGradientSum.OpenLocalGpu();
        IDeviceGradientSum? sum = null;
        try { sum = NcclGradientSum.Create(group, gpu); }
        catch (NcclException e)
        {
            if (group.Rank == 0)
                Console.WriteLine($"train --distributed: NCCL is not usable ({e.Message}); gradients go through host memory and MPI.");
        }
        return (new DeviceTensorBackend(gpu), gpu, sum);
    }
}
