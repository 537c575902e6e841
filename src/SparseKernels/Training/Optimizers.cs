using SparseKernels.Autograd;

namespace SparseKernels.Training;

/// <summary>
/// Updates parameters in place from their gradients (dense weights, biases and CSR values alike) on the model's
/// backend, then drops the gradients. Per-element state lives in <see cref="Parameter.State"/> (zeros on first use).
/// </summary>
public abstract class Optimizer
{
    /// <summary>The learning rate of the next step (the trainer sets it from the schedule every step).</summary>
    public float LearningRate { get; set; }
    /// <summary>L2 weight decay added to the gradient (0 = none).</summary>
    public float WeightDecay { get; init; }
    /// <summary>Updates done so far (Adam's bias correction uses it; checkpoints save it).</summary>
    public long StepCount { get; set; }
    /// <summary>The optimizer's name (also checked when a checkpoint is resumed).</summary>
    public abstract string Name { get; }
    /// <summary>The state tensors per parameter (SGD 1, Adam 2).</summary>
    public abstract int StateSlots { get; }

    /// <summary>Updates every parameter that has a gradient in place on <paramref name="backend"/>, allocating its state on first use, then drops the gradients.</summary>
    public void Step(ITensorBackend backend, IEnumerable<Parameter> parameters)
    {
        StepCount++;
        foreach (var p in parameters)
        {
            if (p.Grad is null) continue;
            if (p.State.Length != StateSlots)
                p.State = Enumerable.Range(0, StateSlots).Select(_ => backend.Full(p.Value.Rows, p.Value.Cols, 0f)).ToArray();
            Update(backend, p);
            p.Var.ZeroGrad();
        }
    }

    /// <summary>Updates one parameter whose gradient and state are present.</summary>
    protected abstract void Update(ITensorBackend backend, Parameter p);
}

/// <summary>SGD with momentum, L2 weight decay and optional Nesterov (torch.optim.SGD with dampening 0).</summary>
public sealed class SgdOptimizer : Optimizer
{
    /// <summary>The momentum factor (default 0.9).</summary>
    public float Momentum { get; init; } = 0.9f;
    /// <summary>Whether to use Nesterov momentum.</summary>
    public bool Nesterov { get; init; }
    /// <inheritdoc/>
    public override string Name => Nesterov ? "sgd-nesterov" : "sgd";
    /// <inheritdoc/>
    public override int StateSlots => 1;
    /// <inheritdoc/>
    protected override void Update(ITensorBackend b, Parameter p)
        => b.SgdMomentum(p.Value, p.Grad!, p.State[0], LearningRate, Momentum, WeightDecay, Nesterov);
}

/// <summary>Adam (torch.optim.Adam: L2 weight decay added to the gradient).</summary>
public sealed class AdamOptimizer : Optimizer
{
    /// <summary>The decay of the first moment (default 0.9).</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>The decay of the second moment (default 0.999).</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Added to the root of the second moment (default 1e-8).</summary>
    public float Epsilon { get; init; } = 1e-8f;
    /// <inheritdoc/>
    public override string Name => "adam";
    /// <inheritdoc/>
    public override int StateSlots => 2;
    /// <inheritdoc/>
    protected override void Update(ITensorBackend b, Parameter p)
        => b.Adam(p.Value, p.Grad!, p.State[0], p.State[1], LearningRate, Beta1, Beta2, Epsilon, WeightDecay, StepCount);
}
