using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>Plain double-precision references of the training ops (bias gradient, softmax cross-entropy, optimizers).</summary>
internal static partial class CpuReference
{
    /// <summary>scale * the sum of each row, accumulated in double.</summary>
    public static double[] RowSum(DenseTensor x, float scale)
    {
        Shapes.HostDense(x, "RowSum", "x");
        var o = new double[x.Rows];
        for (int r = 0; r < x.Rows; r++)
        {
            double s = 0;
            for (int c = 0; c < x.Cols; c++) s += x[r, c];
            o[r] = scale * s;
        }
        return o;
    }

    /// <summary>Column softmax (classes x batch) and per-sample loss in double: -log p[label], or KL(targets || p).</summary>
    public static (double[] Probs, double[] Loss) SoftmaxCrossEntropy(DenseTensor logits, int[]? labels, DenseTensor? targets)
    {
        Shapes.SoftmaxTargets(logits, labels, targets);
        int classes = logits.Rows, batch = logits.Cols;
        var p = new double[classes * batch];
        var loss = new double[batch];
        for (int s = 0; s < batch; s++)
        {
            double mx = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) mx = Math.Max(mx, logits[c, s]);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(logits[c, s] - mx);
            double lse = mx + Math.Log(sum);
            for (int c = 0; c < classes; c++)
            {
                double logp = logits[c, s] - lse;
                p[c * batch + s] = Math.Exp(logp);
                if (targets is not null) { double t = targets[c, s]; if (t > 0) loss[s] += t * (Math.Log(t) - logp); }
                else if (labels![s] == c) loss[s] = -logp;
            }
        }
        return (p, loss);
    }

    /// <summary>One SGD step (momentum, L2 weight decay, optional Nesterov) in double; returns (w, velocity) after it.</summary>
    public static (double[] W, double[] Velocity) SgdMomentum(float[] w, float[] g, float[] velocity, double lr, double momentum, double weightDecay, bool nesterov)
    {
        Shapes.SameLength(w, g, "SgdMomentum", "w", "g");
        Shapes.SameLength(w, velocity, "SgdMomentum", "w", "velocity");
        var wo = new double[w.Length];
        var vo = new double[w.Length];
        for (int i = 0; i < w.Length; i++)
        {
            double gi = g[i] + weightDecay * w[i];
            double vi = momentum * velocity[i] + gi;
            vo[i] = vi;
            wo[i] = w[i] - lr * (nesterov ? gi + momentum * vi : vi);
        }
        return (wo, vo);
    }

    /// <summary>One Adam step (L2 weight decay added to the gradient) in double; returns (w, m, v) after it.</summary>
    public static (double[] W, double[] M, double[] V) Adam(float[] w, float[] g, float[] m, float[] v, double lr, double beta1, double beta2, double eps, double weightDecay, long step)
    {
        Shapes.SameLength(w, g, "Adam", "w", "g");
        var wo = new double[w.Length];
        var mo = new double[w.Length];
        var vo = new double[w.Length];
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        for (int i = 0; i < w.Length; i++)
        {
            double gi = g[i] + weightDecay * w[i];
            mo[i] = beta1 * m[i] + (1 - beta1) * gi;
            vo[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
            wo[i] = w[i] - lr * (mo[i] / bc1) / (Math.Sqrt(vo[i] / bc2) + eps);
        }
        return (wo, mo, vo);
    }
}
