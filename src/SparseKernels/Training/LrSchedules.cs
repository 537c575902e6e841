namespace SparseKernels.Training;

/// <summary>The learning rate at a step.</summary>
public interface ILrSchedule
{
    /// <summary>The learning rate at step <paramref name="step"/> of epoch <paramref name="epoch"/> (both 0-based) of a run of <paramref name="epochs"/> epochs of <paramref name="stepsPerEpoch"/> steps.</summary>
    float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs);
}

/// <summary>A constant learning rate.</summary>
public sealed class ConstantSchedule : ILrSchedule
{
    /// <inheritdoc/>
    public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs) => baseLr;
}

/// <summary>lr * gamma^(epoch / every).</summary>
public sealed class StepSchedule(int every, float gamma) : ILrSchedule
{
    /// <inheritdoc/>
    public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs) => baseLr * MathF.Pow(gamma, epoch / Math.Max(1, every));
}

/// <summary>Cosine annealing per step from lr to 0 over all epochs.</summary>
public sealed class CosineSchedule : ILrSchedule
{
    /// <inheritdoc/>
    public float At(float baseLr, int epoch, int step, int stepsPerEpoch, int epochs)
    {
        double t = (epoch * (double)stepsPerEpoch + step) / Math.Max(1.0, (double)epochs * stepsPerEpoch);
        return (float)(baseLr * 0.5 * (1 + Math.Cos(Math.PI * t)));
    }
}
