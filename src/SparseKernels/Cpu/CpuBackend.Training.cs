using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>The training ops of the CPU backend: bias per row and its gradient, softmax cross-entropy, optimizer updates.</summary>
public sealed partial class CpuBackend
{
    /// <summary>x[r, c] += bias[r] in place (bias: one value per row).</summary>
    /// <exception cref="ArgumentException">bias does not have one element per row of x.</exception>
    public void AddBiasPerRow(DenseTensor x, DenseTensor bias)
    {
        Shapes.BiasPerRow("AddBiasPerRow", x, bias);
        var xd = x.HostData; var b = bias.HostData; int cols = x.Cols;
        for (int r = 0; r < x.Rows; r++)
        {
            var row = xd.AsSpan(r * cols, cols); float br = b[r];
            int c = 0, vc = System.Numerics.Vector<float>.Count;
            var vb = new System.Numerics.Vector<float>(br);
            for (; c + vc <= row.Length; c += vc) (new System.Numerics.Vector<float>(row[c..]) + vb).CopyTo(row[c..]);
            for (; c < row.Length; c++) row[c] += br;
        }
    }

    /// <summary>A rows x 1 tensor: scale * the sum of each row (the bias gradient), accumulated in fp32 in column order.</summary>
    public DenseTensor RowSum(DenseTensor x, float scale)
    {
        var o = DenseTensor.Zeros(x.Rows, 1);
        RowSumInto(x, scale, o.HostData);
        return o;
    }

    /// <summary>o[r] = scale * the sum of row r of x (o: x.Rows values).</summary>
    internal static void RowSumInto(DenseTensor x, float scale, float[] o)
    {
        var xd = x.HostData; int cols = x.Cols;
        if (o.Length != x.Rows) throw new ArgumentException($"RowSum: the output holds {o.Length} values for {x.Rows} rows.", nameof(o));
        for (int r = 0; r < x.Rows; r++)
        {
            float s = 0;
            foreach (float v in xd.AsSpan(r * cols, cols)) s += v;
            o[r] = scale * s;
        }
    }

    /// <summary>dst[q] = src[perm[q]] (a transposed CSR's values from the weight's).</summary>
    /// <exception cref="ArgumentException">The lengths disagree.</exception>
    public void GatherValues(float[] src, int[] perm, float[] dst)
    {
        if (perm.Length != dst.Length)
            throw new ArgumentException($"GatherValues: perm has {perm.Length} entries; dst has {dst.Length}.", nameof(perm));
        Chunks(perm.Length, (start, end) =>
        {
            for (int q = start; q < end; q++) dst[q] = src[perm[q]];
        });
    }

    /// <summary>
    /// Column softmax of the logits (classes x batch) and the per-sample loss (1 x batch): -log p[label] with
    /// <paramref name="labels"/>, or KL(targets || p) with <paramref name="targets"/> (exactly one of them).
    /// </summary>
    /// <exception cref="ArgumentException">Neither or both of labels and targets, or their shapes disagree with the logits.</exception>
    public (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, int[]? labels, DenseTensor? targets)
    {
        var probs = DenseTensor.Zeros(logits.Rows, logits.Cols); var loss = DenseTensor.Zeros(1, logits.Cols);
        SoftmaxCrossEntropyInto(logits, labels, targets, probs, loss);
        return (probs, loss);
    }

    /// <summary><see cref="SoftmaxCrossEntropy"/> into <paramref name="probs"/> (classes x batch) and <paramref name="loss"/>
    /// (1 x batch).</summary>
    internal static void SoftmaxCrossEntropyInto(DenseTensor logits, int[]? labels, DenseTensor? targets, DenseTensor probs,
        DenseTensor loss)
    {
        int classes = logits.Rows, batch = logits.Cols;
        Shapes.SoftmaxTargets(logits, labels, targets);
        if (probs.Length != logits.Length || loss.Length != batch)
            throw new ArgumentException(
                $"SoftmaxCrossEntropy: outputs of {probs.Length} and {loss.Length} values for {classes}x{batch} logits.", nameof(probs));
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
                else if (labels![s] == c) acc = -logp;
            }
            l[s] = acc;
        }
    }

    /// <summary>dlogits[c, s] = dloss[s] * (probs[c, s] - target[c, s]) (target one-hot from the labels, or the targets).</summary>
    public DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, int[]? labels, DenseTensor? targets, DenseTensor dloss)
    {
        var d = DenseTensor.Zeros(probs.Rows, probs.Cols);
        SoftmaxCrossEntropyBackwardInto(probs, labels, targets, dloss, d);
        return d;
    }

    /// <summary><see cref="SoftmaxCrossEntropyBackward"/> into <paramref name="d"/> (classes x batch).</summary>
    internal static void SoftmaxCrossEntropyBackwardInto(DenseTensor probs, int[]? labels, DenseTensor? targets, DenseTensor dloss,
        DenseTensor d)
    {
        int classes = probs.Rows, batch = probs.Cols;
        Shapes.SoftmaxTargets(probs, labels, targets);
        if (d.Length != probs.Length || dloss.Length != batch)
            throw new ArgumentException(
                $"SoftmaxCrossEntropyBackward: dloss has {dloss.Length} values, the output {d.Length}, for {classes}x{batch} probs.",
                nameof(dloss));
        float[] p = probs.HostData, dd = d.HostData, dl = dloss.HostData;
        float[]? t = targets?.HostData;
        for (int c = 0; c < classes; c++)
            for (int s = 0; s < batch; s++)
            {
                int i = c * batch + s;
                float ti = t is not null ? t[i] : (labels![s] == c ? 1f : 0f);
                dd[i] = dl[s] * (p[i] - ti);
            }
    }

    /// <summary>SGD with momentum, L2 weight decay and optional Nesterov, in place (torch.optim.SGD, dampening 0).</summary>
    public void SgdMomentum(float[] w, float[] g, float[] velocity, float lr, float momentum, float weightDecay, bool nesterov)
    {
        Shapes.SameLength(w, g, "SgdMomentum", "w", "g");
        Shapes.SameLength(w, velocity, "SgdMomentum", "w", "velocity");
        Chunks(w.Length, (start, end) =>
        {
            // The same float operations, in the same order, as sgd_momentum_v1 (vectorised lane by lane, no FMA).
            int i = start, vc = System.Numerics.Vector<float>.Count;
            var vwd = new System.Numerics.Vector<float>(weightDecay); var vm = new System.Numerics.Vector<float>(momentum);
            var vlr = new System.Numerics.Vector<float>(lr);
            for (; i + vc <= end; i += vc)
            {
                var wi = new System.Numerics.Vector<float>(w, i);
                var gi = new System.Numerics.Vector<float>(g, i) + vwd * wi;
                var vi = vm * new System.Numerics.Vector<float>(velocity, i) + gi;
                vi.CopyTo(velocity, i);
                (wi - vlr * (nesterov ? gi + vm * vi : vi)).CopyTo(w, i);
            }
            for (; i < end; i++)
            {
                float gi = g[i] + weightDecay * w[i];
                float vi = momentum * velocity[i] + gi;
                velocity[i] = vi;
                w[i] -= lr * (nesterov ? gi + momentum * vi : vi);
            }
        }, 65536);
    }

    /// <summary>Adam with L2 weight decay added to the gradient (torch.optim.Adam), in place; <paramref name="step"/> counts from 1.</summary>
    public void Adam(float[] w, float[] g, float[] m, float[] v, float lr, float beta1, float beta2, float eps, float weightDecay, long step)
    {
        Shapes.SameLength(w, g, "Adam", "w", "g");
        Shapes.SameLength(w, m, "Adam", "w", "m");
        Shapes.SameLength(w, v, "Adam", "w", "v");
        float bc1 = (float)(1 - Math.Pow(beta1, step)), bc2 = (float)(1 - Math.Pow(beta2, step));
        for (int i = 0; i < w.Length; i++)
        {
            float gi = g[i] + weightDecay * w[i];
            float mi = beta1 * m[i] + (1f - beta1) * gi;
            float vi = beta2 * v[i] + (1f - beta2) * gi * gi;
            m[i] = mi; v[i] = vi;
            w[i] -= lr * (mi / bc1) / (MathF.Sqrt(vi / bc2) + eps);
        }
    }
}
