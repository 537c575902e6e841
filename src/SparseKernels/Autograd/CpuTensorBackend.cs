using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>The CPU backend of the autograd: <see cref="CpuBackend"/> (multithreaded SIMD) where it has the op, plain loops otherwise.</summary>
public sealed class CpuTensorBackend : ITensorBackend
{
    public static readonly CpuTensorBackend Instance = new();
    public IDevice? Device => null;
    public string Name => "cpu";

    public DenseTensor Full(int rows, int cols, float value)
    {
        var t = DenseTensor.Zeros(rows, cols);
        if (value != 0) t.HostData.AsSpan().Fill(value);
        return t;
    }

    public DenseTensor Upload(DenseTensor host) => host.IsOnDevice ? host.ToHost() : host.ToHost();
    public DenseTensor Copy(DenseTensor x) => x.ToHost();

    public void AddInPlace(DenseTensor y, DenseTensor x)
    {
        Same(y, x, "AddInPlace");
        var yd = y.HostData; var xd = x.HostData;
        AddSpan(yd, xd);
    }

    public DenseTensor Scale(DenseTensor x, float alpha) => DenseTensor.FromArray(x.Rows, x.Cols, CpuBackend.Scale(alpha, x.HostData));
    public DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transA, bool transB) => CpuBackend.DenseGemm(a, b, transA, transB);
    public DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b) => CpuBackend.SpmmCsr(a, b);

    public DenseTensor SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
        => DenseTensor.FromArray(1, pattern.Nnz, CpuBackend.SddmmCsr(pattern, x, y).Values);

    public void GatherValues(CsrMatrix source, SparsePermutation perm, CsrMatrix destination)
    {
        var s = source.Values; var d = destination.Values; var p = perm.Host;
        for (int q = 0; q < p.Length; q++) d[q] = s[p[q]];
    }

    public void AddBiasPerRow(DenseTensor x, DenseTensor bias)
    {
        if (bias.Length != x.Rows) throw new ArgumentException($"AddBiasPerRow: bias has {bias.Length} elements; x is {x.Rows}x{x.Cols}.", nameof(bias));
        var xd = x.HostData; var b = bias.HostData; int cols = x.Cols;
        for (int r = 0; r < x.Rows; r++)
        {
            var row = xd.AsSpan(r * cols, cols); float br = b[r];
            for (int c = 0; c < row.Length; c++) row[c] += br;
        }
    }

    public DenseTensor RowSum(DenseTensor x, float scale)
    {
        var o = DenseTensor.Zeros(x.Rows, 1); var xd = x.HostData; int cols = x.Cols;
        for (int r = 0; r < x.Rows; r++)
        {
            float s = 0;
            foreach (float v in xd.AsSpan(r * cols, cols)) s += v;
            o.HostData[r] = scale * s;
        }
        return o;
    }

    public DenseTensor Sum(DenseTensor x, float scale)
    {
        double s = 0;
        foreach (float v in x.HostData) s += v;
        return DenseTensor.FromArray(1, 1, [(float)(scale * s)]);
    }

    public DenseTensor Broadcast(DenseTensor scalar, int rows, int cols, float scale) => Full(rows, cols, scale * scalar.HostData[0]);
    public DenseTensor Relu(DenseTensor x) => DenseTensor.FromArray(x.Rows, x.Cols, CpuBackend.Relu(x.HostData));
    public DenseTensor ReluBackward(DenseTensor x, DenseTensor dy) => DenseTensor.FromArray(x.Rows, x.Cols, CpuBackend.ReluBackward(x.HostData, dy.HostData));

    public (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, Labels? labels, DenseTensor? targets)
    {
        int classes = logits.Rows, batch = logits.Cols;
        int[]? lab = CheckTargets(logits, labels, targets);
        var probs = DenseTensor.Zeros(classes, batch); var loss = DenseTensor.Zeros(1, batch);
        float[] z = logits.HostData, p = probs.HostData, l = loss.HostData;
        float[]? t = targets?.HostData;
        for (int s = 0; s < batch; s++)
        {
            float mx = z[s];
            for (int c = 1; c < classes; c++) mx = MathF.Max(mx, z[c * batch + s]);
            float sum = 0;
            for (int c = 0; c < classes; c++) sum += MathF.Exp(z[c * batch + s] - mx);
            float lse = mx + MathF.Log(sum), acc = 0;
            for (int c = 0; c < classes; c++)
            {
                int i = c * batch + s;
                float logp = z[i] - lse;
                p[i] = MathF.Exp(logp);
                if (t is not null) { if (t[i] > 0) acc += t[i] * (MathF.Log(t[i]) - logp); }
                else if (lab![s] == c) acc = -logp;
            }
            l[s] = acc;
        }
        return (probs, loss);
    }

    public DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, Labels? labels, DenseTensor? targets, DenseTensor dloss)
    {
        int classes = probs.Rows, batch = probs.Cols;
        int[]? lab = CheckTargets(probs, labels, targets);
        var d = DenseTensor.Zeros(classes, batch);
        float[] p = probs.HostData, dd = d.HostData, dl = dloss.HostData;
        float[]? t = targets?.HostData;
        for (int c = 0; c < classes; c++)
            for (int s = 0; s < batch; s++)
            {
                int i = c * batch + s;
                float ti = t is not null ? t[i] : (lab![s] == c ? 1f : 0f);
                dd[i] = dl[s] * (p[i] - ti);
            }
        return d;
    }

    public void SgdMomentum(DenseTensor w, DenseTensor g, DenseTensor velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        float[] wd = w.HostData, gd = g.HostData, vd = velocity.HostData;
        Same(w, g, "SgdMomentum"); Same(w, velocity, "SgdMomentum");
        Parallel.For(0, (wd.Length + 65535) / 65536, new ParallelOptions { MaxDegreeOfParallelism = CpuBackend.MaxDegreeOfParallelism }, blk =>
        {
            int end = Math.Min(wd.Length, (blk + 1) * 65536);
            for (int i = blk * 65536; i < end; i++)   // the same float operations, in the same order, as sgd_momentum_v1
            {
                float gi = gd[i] + weightDecay * wd[i];
                float vi = momentum * vd[i] + gi;
                vd[i] = vi;
                wd[i] -= lr * (nesterov ? gi + momentum * vi : vi);
            }
        });
    }

    public void Adam(DenseTensor w, DenseTensor g, DenseTensor m, DenseTensor v, float lr, float beta1, float beta2, float eps, float weightDecay, long step)
    {
        float[] wd = w.HostData, gd = g.HostData, md = m.HostData, vd = v.HostData;
        Same(w, g, "Adam"); Same(w, m, "Adam"); Same(w, v, "Adam");
        float bc1 = (float)(1 - Math.Pow(beta1, step)), bc2 = (float)(1 - Math.Pow(beta2, step));
        for (int i = 0; i < wd.Length; i++)
        {
            float gi = gd[i] + weightDecay * wd[i];
            float mi = beta1 * md[i] + (1f - beta1) * gi;
            float vi = beta2 * vd[i] + (1f - beta2) * gi * gi;
            md[i] = mi; vd[i] = vi;
            wd[i] -= lr * (mi / bc1) / (MathF.Sqrt(vi / bc2) + eps);
        }
    }

    public void Synchronize() { }

    private static int[]? CheckTargets(DenseTensor logits, Labels? labels, DenseTensor? targets)
    {
        if ((labels is null) == (targets is null)) throw new ArgumentException("SoftmaxCrossEntropy: give exactly one of labels or targets.");
        if (targets is not null)
        {
            if (targets.Rows != logits.Rows || targets.Cols != logits.Cols)
                throw new ArgumentException($"SoftmaxCrossEntropy: targets are {targets.Rows}x{targets.Cols}; logits are {logits.Rows}x{logits.Cols}.", nameof(targets));
            return null;
        }
        var lab = labels!.ToArray();
        if (lab.Length != logits.Cols) throw new ArgumentException($"SoftmaxCrossEntropy: {lab.Length} labels for {logits.Cols} samples.", nameof(labels));
        return lab;
    }

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
