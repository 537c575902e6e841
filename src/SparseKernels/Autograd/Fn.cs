using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>
/// The autograd ops. Activations are feature-major (features x batch). Each op computes its forward on the
/// tape's backend and records a closure that pushes its output gradient to its inputs. Composite ops
/// (<see cref="DistillationLoss"/>) are built from the others and have no backward of their own.
/// </summary>
public static class Fn
{
    /// <summary>y = W . x: W out x in (dense), x in x batch. dW = dy . x^T, dx = W^T . dy.</summary>
    public static Var Linear(Tape t, Var x, Var w)
    {
        var b = t.Backend;
        if (w.Value.Cols != x.Value.Rows)
            throw new ArgumentException($"Linear: the weight is {w.Value.Rows}x{w.Value.Cols} but the input has {x.Value.Rows} features (x is {x.Value.Rows}x{x.Value.Cols}).", nameof(x));
        return t.Record(b.DenseGemm(w.Value, x.Value, false, false), [x, w], y =>
        {
            if (w.RequiresGrad) t.Accumulate(w, b.DenseGemm(y.Grad!, x.Value, false, true));
            if (x.RequiresGrad) t.Accumulate(x, b.DenseGemm(w.Value, y.Grad!, true, false));
        });
    }

    /// <summary>
    /// y = W . x with a CSR weight: forward SpMM, backward-data SpMM with the transposed CSR (values refreshed
    /// from W's by the stored permutation), backward-weight SDDMM at W's pattern (1 x nnz, never dense).
    /// </summary>
    public static Var SparseLinear(Tape t, Var x, SparseWeight w)
    {
        var b = t.Backend;
        if (w.Cols != x.Value.Rows)
            throw new ArgumentException($"SparseLinear: the weight is {w.Rows}x{w.Cols} but the input has {x.Value.Rows} features (x is {x.Value.Rows}x{x.Value.Cols}).", nameof(x));
        var values = w.Values;
        return t.Record(b.SpmmCsr(w.Matrix, x.Value), [x, values], y =>
        {
            if (values.RequiresGrad) t.Accumulate(values, b.SddmmCsr(w.Matrix, y.Grad!, x.Value));
            if (x.RequiresGrad)
            {
                w.RefreshTransposed();
                t.Accumulate(x, b.SpmmCsr(w.Transposed, y.Grad!));
            }
        });
    }

    /// <summary>y[r, c] = x[r, c] + bias[r] (bias: features x 1). dbias = row sums of dy.</summary>
    public static Var BiasAdd(Tape t, Var x, Var bias)
    {
        var b = t.Backend;
        if (bias.Value.Length != x.Value.Rows)
            throw new ArgumentException($"BiasAdd: the bias has {bias.Value.Length} elements; x is {x.Value.Rows}x{x.Value.Cols} and needs one per feature (row).", nameof(bias));
        var y0 = b.Copy(x.Value);
        b.AddBiasPerRow(y0, bias.Value);
        return t.Record(y0, [x, bias], y =>
        {
            if (bias.RequiresGrad) t.Accumulate(bias, Reshape(b.RowSum(y.Grad!, 1f), bias.Value));
            if (x.RequiresGrad) t.Accumulate(x, b.Copy(y.Grad!));
        });
    }

    /// <summary>max(x, 0) elementwise; the backward pass passes the gradient where x &gt; 0.</summary>
    public static Var Relu(Tape t, Var x)
    {
        var b = t.Backend;
        return t.Record(b.Relu(x.Value), [x], y => t.Accumulate(x, b.ReluBackward(x.Value, y.Grad!)));
    }

    /// <summary>alpha * x.</summary>
    public static Var Scale(Tape t, Var x, float alpha)
    {
        var b = t.Backend;
        return t.Record(b.Scale(x.Value, alpha), [x], y => t.Accumulate(x, b.Scale(y.Grad!, alpha)));
    }

    /// <summary>alpha * x + beta * z (same shapes).</summary>
    public static Var AddScaled(Tape t, float alpha, Var x, float beta, Var z)
    {
        var b = t.Backend;
        if (x.Value.Rows != z.Value.Rows || x.Value.Cols != z.Value.Cols)
            throw new ArgumentException($"AddScaled: x is {x.Value.Rows}x{x.Value.Cols} but z is {z.Value.Rows}x{z.Value.Cols}.", nameof(z));
        var o = b.Scale(x.Value, alpha);
        using (var zs = b.Scale(z.Value, beta)) b.AddInPlace(o, zs);
        return t.Record(o, [x, z], y =>
        {
            if (x.RequiresGrad) t.Accumulate(x, b.Scale(y.Grad!, alpha));
            if (z.RequiresGrad) t.Accumulate(z, b.Scale(y.Grad!, beta));
        });
    }

    /// <summary>The mean of all elements (1 x 1).</summary>
    public static Var Mean(Tape t, Var x)
    {
        var b = t.Backend;
        int rows = x.Value.Rows, cols = x.Value.Cols;
        if (x.Value.Length == 0) throw new ArgumentException("Mean: the input is empty.", nameof(x));
        float inv = 1f / x.Value.Length;
        return t.Record(b.Sum(x.Value, inv), [x], y => t.Accumulate(x, b.Broadcast(y.Grad!, rows, cols, inv)));
    }

    /// <summary>
    /// Fused log-softmax + cross-entropy per sample (1 x batch): -log softmax(z)[label] for hard labels, or
    /// KL(targets || softmax(z)) for a target distribution per column. Feed it to <see cref="Mean"/> for the batch mean.
    /// </summary>
    public static Var SoftmaxCrossEntropy(Tape t, Var logits, Labels? labels, DenseTensor? targets = null)
    {
        var b = t.Backend;
        var (probs, loss) = b.SoftmaxCrossEntropy(logits.Value, labels, targets);
        var node = t.Record(loss, [logits], y => t.Accumulate(logits, b.SoftmaxCrossEntropyBackward(probs, labels, targets, y.Grad!)));
        t.Record(probs, [], _ => { });   // the tape owns (and frees) the saved probabilities
        return node;
    }

    /// <summary>Column softmax of <paramref name="logits"/> / temperature, with no gradient (teacher targets).</summary>
    public static DenseTensor SoftmaxNoGrad(ITensorBackend b, DenseTensor logits, float temperature)
    {
        using var scaled = b.Scale(logits, 1f / temperature);
        // The forward with the logits' own softmax as targets: only the probabilities are kept.
        var (probs, loss) = b.SoftmaxCrossEntropy(scaled, null, scaled);
        loss.Dispose();
        return probs;
    }

    /// <summary>
    /// Distillation loss (Hinton et al.): (1 - alpha) * mean CE(z, labels) + alpha * T^2 * mean KL(softmax(teacher/T) || softmax(z/T)).
    /// Composite: built from Scale, SoftmaxCrossEntropy, Mean and AddScaled; no backward of its own.
    /// </summary>
    public static Var DistillationLoss(Tape t, Var studentLogits, DenseTensor teacherLogits, Labels labels, float temperature, float alpha)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "DistillationLoss: the temperature must be > 0.");
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "DistillationLoss: alpha must lie in [0, 1].");
        if (teacherLogits.Rows != studentLogits.Value.Rows || teacherLogits.Cols != studentLogits.Value.Cols)
            throw new ArgumentException($"DistillationLoss: teacher logits are {teacherLogits.Rows}x{teacherLogits.Cols}; the student's are {studentLogits.Value.Rows}x{studentLogits.Value.Cols}.", nameof(teacherLogits));
        var soft = SoftmaxNoGrad(t.Backend, teacherLogits, temperature);
        t.Record(soft, [], _ => { });   // owned by the tape
        var hard = Mean(t, SoftmaxCrossEntropy(t, studentLogits, labels));
        var kl = Mean(t, SoftmaxCrossEntropy(t, Scale(t, studentLogits, 1f / temperature), null, soft));
        return AddScaled(t, 1f - alpha, hard, alpha * temperature * temperature, kl);
    }

    private static DenseTensor Reshape(DenseTensor g, DenseTensor like)
    {
        if (g.Rows == like.Rows && g.Cols == like.Cols) return g;
        if (!g.IsOnDevice) return g.Reshaped(like.Rows, like.Cols);
        var buffer = g.Device!.Allocate<float>(g.Length);
        g.Device.CopyDeviceToDevice(g.DeviceData, 0, buffer, 0, g.Length);
        g.Dispose();
        return DenseTensor.FromDevice(buffer, like.Rows, like.Cols);
    }
}
