using System.Numerics;
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
        Im2ColInto(g, x, batch, b0, bc, col.HostData);
        return col;
    }

    /// <summary><see cref="Im2Col"/> into <paramref name="cd"/> ((C * kh * kw) x (bc * Ho * Wo), every element written, zeros
    /// outside the input); the operands are checked by the caller.</summary>
    internal void Im2ColInto(Conv2dGeometry g, DenseTensor x, int batch, int b0, int bc, float[] cd)
    {
        var (rows, cols) = ConvShapes.Columns(g, bc);
        if (cd.LongLength < (long)rows * cols)
            throw new ArgumentException($"Im2Col: the output holds {cd.LongLength} floats for {rows}x{cols}.", nameof(cd));
        float[] xd = x.HostData;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, s = g.Stride, p = g.Padding, kh = g.KernelH, kw = g.KernelW;
        long inPlane = (long)h * w, plane = (long)oh * ow;
        For(rows, row =>
        {
            int j = row % kw, i = row / kw % kh, c = row / (kw * kh);
            int first = Math.Max(0, p - j), last = Math.Min(ow, w + p - j);   // stride 1: ox with 0 <= ox - p + j < w
            for (int b = 0; b < bc; b++)
            {
                long src = (long)c * batch * inPlane + (long)(b0 + b) * inPlane;
                long dst = (long)row * cols + b * plane;
                for (int oy = 0; oy < oh; oy++)
                {
                    int y = oy * s - p + i;
                    var outRow = cd.AsSpan((int)(dst + (long)oy * ow), ow);
                    if (y < 0 || y >= h) { outRow.Clear(); continue; }
                    long srcRow = src + (long)y * w;
                    if (s == 1)
                    {
                        if (last <= first) { outRow.Clear(); continue; }
                        outRow[..first].Clear();
                        xd.AsSpan((int)(srcRow + first - p + j), last - first).CopyTo(outRow[first..last]);
                        outRow[last..].Clear();
                    }
                    else
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int xx = ox * s - p + j;
                            outRow[ox] = xx >= 0 && xx < w ? xd[srcRow + xx] : 0f;
                        }
                }
            }
        });
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
                        int first = Math.Max(0, p - j), last = Math.Min(ow, w + p - j);   // stride 1: ox with 0 <= ox - p + j < w
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int y = oy * s - p + i;
                            if (y < 0 || y >= h) continue;
                            long d = dst + (long)y * w, sr = src + (long)oy * ow;
                            if (s == 1)
                            {
                                if (last > first)
                                    AddInto(xd.AsSpan((int)(d + first - p + j), last - first), cd.AsSpan((int)(sr + first), last - first));
                                continue;
                            }
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
        MaxPool2dInto(x, batch, height, width, k, stride, y, which);
        return (y, which);
    }

    /// <summary><see cref="MaxPool2d"/> into <paramref name="y"/> and <paramref name="which"/> (every element written). A plane
    /// of 2 x 2 windows takes a branch-light path; a plane with a NaN in a window takes the general one (the first NaN wins).</summary>
    internal void MaxPool2dInto(DenseTensor x, int batch, int height, int width, int k, int stride, DenseTensor y, DenseTensor which)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2d");
        ConvShapes.CheckPool("MaxPool2d", x, batch, height, width, y, which, oh, ow);
        float[] xd = x.HostData, yd = y.HostData, wd = which.HostData;
        For(x.Rows * batch, plane =>
        {
            long inBase = (long)plane * height * width, outBase = (long)plane * oh * ow;
            if (k == 2 && MaxPool2x2Plane(xd.AsSpan((int)inBase, height * width), yd.AsSpan((int)outBase, oh * ow),
                    wd.AsSpan((int)outBase, oh * ow), width, stride, oh, ow)) return;
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
    }

    /// <summary>One plane of a 2 x 2 max pool; false (nothing to trust in the outputs) when a window holds a NaN, which the
    /// general path then handles (the first NaN wins).</summary>
    private static bool MaxPool2x2Plane(ReadOnlySpan<float> xs, Span<float> ys, Span<float> ws, int width, int stride, int oh, int ow)
    {
        int o = 0;
        for (int oy = 0; oy < oh; oy++)
        {
            var r0 = xs[(oy * stride * width)..];
            var r1 = r0[width..];
            for (int ox = 0, c = 0; ox < ow; ox++, o++, c += stride)
            {
                float v0 = r0[c], v1 = r0[c + 1], v2 = r1[c], v3 = r1[c + 1];
                float best = v0; int arg = 0;
                if (v1 > best) { best = v1; arg = 1; }
                if (v2 > best) { best = v2; arg = 2; }
                if (v3 > best) { best = v3; arg = 3; }
                if (float.IsNaN(v0 + v1 + v2 + v3)) return false;
                ys[o] = best; ws[o] = arg;
            }
        }
        return true;
    }

    /// <summary>The input gradient of <see cref="MaxPool2d"/>: dy routed to each window's winner (sums where windows overlap).</summary>
    public DenseTensor MaxPool2dBackward(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride)
    {
        var dx = DenseTensor.Zeros(dy.Rows, checked(batch * height * width));
        MaxPool2dBackwardInto(dy, which, batch, height, width, k, stride, dx);
        return dx;
    }

    /// <summary><see cref="MaxPool2dBackward"/> into <paramref name="dx"/> (C x (batch * H * W), overwritten).</summary>
    internal void MaxPool2dBackwardInto(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride,
        DenseTensor dx)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2dBackward");
        ConvShapes.CheckPool("MaxPool2dBackward", dx, batch, height, width, dy, which, oh, ow);
        float[] xd = dx.HostData, dd = dy.HostData, wd = which.HostData;
        int kk = k * k;
        For(dy.Rows * batch, plane =>
        {
            var xs = xd.AsSpan((int)((long)plane * height * width), height * width);
            var ds = dd.AsSpan((int)((long)plane * oh * ow), oh * ow);
            var ws = wd.AsSpan((int)((long)plane * oh * ow), oh * ow);
            xs.Clear();
            // the winner's offset in the input plane, per window position (no division per element)
            Span<int> off = kk <= 256 ? stackalloc int[kk] : new int[kk];
            for (int a = 0; a < kk; a++) off[a] = a / k * width + a % k;
            int o = 0;
            for (int oy = 0; oy < oh; oy++)
            {
                int row = oy * stride * width;
                for (int ox = 0; ox < ow; ox++, o++) xs[row + ox * stride + off[(int)ws[o]]] += ds[o];
            }
        });
    }

    /// <summary>CNHW C x (batch * plane) to feature-major (C * plane) x batch (PyTorch's flatten order), as a new tensor.</summary>
    public DenseTensor ChannelsToFeatures(DenseTensor x, int channels, int batch, int plane)
    {
        CheckPermute(x, channels, batch, plane, "ChannelsToFeatures");
        var y = DenseTensor.Zeros(channels * plane, batch);
        ChannelsToFeaturesInto(x, channels, batch, plane, y.HostData);
        return y;
    }

    /// <summary><see cref="ChannelsToFeatures"/> into <paramref name="yd"/> (every element written).</summary>
    internal void ChannelsToFeaturesInto(DenseTensor x, int channels, int batch, int plane, float[] yd)
    {
        CheckPermute(x, channels, batch, plane, "ChannelsToFeatures");
        float[] xd = x.HostData;
        For(channels, c =>
        {
            long xb = (long)c * batch * plane, yb = (long)c * plane * batch;
            for (int b = 0; b < batch; b++)
                for (int q = 0; q < plane; q++) yd[yb + (long)q * batch + b] = xd[xb + (long)b * plane + q];
        });
    }

    /// <summary>Feature-major (C * plane) x batch to CNHW C x (batch * plane), as a new tensor (the inverse of <see
    /// cref="ChannelsToFeatures"/>).</summary>
    public DenseTensor FeaturesToChannels(DenseTensor x, int channels, int batch, int plane)
    {
        CheckPermute(x, channels, batch, plane, "FeaturesToChannels");
        var y = DenseTensor.Zeros(channels, batch * plane);
        FeaturesToChannelsInto(x, channels, batch, plane, y.HostData);
        return y;
    }

    /// <summary><see cref="FeaturesToChannels"/> into <paramref name="yd"/> (every element written).</summary>
    internal void FeaturesToChannelsInto(DenseTensor x, int channels, int batch, int plane, float[] yd)
    {
        CheckPermute(x, channels, batch, plane, "FeaturesToChannels");
        float[] xd = x.HostData;
        For(channels, c =>
        {
            long xb = (long)c * plane * batch, yb = (long)c * batch * plane;
            for (int q = 0; q < plane; q++)
                for (int b = 0; b < batch; b++) yd[yb + (long)b * plane + q] = xd[xb + (long)q * batch + b];
        });
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

    /// <summary>dst[i] += src[i].</summary>
    private static void AddInto(Span<float> dst, ReadOnlySpan<float> src)
    {
        int i = 0, vc = Vector<float>.Count;
        for (; i + vc <= dst.Length; i += vc) (new Vector<float>(dst[i..]) + new Vector<float>(src[i..])).CopyTo(dst[i..]);
        for (; i < dst.Length; i++) dst[i] += src[i];
    }

    internal static void CheckPermute(DenseTensor x, int channels, int batch, int plane, string op)
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
