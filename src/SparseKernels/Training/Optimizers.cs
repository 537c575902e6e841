using SparseKernels.Autograd;

namespace SparseKernels.Training;

/// <summary>
/// Updates parameters in place from their gradients (dense weights, biases and CSR values alike) on the model's
/// backend, then drops the gradients. Per-element state lives in <see cref="Parameter.State"/> (zeros on first use).
/// </summary>
public abstract class Optimizer
{
    public float LearningRate { get; set; }
    public float WeightDecay { get; init; }
    /// <summary>Updates done so far (Adam's bias correction uses it; checkpoints save it).</summary>
    public long StepCount { get; set; }
    public abstract string Name { get; }
    public abstract int StateSlots { get; }

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

    protected abstract void Update(ITensorBackend backend, Parameter p);
}

/// <summary>SGD with momentum, L2 weight decay and optional Nesterov (torch.optim.SGD with dampening 0).</summary>
public sealed class SgdOptimizer : Optimizer
{
    public float Momentum { get; init; } = 0.9f;
    public bool Nesterov { get; init; }
    public override string Name => Nesterov ? "sgd-nesterov" : "sgd";
    public override int StateSlots => 1;
    protected override void Update(ITensorBackend b, Parameter p)
        => b.SgdMomentum(p.Value, p.Grad!, p.State[0], LearningRate, Momentum, WeightDecay, Nesterov);
}

/// <summary>Adam (torch.optim.Adam: L2 weight decay added to the gradient).</summary>
public sealed class AdamOptimizer : Optimizer
{
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Epsilon { get; init; } = 1e-8f;
    public override string Name => "adam";
    public override int StateSlots => 2;
    protected override void Update(ITensorBackend b, Parameter p)
        => b.Adam(p.Value, p.Grad!, p.State[0], p.State[1], LearningRate, Beta1, Beta2, Epsilon, WeightDecay, StepCount);
}

/// <summary>The learning rate at a step.</summary>
public interface ILrSchedule
{
    float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs);
}

public sealed class ConstantSchedule : ILrSchedule
{
    public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs) => baseLr;
}

/// <summary>lr * gamma^(epoch / every).</summary>
public sealed class StepSchedule(int every, float gamma) : ILrSchedule
{
    public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs) => baseLr * MathF.Pow(gamma, epoch / Math.Max(1, every));
}

/// <summary>Cosine annealing per step from lr to 0 over all epochs.</summary>
public sealed class CosineSchedule : ILrSchedule
{
    public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs)
    {
        double t = (epoch * (double)stepsPerEpoch + step) / Math.Max(1.0, (double)epochs * stepsPerEpoch);
        return (float)(baseLr * 0.5 * (1 + Math.Cos(Math.PI * t)));
    }
}
