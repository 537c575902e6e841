using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>Plain-loop references of the convolution and pooling ops (double accumulation), the tests' oracle.</summary>
internal static partial class CpuReference
{
    /// <summary>im2col of samples [b0, b0 + bc): col[(c, i, j), (b, oy, ox)] = x[c, b0 + b, oy s - p + i, ox s - p + j] or 0.</summary>
    public static DenseTensor Im2Col(Conv2dGeometry g, DenseTensor x, int batch, int b0, int bc)
    {
        ConvShapes.CheckBatch(g, x, batch, b0, bc, "Im2Col");
        var (rows, cols) = ConvShapes.Columns(g, bc);
        var col = DenseTensor.Zeros(rows, cols);
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        for (int c = 0; c < g.InChannels; c++)
            for (int i = 0; i < g.KernelH; i++)
                for (int j = 0; j < g.KernelW; j++)
                    for (int b = 0; b < bc; b++)
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int y = oy * g.Stride - g.Padding + i, xx = ox * g.Stride - g.Padding + j;
                                float v = y >= 0 && y < h && xx >= 0
                                    && xx < w ? x.HostData[(long)c * batch * h * w + (long)(b0 + b) * h * w + y * w + xx] : 0f;
                                col.HostData[(long)((c * g.KernelH + i) * g.KernelW + j) * cols + (long)b * oh * ow + oy * ow + ox] = v;
                            }
        return col;
    }

    /// <summary>col2im: dx[c, b0 + b, y, x] = the double sum of dcol over the entries im2col copied that element to.</summary>
    public static void Col2Im(Conv2dGeometry g, DenseTensor dcol, int batch, int b0, int bc, DenseTensor dx)
    {
        ConvShapes.CheckBatch(g, dx, batch, b0, bc, "Col2Im", "dx");
        var (_, cols) = ConvShapes.Columns(g, bc);
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        var acc = new double[(long)g.InChannels * bc * h * w];
        for (int c = 0; c < g.InChannels; c++)
            for (int i = 0; i < g.KernelH; i++)
                for (int j = 0; j < g.KernelW; j++)
                    for (int b = 0; b < bc; b++)
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int y = oy * g.Stride - g.Padding + i, xx = ox * g.Stride - g.Padding + j;
                                if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                                long src = (long)((c * g.KernelH + i) * g.KernelW + j) * cols + (long)b * oh * ow + oy * ow + ox;
                                acc[((long)c * bc + b) * h * w + y * w + xx] += dcol.HostData[src];
                            }
        for (int c = 0; c < g.InChannels; c++)
            for (int b = 0; b < bc; b++)
                for (int q = 0; q < h * w; q++)
                    dx.HostData[(long)c * batch * h * w + (long)(b0 + b) * h * w + q] = (float)acc[((long)c * bc + b) * h * w + q];
    }

    /// <summary>Max pooling: window maxima and the winner's position in the window (first maximum).</summary>
    public static (DenseTensor Y, DenseTensor Which) MaxPool2d(DenseTensor x, int batch, int height, int width, int k, int stride)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2d");
        var y = DenseTensor.Zeros(x.Rows, batch * oh * ow); var which = DenseTensor.Zeros(y.Rows, y.Cols);
        for (int plane = 0; plane < x.Rows * batch; plane++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    float best = float.NegativeInfinity; int arg = -1;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                        {
                            float v = x.HostData[(long)plane * height * width + (oy * stride + i) * width + ox * stride + j];
                            // NaN propagates (the first NaN wins), as in PyTorch and the backends
                            if (arg < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; arg = i * k + j; }
                        }
                    y.HostData[(long)plane * oh * ow + oy * ow + ox] = best; which.HostData[(long)plane * oh * ow + oy * ow + ox] = arg;
                }
        return (y, which);
    }

    /// <summary>The gradient of max pooling: the double sum of dy over the windows each element won.</summary>
    public static DenseTensor MaxPool2dBackward(DenseTensor dy, DenseTensor which, int batch, int height, int width, int k, int stride)
    {
        var (oh, ow) = ConvShapes.PoolPlane(height, width, k, stride, "MaxPool2dBackward");
        var acc = new double[(long)dy.Rows * batch * height * width];
        for (int plane = 0; plane < dy.Rows * batch; plane++)
            for (int o = 0; o < oh * ow; o++)
            {
                int a = (int)which.HostData[(long)plane * oh * ow + o];
                long at = (long)plane * height * width + (o / ow * stride + a / k) * width + o % ow * stride + a % k;
                acc[at] += dy.HostData[(long)plane * oh * ow + o];
            }
        return DenseTensor.FromArray(dy.Rows, batch * height * width, acc.Select(v => (float)v).ToArray());
    }

    /// <summary>y[c * plane + q, b] = x[c, b * plane + q].</summary>
    public static DenseTensor ChannelsToFeatures(DenseTensor x, int channels, int batch, int plane)
    {
        var y = DenseTensor.Zeros(channels * plane, batch);
        for (int c = 0; c < channels; c++)
            for (int b = 0; b < batch; b++)
                for (int q = 0; q < plane; q++)
                    y.HostData[((long)c * plane + q) * batch + b] = x.HostData[(long)c * batch * plane + (long)b * plane + q];
        return y;
    }

    /// <summary>The mean of each plane, double accumulation.</summary>
    public static DenseTensor GlobalAvgPool(DenseTensor x, int plane)
    {
        var y = DenseTensor.Zeros(x.Rows, x.Cols / plane);
        for (int e = 0; e < y.Length; e++)
        {
            double s = 0;
            for (int q = 0; q < plane; q++) s += x.HostData[(long)e * plane + q];
            y.HostData[e] = (float)(s / plane);
        }
        return y;
    }
}
