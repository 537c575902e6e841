using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>The CPU backend of the autograd: a thin adapter over <see cref="CpuBackend"/> (multithreaded SIMD).</summary>
public sealed class CpuTensorBackend : ITensorBackend
{
    /// <summary>The adapter over <see cref="CpuBackend.Default"/> (every core).</summary>
    public static readonly CpuTensorBackend Instance = new(CpuBackend.Default);

    /// <summary>An adapter over <paramref name="cpu"/> (e.g. <c>new CpuBackend(2)</c> for two threads).</summary>
    public CpuTensorBackend(CpuBackend cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        Cpu = cpu;
    }

    /// <summary>The CPU backend the ops run on (its settings: threads).</summary>
    public CpuBackend Cpu { get; }

    /// <inheritdoc/>
    public IDevice? Device => null;
    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public DenseTensor Full(int rows, int cols, float value)
    {
        var t = DenseTensor.Zeros(rows, cols);
        if (value != 0) t.HostData.AsSpan().Fill(value);
        return t;
    }

    /// <inheritdoc/>
    public DenseTensor Upload(DenseTensor host) => host.IsOnDevice ? host.ToHost() : host.ToHost();
    /// <inheritdoc/>
    public DenseTensor Copy(DenseTensor x) => x.ToHost();

    /// <inheritdoc/>
    public void AddInPlace(DenseTensor y, DenseTensor x)
    {
        Same(y, x, "AddInPlace");
        var yd = y.HostData; var xd = x.HostData;
        AddSpan(yd, xd);
    }

    /// <inheritdoc/>
    public DenseTensor Scale(DenseTensor x, float alpha) => DenseTensor.FromArray(x.Rows, x.Cols, Cpu.Scale(alpha, x.HostData));
    /// <inheritdoc/>
    public DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transA, bool transB) => Cpu.DenseGemm(a, b, transA, transB);
    /// <inheritdoc/>
    public DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b) => Cpu.SpmmCsr(a, b);

    /// <inheritdoc/>
    public DenseTensor SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
        => DenseTensor.FromArray(1, pattern.Nnz, Cpu.SddmmCsr(pattern, x, y).Values);

    /// <inheritdoc/>
    public void GatherValues(CsrMatrix source, SparsePermutation perm, CsrMatrix destination)
        => Cpu.GatherValues(source.Values, perm.Host, destination.Values);

    /// <inheritdoc/>
    public void AddBiasPerRow(DenseTensor x, DenseTensor bias) => Cpu.AddBiasPerRow(x, bias);

    /// <inheritdoc/>
    public DenseTensor RowSum(DenseTensor x, float scale) => Cpu.RowSum(x, scale);

    /// <inheritdoc/>
    public DenseTensor Sum(DenseTensor x, float scale)
    {
        double s = 0;
        foreach (float v in x.HostData) s += v;
        return DenseTensor.FromArray(1, 1, [(float)(scale * s)]);
    }

    /// <inheritdoc/>
    public DenseTensor Broadcast(DenseTensor scalar, int rows, int cols, float scale) => Full(rows, cols, scale * scalar.HostData[0]);
    /// <inheritdoc/>
    public DenseTensor Relu(DenseTensor x) => DenseTensor.FromArray(x.Rows, x.Cols, Cpu.Relu(x.HostData));
    /// <inheritdoc/>
    public DenseTensor ReluBackward(DenseTensor x, DenseTensor dy) => DenseTensor.FromArray(x.Rows, x.Cols, Cpu.ReluBackward(x.HostData, dy.HostData));

    /// <inheritdoc/>
    public (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, Labels? labels, DenseTensor? targets)
        => Cpu.SoftmaxCrossEntropy(logits, labels?.ToArray(), targets);

    /// <inheritdoc/>
    public DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, Labels? labels, DenseTensor? targets, DenseTensor dloss)
        => Cpu.SoftmaxCrossEntropyBackward(probs, labels?.ToArray(), targets, dloss);

    /// <inheritdoc/>
    public void SgdMomentum(DenseTensor w, DenseTensor g, DenseTensor velocity, float lr, float momentum, float weightDecay, bool nesterov)
        => Cpu.SgdMomentum(w.HostData, g.HostData, velocity.HostData, lr, momentum, weightDecay, nesterov);

    /// <inheritdoc/>
    public void Adam(DenseTensor w, DenseTensor g, DenseTensor m, DenseTensor v, float lr, float beta1, float beta2, float eps, float weightDecay, long step)
        => Cpu.Adam(w.HostData, g.HostData, m.HostData, v.HostData, lr, beta1, beta2, eps, weightDecay, step);

    /// <inheritdoc/>
    public void Synchronize() { }

    private static void AddSpan(Span<float> y, ReadOnlySpan<float> x)
    {
        int i = 0, vc = System.Numerics.Vector<float>.Count;
        for (; i <= y.Length - vc; i += vc)
            (new System.Numerics.Vector<float>(y[i..]) + new System.Numerics.Vector<float>(x[i..])).CopyTo(y[i..]);
        for (; i < y.Length; i++) y[i] += x[i];
    }

    private static void Same(DenseTensor a, DenseTensor b, string op)
    {
        if (a.Length != b.Length) throw new ArgumentException($"{op}: operands have {a.Length} and {b.Length} elements.");
    }
}
