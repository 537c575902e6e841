using System.Globalization;
using SparseKernels.Runtime;
using SparseKernels.Training;

namespace SparseKernels.Runs;

/// <summary>
/// The host memory a training run will need, estimated from its options before anything is allocated, so that sizes a
/// user typed (<c>--layers 784-1000000000-10</c>, <c>--batch-size 100000000</c>) are refused up front with the size and
/// the limit (<see cref="HostMemoryLimitException"/>) rather than failing deep inside an allocation.
/// </summary>
internal static class RunMemory
{
    /// <summary>An estimate of the run's host bytes: on the CPU every weight (dense: rows x cols floats; CSR: 8 bytes per
    /// nonzero plus the row offsets) five times (weight, gradient, the step's temporaries) plus the optimizer's state (SGD
    /// with momentum 1 more, Adam 2 more), the biases alike, and one batch's activations and their gradients (with a
    /// convolution's im2col columns); on a device only the largest layer passes through the host.</summary>
    public static (long Bytes, string Detail) Estimate(ModelSpec spec, IReadOnlyList<double> sparsity, RunOptions options, bool onDevice)
    {
        // Measured: a dense 784-100000-10 SGD epoch on the CPU peaked at 2.24 GB RSS, about six copies of its weights
        // (weight, gradient, momentum and the step's temporaries) over the data: count 5 + the optimizer's state.
        long copies = 5 + options.Optimizer.ToLowerInvariant() switch { "adam" => 2, _ => options.Momentum != 0 ? 1 : 0 };
        long weights = 0, largest = 0;
        for (int i = 0; i < spec.WeightMatrices.Count; i++)
        {
            var (rows, cols) = spec.WeightMatrices[i];
            double dense = (double)rows * cols;
            double s = i < sparsity.Count ? sparsity[i] : 0;
            double stored = s > 0 ? Math.Ceiling((1 - s) * dense) * 8 + (rows + 1.0) * 4 : dense * 4;
            double layer = Clamp(stored + rows * 4.0);
            largest = Math.Max(largest, (long)layer);
            weights = (long)Clamp(weights + layer * copies);
        }
        double perSample = spec.Input.Features;
        foreach (var l in spec.Layers)
        {
            perSample += 2.0 * l.Output.Features;
            if (l.Conv is { } g) perSample += 2.0 * g.ColumnRows * g.OutHeight * g.OutWidth;
        }
        long activations = (long)Clamp(perSample * 4 * Math.Max(options.BatchSize, 1));
        if (onDevice)
            return (largest, "its largest layer, passed through the host");
        return ((long)Clamp((double)weights + activations), string.Create(CultureInfo.InvariantCulture,
            $"weights, gradients and {options.Optimizer} state {weights:N0} bytes, "
            + $"activations of a {options.BatchSize}-sample batch {activations:N0} bytes"));
    }

    private static double Clamp(double bytes) => Math.Min(bytes, long.MaxValue / 2);

    /// <summary>Throws <see cref="HostMemoryLimitException"/> when <see cref="Estimate"/> exceeds
    /// <see cref="HostMemory.LimitBytes"/>.</summary>
    public static void Check(ModelSpec spec, IReadOnlyList<double> sparsity, RunOptions options, bool onDevice)
    {
        var (bytes, detail) = Estimate(spec, sparsity, options, onDevice);
        string model = spec.MlpSizes is { } m ? string.Join('-', m) : spec.Text;
        HostMemory.Check(bytes, $"The training run {model} (batch {options.BatchSize})", detail);
    }
}
