using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>The convolution and pooling ops of the CPU backend (CNHW layout, see <see cref="Conv2dGeometry"/>).</summary>
public sealed partial class CpuBackend
{
    /// <summary>
    /// The im2col columns of samples [b0, b0 + bc) of the CNHW batch x (C x (batch * H * W)): a new
    /// (C * kh * kw) x (bc * Ho * Wo) tensor, zero outside the input. Throws <see cref="ArgumentException"/> naming the operand that does
    /// not fit.
    /// </summary>
    public DenseTensor Im2Col(Conv2dGeometry g, DenseTensor x, int batch, int b0, int bc)
    {
        ConvShapes.CheckBatch(g, x, batch, b0, bc, "Im2Col");
        var (rows, cols) = ConvShapes.Columns(g, bc);
        var col = DenseTensor.Zeros(rows, cols);
        float[] xd = x.HostData, cd = col.HostData;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, s = g.Stride, p = g.Padding, kh = g.KernelH, kw = g.KernelW;
        long inPlane = (long)h * w, plane = (long)oh * ow;
        For(rows, row =>
        {
            int j = row % kw, i = row / kw % kh, c = row / (kw * kh);
            for (int b = 0; b < bc; b++)
            {
                long src = (long)c * batch * inPlane + (long)(b0 + b) * inPlane;
                long dst = (long)row * cols + b * plane;
                for (int oy = 0; oy < oh; oy++)
                {
                    int y = oy * s - p + i;
                    var outRow = cd.AsSpan((int)(dst + (long)oy * ow), ow);
                    if (y < 0 || y >= h) continue;   // stays zero
                    long srcRow = src + (long)y * w;
                    if (s == 1)
                    {
                        int first = Math.Max(0, p - j), last = Math.Min(ow, w + p - j);   // ox with 0 <= ox - p + j < w
                        if (last > first) xd.AsSpan((int)(srcRow + first - p + j), last - first).CopyTo(outRow[first..last]);
                    }
                    else
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int xx = ox * s - p + j;
                            if (xx >= 0 && xx < w) outRow[ox] = xd[srcRow + xx];
                        }
                }
            }
        });
        return col;
    }

    /// <summary>
    /// The adjoint of <see cref="Im2Col"/>: writes samples [b0, b0 + bc) of the CNHW input gradient dx (C x (batch * H * W);
    /// other samples untouched) from their columns' gradient dcol ((C * kh * kw) x (bc * Ho * Wo)); fp32 sums in kernel-offset
    /// order, as kernels/col2im.cu.
    /// </summary>
    public void Col2Im(Conv2dGeometry g, DenseTensor dcol, int batch, int b0, int bc, DenseTensor dx)
    {
        ConvShapes.CheckBatch(g, dx, batch, b0, bc, "Col2Im", "dx");
        var (rows, cols) = ConvShapes.Columns(g, bc);
        if (dcol.Rows != rows
            || dcol.Cols != cols) throw new ArgumentException($"Col2Im: dcol is {dcol.Rows}x{dcol.Cols}; it must be {rows}x{cols}.",
                nameof(dcol));
        float[] xd = dx.HostData, cd = dcol.HostData;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, s = g.Stride, p = g.Padding, kh = g.KernelH, kw = g.KernelW;
        long inPlane = (long)h * w, plane = (long)oh * ow;
        For(g.InChannels, c =>
        {
            for (int b = 0; b < bc; b++) xd.AsSpan((int)((long)c * batch * inPlane + (long)(b0 + b) * inPlane), (int)inPlane).Clear();
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++)
                {
                    long row = ((long)c * kh + i) * kw + j;
                    for (int b = 0; b < bc; b++)
                    {
                        long dst = (long)c * batch * inPlane + (long)(b0 + b) * inPlane, src = row * cols + b * plane;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int y = oy * s - p + i;
                            if (y < 0 || y >= h) continue;
                            long d = dst + (long)y * w, sr = src + (long)oy * ow;
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int xx = ox * s - p + j;
                                if (xx >= 0 && xx < w) xd[d + xx] += cd[sr + ox];
                            }
                        }
                    }
                }
        });
    }

    /// <summary>Max pooling (k x k, stride s, no padding) of the CNHW batch x: the maxima (C x (batch * Ho * Wo)) and which element of each
    /// window won (i * k + j as a float; the first maximum).</summary>
    public (DenseTensor Y, DenseTensor Which) MaxPool2d(DenseTensor x, int batch, int height, int width, int k, int stride)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2d");
        var y = DenseTensor.Zeros(x.Rows, checked(batch * oh * ow));
        var which = DenseTensor.Zeros(y.Rows, y.Cols);
        ConvShapes.CheckPool("MaxPool2d", x, batch, height, width, y, which, oh, ow);
        float[] xd = x.HostData, yd = y.HostData, wd = which.HostData;
        For(x.Rows * batch, plane =>
        {
            long inBase = (long)plane * height * width, outBase = (long)plane * oh * ow;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    long at = inBase + (long)oy * stride * width + ox * stride;
                    float best = xd[at]; int arg = 0;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                        {
                            float v = xd[at + (long)i * width + j];
                            if (v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; arg = i * k + j; }
                        }
                    yd[outBase + oy * ow + ox] = best; wd[outBase + oy * ow + ox] = arg;
                }
        });
        return (y, which);
    }

    /// <summary>The input gradient of <see cref="MaxPool2d"/>: dy routed to each window's winner (sums where windows overlap).</summary>
    public DenseTensor MaxPool2dBackward(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2dBackward");
        var dx = DenseTensor.Zeros(dy.Rows, checked(batch * height * width));
        ConvShapes.CheckPool("MaxPool2dBackward", dx, batch, height, width, dy, which, oh, ow);
        float[] xd = dx.HostData, dd = dy.HostData, wd = which.HostData;
        For(dy.Rows * batch, plane =>
        {
            long inBase = (long)plane * height * width, outBase = (long)plane * oh * ow;
            for (int o = 0; o < oh * ow; o++)
            {
                int a = (int)wd[outBase + o], oy = o / ow, ox = o % ow;
                xd[inBase + (long)(oy * stride + a / k) * width + ox * stride + a % k] += dd[outBase + o];
            }
        });
        return dx;
    }

    /// <summary>CNHW C x (batch * plane) to feature-major (C * plane) x batch (PyTorch's flatten order), as a new tensor.</summary>
    public DenseTensor ChannelsToFeatures(DenseTensor x, int channels, int batch, int plane)
    {
        CheckPermute(x, channels, batch, plane, "ChannelsToFeatures");
        var y = DenseTensor.Zeros(channels * plane, batch);
        float[] xd = x.HostData, yd = y.HostData;
        For(channels, c =>
        {
            long xb = (long)c * batch * plane, yb = (long)c * plane * batch;
            for (int b = 0; b < batch; b++)
                for (int q = 0; q < plane; q++) yd[yb + (long)q * batch + b] = xd[xb + (long)b * plane + q];
        });
        return y;
    }

    /// <summary>Feature-major (C * plane) x batch to CNHW C x (batch * plane), as a new tensor (the inverse of <see
    /// cref="ChannelsToFeatures"/>).</summary>
    public DenseTensor FeaturesToChannels(DenseTensor x, int channels, int batch, int plane)
    {
        CheckPermute(x, channels, batch, plane, "FeaturesToChannels");
        var y = DenseTensor.Zeros(channels, batch * plane);
        float[] xd = x.HostData, yd = y.HostData;
        For(channels, c =>
        {
            long xb = (long)c * plane * batch, yb = (long)c * batch * plane;
            for (int q = 0; q < plane; q++)
                for (int b = 0; b < batch; b++) yd[yb + (long)b * plane + q] = xd[xb + (long)q * batch + b];
        });
        return y;
    }

    /// <summary>The mean of each plane of a CNHW batch: C x (batch * plane) to C x batch (fp32 sums in order).</summary>
    public DenseTensor GlobalAvgPool(DenseTensor x, int plane)
    {
        if (plane <= 0 || x.Cols % plane != 0) throw new ArgumentException($"GlobalAvgPool: x is {x.Rows}x{x.Cols}; its columns are " +
            $"not a whole number of {plane}-element planes.", nameof(x));
        var y = DenseTensor.Zeros(x.Rows, x.Cols / plane);
        float[] xd = x.HostData, yd = y.HostData;
        For(yd.Length, e =>
        {
            float s = 0;
            foreach (float v in xd.AsSpan(e * plane, plane)) s += v;
            yd[e] = s / plane;
        });
        return y;
    }

    /// <summary>The input gradient of <see cref="GlobalAvgPool"/>: dx = dy / plane broadcast over each plane.</summary>
    public DenseTensor GlobalAvgPoolBackward(DenseTensor dy, int plane)
    {
        if (plane <= 0) throw new ArgumentException($"GlobalAvgPoolBackward: the plane has {plane} elements.", nameof(plane));
        var dx = DenseTensor.Zeros(dy.Rows, checked(dy.Cols * plane));
        float[] xd = dx.HostData, dd = dy.HostData;
        for (int e = 0; e < dd.Length; e++) xd.AsSpan(e * plane, plane).Fill(dd[e] / plane);
        return dx;
    }

    private static void CheckPermute(DenseTensor x, int channels, int batch, int plane, string op)
    {
        if (channels <= 0 || batch <= 0
            || plane <= 0) throw new ArgumentException($"{op}: channels {channels}, batch {batch} and plane {plane} must be positive.");
        if (x.Length != (long)channels * batch * plane) throw new ArgumentException($"{op}: x is {x.Rows}x{x.Cols} = {x.Length} " +
            $"elements; {channels} x {batch} x {plane} expected.", nameof(x));
    }

    /// <summary>Runs body(i) for i in [0, n), in parallel when there is more than one thread.</summary>
    private void For(int n, Action<int> body)
    {
        if (MaxDegreeOfParallelism <= 1 || n <= 1) { for (int i = 0; i < n; i++) body(i); return; }
        Parallel.For(0, n, Options, body);
    }
}
