using System.Numerics;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>What the training loop does when a step's loss or a gradient holds NaN or infinity.</summary>
public enum NonFiniteAction
{
    /// <summary>Stop the run with a <see cref="NonFiniteException"/> (the default); the last checkpoint stays as it was.</summary>
    Stop,
    /// <summary>Skip the batch: no optimizer step, no hooks, not counted in the epoch's loss and accuracy; counted as skipped.</summary>
    SkipBatch,
}

/// <summary>A step's loss or gradient was NaN or infinite and the run was set to stop (<see cref="NonFiniteAction.Stop"/>).</summary>
public sealed class NonFiniteException(string message, int epoch, int batch, long step, string what, string? gradient) : Exception(message)
{
    /// <summary>The 0-based epoch of the step.</summary>
    public int Epoch { get; } = epoch;
    /// <summary>The 0-based batch within the epoch.</summary>
    public int Batch { get; } = batch;
    /// <summary>The 0-based step counted over the whole run.</summary>
    public long Step { get; } = step;
    /// <summary>What went non-finite first: "loss" or a parameter's gradient, e.g. <c>layer1.weight(csr)</c>.</summary>
    public string What { get; } = what;
    /// <summary>The first parameter (in layer order) whose gradient is not finite, e.g. <c>layer0.weight gradient</c>;
    /// null when all are.</summary>
    public string? Gradient { get; } = gradient;
}

/// <summary>
/// A step hook (the first in <see cref="Trainer.Hooks"/>; the trainer counts the skipped batches per epoch) that checks
/// the loss and every parameter's gradient for
/// NaN and infinity before the optimizer step. Stop: throws <see cref="NonFiniteException"/> naming the epoch, the
/// batch, the step and the first layer (in layer order) whose gradient is not finite. SkipBatch: sets
/// <see cref="StepContext.SkipBatch"/> and counts the batch. Cost: one pass over the gradients per step (vectorised on
/// the host; a device gradient is copied to the host first).
/// </summary>
public sealed class NonFiniteGuard(NonFiniteAction action) : IStepHook
{
    /// <summary>What the guard does on a non-finite value.</summary>
    public NonFiniteAction Action { get; } = action;
    /// <summary>Batches skipped by this guard over its lifetime.</summary>
    public long SkippedTotal { get; private set; }
    /// <summary>Non-finite steps seen (skipped or stopped at).</summary>
    public long Caught { get; private set; }

    /// <summary>Parses <c>stop</c> or <c>skip-batch</c>; ArgumentException otherwise.</summary>
    public static NonFiniteAction Parse(string name) => name.ToLowerInvariant() switch
    {
        "stop" => NonFiniteAction.Stop,
        "skip-batch" or "skip" => NonFiniteAction.SkipBatch,
        _ => throw new ArgumentException($"Unknown non-finite action '{name}'; use stop or skip-batch."),
    };

    /// <inheritdoc/>
    public void BeforeOptimizerStep(StepContext context)
    {
        string? gradient = null;
        foreach (var p in context.Model.Parameters)
            if (p.Grad is { } g && !AllFinite(g)) { gradient = p.Name + " gradient"; break; }
        bool lossBad = !float.IsFinite(context.Loss);
        if (!lossBad && gradient is null) return;
        string what = lossBad ? "loss" : gradient!;
        Caught++;
        if (Action == NonFiniteAction.SkipBatch)
        {
            context.SkipBatch = true;
            SkippedTotal++;
            return;
        }
        throw new NonFiniteException(
            $"Non-finite {what} (loss {context.Loss}; first non-finite gradient, in layer order: {gradient ?? "none"}) "
            + $"at epoch {context.Epoch + 1}, batch {context.Step + 1} of {context.StepsPerEpoch} "
            + $"(step {context.GlobalStep + 1} of the run); stopped before the optimizer step, so the last checkpoint is the last good "
            + "state. Lower the learning rate, or pass --on-nonfinite skip-batch to skip such batches.",
            context.Epoch, context.Step, context.GlobalStep, what, gradient);
    }

    /// <summary>Whether every element of <paramref name="t"/> is finite (host or device tensor).</summary>
    public static bool AllFinite(DenseTensor t) => AllFinite(t.ToArray());

    /// <summary>Whether every element is finite: x - x is 0 for finite x, NaN for NaN and infinities.</summary>
    public static bool AllFinite(ReadOnlySpan<float> x)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            var v = MemoryMarshal.Cast<float, Vector<float>>(x);
            var acc = Vector<float>.Zero;
            foreach (var e in v) acc += e - e;
            if (!Vector.EqualsAll(acc, Vector<float>.Zero)) return false;
            i = v.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++) if (!float.IsFinite(x[i])) return false;
        return true;
    }
}
