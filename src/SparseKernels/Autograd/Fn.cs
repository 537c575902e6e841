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
            if (x.RequiresGrad)
            {
                // dx = dy: y's gradient is read by no closure after this one, so it moves to x (no copy; disposed once, with x)
                var dy = y.Grad!;
                y.Grad = null;
                t.Accumulate(x, dy);
            }
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

    /// <summary>
    /// The im2col columns of a CNHW batch x (C x (batch * H * W)): (C * kh * kw) x (batch * Ho * Wo). Backward: col2im of
    /// the columns' gradient. A convolution is then <see cref="Linear"/> or <see cref="SparseLinear"/> of the
    /// out x (C * kh * kw) weight with these columns.
    /// </summary>
    public static Var Im2Col(Tape t, Var x, Conv2dGeometry g)
    {
        var b = t.Backend;
        int batch = Batch(x, g.InChannels, g.Height * g.Width, "Im2Col");
        return t.Record(b.Im2Col(x.Value, g, batch, 0, batch), [x], y =>
        {
            var dx = b.Full(x.Value.Rows, x.Value.Cols, 0f);
            b.Col2Im(y.Grad!, g, batch, 0, batch, dx);
            t.Accumulate(x, dx);
        });
    }

    /// <summary>
    /// A convolution y = W * x (no bias) over a CNHW batch whose im2col matrix is built <paramref name="chunk"/>
    /// samples at a time, so that at most one chunk of columns ((C * kh * kw) x (chunk * Ho * Wo) floats) exists at once:
    /// forward im2col + SpMM / GEMM per chunk; backward, per chunk, im2col again, the weight gradient (SDDMM at the
    /// pattern, or dY . col^T) accumulated, and dx = col2im(W^T . dY). W is CSR (<paramref name="sparse"/>) or dense
    /// (<paramref name="dense"/>, out x C*kh*kw).
    /// </summary>
    public static Var Conv2dChunked(Tape t, Var x, Conv2dGeometry g, SparseWeight? sparse, Var? dense, int chunk)
    {
        var b = t.Backend;
        if ((sparse is null) == (dense is null)) throw new ArgumentException("Conv2dChunked: give either a CSR or a dense weight.");
        int batch = Batch(x, g.InChannels, g.Height * g.Width, "Conv2dChunked");
        if (chunk <= 0) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "Conv2dChunked: the chunk must be positive.");
        int plane = g.OutHeight * g.OutWidth;
        var y0 = b.Full(g.OutChannels, checked(batch * plane), 0f);
        for (int b0 = 0; b0 < batch; b0 += chunk)
        {
            int bc = Math.Min(chunk, batch - b0);
            using var col = b.Im2Col(x.Value, g, batch, b0, bc);
            using var yc = sparse is not null ? b.SpmmCsr(sparse.Matrix, col) : b.DenseGemm(dense!.Value, col, false, false);
            b.SetColumns(y0, b0 * plane, yc);
        }
        var w = sparse?.Values ?? dense!;
        return t.Record(y0, [x, w], y =>
        {
            var dx = x.RequiresGrad ? b.Full(x.Value.Rows, x.Value.Cols, 0f) : null;
            if (sparse is not null && dx is not null) sparse.RefreshTransposed();
            for (int b0 = 0; b0 < batch; b0 += chunk)
            {
                int bc = Math.Min(chunk, batch - b0);
                using var col = b.Im2Col(x.Value, g, batch, b0, bc);
                using var dyc = b.CopyColumns(y.Grad!, b0 * plane, bc * plane);
                if (w.RequiresGrad)
                    t.Accumulate(w, sparse is not null ? b.SddmmCsr(sparse.Matrix, dyc, col) : b.DenseGemm(dyc, col, false, true));
                if (dx is not null)
                {
                    using var dcol = sparse is not null ? b.SpmmCsr(sparse.Transposed, dyc) : b.DenseGemm(dense!.Value, dyc, true, false);
                    b.Col2Im(dcol, g, batch, b0, bc, dx);
                }
            }
            if (dx is not null) t.Accumulate(x, dx);
        });
    }

    /// <summary>Max pooling (k x k, stride s) of a CNHW batch of C x H x W; the backward routes dy to each window's maximum.</summary>
    public static Var MaxPool2d(Tape t, Var x, int channels, int height, int width, int k, int stride)
    {
        var b = t.Backend;
        int batch = Batch(x, channels, height * width, "MaxPool2d");
        var (y0, which) = b.MaxPool2d(x.Value, batch, height, width, k, stride);
        var node = t.Record(y0, [x], y => t.Accumulate(x, b.MaxPool2dBackward(y.Grad!, which, batch, height, width, k, stride)));
        t.Record(which, [], _ => { });   // owned by the tape
        return node;
    }

    /// <summary>Global average pooling of a CNHW batch (C x (batch * plane)) to C x batch.</summary>
    public static Var GlobalAvgPool(Tape t, Var x, int channels, int plane)
    {
        var b = t.Backend;
        Batch(x, channels, plane, "GlobalAvgPool");
        return t.Record(b.GlobalAvgPool(x.Value, plane), [x], y => t.Accumulate(x, b.GlobalAvgPoolBackward(y.Grad!, plane)));
    }

    /// <summary>CNHW C x (batch * plane) to feature-major (C * plane) x batch (flatten, PyTorch's feature order), and back in the
    /// backward.</summary>
    public static Var ChannelsToFeatures(Tape t, Var x, int channels, int plane)
    {
        var b = t.Backend;
        int batch = Batch(x, channels, plane, "ChannelsToFeatures");
        return t.Record(b.ChannelsToFeatures(x.Value, channels, batch, plane), [x], y
            => t.Accumulate(x, b.FeaturesToChannels(y.Grad!, channels, batch, plane)));
    }

    /// <summary>Feature-major (C * plane) x batch (images as the data come) to CNHW C x (batch * plane), and back in the
    /// backward.</summary>
    public static Var FeaturesToChannels(Tape t, Var x, int channels, int plane)
    {
        var b = t.Backend;
        if (x.Value.Rows != (long)channels * plane)
            throw new ArgumentException($"FeaturesToChannels: x has {x.Value.Rows} features per sample; {channels} x {plane} expected.",
                nameof(x));
        int batch = x.Value.Cols;
        return t.Record(b.FeaturesToChannels(x.Value, channels, batch, plane), [x], y
            => t.Accumulate(x, b.ChannelsToFeatures(y.Grad!, channels, batch, plane)));
    }

    /// <summary>The batch of a CNHW tensor of <paramref name="channels"/> rows and planes of <paramref name="plane"/> elements.</summary>
    private static int Batch(Var x, int channels, int plane, string op)
    {
        if (x.Value.Rows != channels || plane <= 0 || x.Value.Cols % plane != 0 || x.Value.Cols == 0)
            throw new ArgumentException($"{op}: x is {x.Value.Rows}x{x.Value.Cols}; a CNHW batch of {channels} channels and " +
                $"{plane}-element planes expected.", nameof(x));
        return x.Value.Cols / plane;
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
