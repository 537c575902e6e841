using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>Class labels of a batch, on the host or on a device (one int per sample, in [0, classes)).</summary>
public sealed class Labels : IDisposable
{
    /// <summary>Labels held on the host (not copied); each in [0, classes).</summary>
    public Labels(int[] host) { Host = host; Count = host.Length; }
    /// <summary>Labels held in a device buffer (owned: disposed with these labels); each in [0, classes).</summary>
    public Labels(DeviceBuffer<int> device) { Device = device; Count = checked((int)device.Length); }
    /// <summary>The labels on the host, or null when they live on a device.</summary>
    public int[]? Host { get; }
    /// <summary>The labels on a device, or null when they live on the host.</summary>
    public DeviceBuffer<int>? Device { get; }
    /// <summary>The number of samples.</summary>
    public int Count { get; }
    /// <summary>The labels as a host array (the host array itself, or a copy from the device).</summary>
    public int[] ToArray() => Host ?? Device!.ToArray();
    /// <inheritdoc/>
    public void Dispose() => Device?.Dispose();
}

/// <summary>
/// The tensor operations the autograd ops and optimizers need, on one backend: the CPU
/// (<see cref="CpuTensorBackend"/>, built on <see cref="Cpu.CpuBackend"/>) or a device
/// (<see cref="DeviceTensorBackend"/>, the kernels). Every method returning a tensor returns a new one
/// the caller owns. Activations are feature-major: features x batch (one column per sample).
/// </summary>
public interface ITensorBackend
{
    /// <summary>The device, or null for the CPU.</summary>
    IDevice? Device { get; }
    /// <summary>A short description for logs, e.g. <c>CPU (2 threads)</c> or the device kind and name.</summary>
    string Name { get; }
    /// <summary>A new rows x cols tensor with every element <paramref name="value"/>.</summary>
    DenseTensor Full(int rows, int cols, float value);
    /// <summary>A copy of the host tensor <paramref name="host"/> on this backend.</summary>
    DenseTensor Upload(DenseTensor host);
    /// <summary>A copy of <paramref name="x"/> (on this backend).</summary>
    DenseTensor Copy(DenseTensor x);
    /// <summary>y += x.</summary>
    void AddInPlace(DenseTensor y, DenseTensor x);
    /// <summary>alpha * x.</summary>
    DenseTensor Scale(DenseTensor x, float alpha);
    /// <summary>op(a) . op(b).</summary>
    DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transA, bool transB);
    /// <summary>A . b for a CSR A on this backend.</summary>
    DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b);
    /// <summary>The sampled products x[i,:] . y[j,:] at the pattern's nonzeros, as a 1 x nnz tensor.</summary>
    DenseTensor SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y);
    /// <summary>dst values = src values[perm] (refresh a transposed CSR's values).</summary>
    void GatherValues(CsrMatrix source, SparsePermutation perm, CsrMatrix destination);
    /// <summary>x[r, c] += bias[r] in place.</summary>
    void AddBiasPerRow(DenseTensor x, DenseTensor bias);
    /// <summary>A rows x 1 tensor: scale * sum over each row.</summary>
    DenseTensor RowSum(DenseTensor x, float scale);
    /// <summary>A 1 x 1 tensor: scale * sum of all elements.</summary>
    DenseTensor Sum(DenseTensor x, float scale);
    /// <summary>A rows x cols tensor with every element scale * scalar[0].</summary>
    DenseTensor Broadcast(DenseTensor scalar, int rows, int cols, float scale);
    /// <summary>max(x, 0) elementwise.</summary>
    DenseTensor Relu(DenseTensor x);
    /// <summary>The gradient of ReLU: <paramref name="dy"/> where <paramref name="x"/> &gt; 0, else 0 (same shape as x).</summary>
    DenseTensor ReluBackward(DenseTensor x, DenseTensor dy);
    /// <summary>Column softmax of logits and the per-sample loss (1 x batch): -log p[label] or KL(targets || p).</summary>
    (DenseTensor Probs, DenseTensor Loss) SoftmaxCrossEntropy(DenseTensor logits, Labels? labels, DenseTensor? targets);
    /// <summary>dlogits[c, s] = dloss[s] * (probs[c, s] - target[c, s]).</summary>
    DenseTensor SoftmaxCrossEntropyBackward(DenseTensor probs, Labels? labels, DenseTensor? targets, DenseTensor dloss);
    /// <summary>One SGD step in place: g += weightDecay * w; velocity = momentum * velocity + g; w -= lr * (nesterov ? g + momentum * velocity : velocity).</summary>
    void SgdMomentum(DenseTensor w, DenseTensor g, DenseTensor velocity, float lr, float momentum, float weightDecay, bool nesterov);
    /// <summary>One Adam step in place (L2 weight decay added to g; bias correction with the 1-based <paramref name="step"/>); <paramref name="m"/> and <paramref name="v"/> are the first and second moments.</summary>
    void Adam(DenseTensor w, DenseTensor g, DenseTensor m, DenseTensor v, float lr, float beta1, float beta2, float eps, float weightDecay, long step);
    /// <summary>Waits until all work queued on this backend has finished (a no-op on the CPU).</summary>
    void Synchronize();
    /// <summary>The im2col columns of samples [b0, b0 + bc) of the CNHW batch x (C x (batch * H * W)): (C * kh * kw) x (bc * Ho *
    /// Wo).</summary>
    DenseTensor Im2Col(DenseTensor x, Conv2dGeometry g, int batch, int b0, int bc);
    /// <summary>Writes samples [b0, b0 + bc) of the CNHW dx from their columns' gradient (col2im, the adjoint of <see
    /// cref="Im2Col"/>).</summary>
    void Col2Im(DenseTensor dcol, Conv2dGeometry g, int batch, int b0, int bc, DenseTensor dx);
    /// <summary>Max pooling of a CNHW batch: the maxima and each window's winner (i * k + j, as floats).</summary>
    (DenseTensor Y, DenseTensor Which) MaxPool2d(DenseTensor x, int batch, int height, int width, int k, int stride);
    /// <summary>The input gradient of <see cref="MaxPool2d"/>.</summary>
    DenseTensor MaxPool2dBackward(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride);
    /// <summary>CNHW C x (batch * plane) to feature-major (C * plane) x batch.</summary>
    DenseTensor ChannelsToFeatures(DenseTensor x, int channels, int batch, int plane);
    /// <summary>Feature-major (C * plane) x batch to CNHW C x (batch * plane).</summary>
    DenseTensor FeaturesToChannels(DenseTensor x, int channels, int batch, int plane);
    /// <summary>The mean of each plane: C x (batch * plane) to C x batch.</summary>
    DenseTensor GlobalAvgPool(DenseTensor x, int plane);
    /// <summary>The input gradient of <see cref="GlobalAvgPool"/>.</summary>
    DenseTensor GlobalAvgPoolBackward(DenseTensor dy, int plane);
    /// <summary>Columns [c0, c0 + n) of x as a new rows x n tensor.</summary>
    DenseTensor CopyColumns(DenseTensor x, int c0, int n);
    /// <summary>Writes <paramref name="source"/> (rows x n) into columns [c0, c0 + n) of y.</summary>
    void SetColumns(DenseTensor y, int c0, DenseTensor source);
}

/// <summary>
/// The permutation that maps a CSR matrix's nonzeros to those of its transpose: transposed value q is the
/// original's value Perm[q]. Built once per pattern on the host; on a device also uploaded.
/// </summary>
public sealed class SparsePermutation : IDisposable
{
    /// <summary>Builds the permutation of <paramref name="hostPattern"/> (a host matrix) and uploads it to <paramref name="device"/> when one is given.</summary>
    public SparsePermutation(CsrMatrix hostPattern, IDevice? device)
    {
        int rows = hostPattern.Rows, cols = hostPattern.Cols, nnz = hostPattern.Nnz;
        int[] ro = hostPattern.RowOffsets, ci = hostPattern.ColumnIndices;
        var tOffsets = new int[cols + 1];
        for (int p = 0; p < nnz; p++) tOffsets[ci[p] + 1]++;
        for (int c = 0; c < cols; c++) tOffsets[c + 1] += tOffsets[c];
        var next = (int[])tOffsets.Clone();
        var tCols = new int[nnz];
        Host = new int[nnz];
        for (int r = 0; r < rows; r++)
            for (int p = ro[r]; p < ro[r + 1]; p++)
            {
                int q = next[ci[p]]++;
                tCols[q] = r;
                Host[q] = p;
            }
        TransposedRowOffsets = tOffsets;
        TransposedColumnIndices = tCols;
        if (device is not null) { Device = device.Allocate<int>(nnz); Device.CopyFrom(Host); }
    }

    /// <summary>The permutation on the host: transposed nonzero q is the original's nonzero Host[q] (nnz ints).</summary>
    public int[] Host { get; }
    /// <summary>The same permutation on the device, or null for the CPU.</summary>
    public DeviceBuffer<int>? Device { get; }
    internal int[] TransposedRowOffsets { get; }
    internal int[] TransposedColumnIndices { get; }
    /// <inheritdoc/>
    public void Dispose() => Device?.Dispose();
}
