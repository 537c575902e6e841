namespace SparseKernels.Training;

/// <summary>What a per-step hook sees: after backward (gradients present), before the optimizer step.</summary>
public sealed record StepContext(Sequential Model, Optimizer Optimizer, int Epoch, int Step, int StepsPerEpoch, long GlobalStep, float Loss)
{
    /// <summary>Set by a hook in <see cref="IStepHook.BeforeOptimizerStep"/> to skip this step's weight update (RigL:
    /// no update on a mask-update step); the gradients are then dropped.</summary>
    public bool SkipOptimizerStep { get; set; }
    /// <summary>Set by <see cref="NonFiniteGuard"/> to skip the whole batch: no optimizer step, no further hooks (before
    /// or after the step), and the batch is left out of the epoch's loss and accuracy.</summary>
    public bool SkipBatch { get; set; }
    /// <summary>Total steps of the run (epochs x steps per epoch).</summary>
    public long TotalSteps { get; init; }
}

/// <summary>Called every training step; a sparsity method (RigL etc.) plugs in here.</summary>
public interface IStepHook
{
    /// <summary>At the start of an epoch, before its first forward pass (zapping re-initialises the output layer here).</summary>
    void BeforeEpoch(Sequential model, Optimizer optimizer, int epoch) { }
    /// <summary>After backward, before the optimizer step: gradients are in the parameters.</summary>
    void BeforeOptimizerStep(StepContext context) { }
    /// <summary>After the optimizer step: weights updated, gradients dropped.</summary>
    void AfterOptimizerStep(StepContext context) { }
}
