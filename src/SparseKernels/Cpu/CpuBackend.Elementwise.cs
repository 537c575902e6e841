using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>Elementwise ops of the CPU backend (chunked, vectorised).</summary>
public sealed partial class CpuBackend
{
    // ---------------------------------------------------------------- elementwise

    private const int ElementwiseChunk = 1 << 16;

    /// <summary>Runs body over [0, length) in chunks, in parallel when the array is large.</summary>
    private void Chunks(int length, Action<int, int> body, int chunk = ElementwiseChunk)
    {
        if (length <= 4 * chunk || MaxDegreeOfParallelism <= 1) { body(0, length); return; }
        int count = (length + chunk - 1) / chunk;
        Parallel.For(0, count, Options, t => body(t * chunk, (int)Math.Min(length, (long)(t + 1) * chunk)));
    }

    /// <summary>a + b elementwise, as a new array. Throws <see cref="ArgumentException"/> when the lengths differ.</summary>
    public float[] Add(float[] a, float[] b)
    {
        Shapes.SameLength(a, b, "Add");
        var r = new float[a.Length];
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            for (; i + vc <= e; i += vc) (new Vector<float>(a, i) + new Vector<float>(b, i)).CopyTo(r, i);
            for (; i < e; i++) r[i] = a[i] + b[i];
        });
        return r;
    }

    /// <summary>a * b elementwise, as a new array. Throws <see cref="ArgumentException"/> when the lengths differ.</summary>
    public float[] Mul(float[] a, float[] b)
    {
        Shapes.SameLength(a, b, "Mul");
        var r = new float[a.Length];
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            for (; i + vc <= e; i += vc) (new Vector<float>(a, i) * new Vector<float>(b, i)).CopyTo(r, i);
            for (; i < e; i++) r[i] = a[i] * b[i];
        });
        return r;
    }

    /// <summary>alpha * x elementwise, as a new array.</summary>
    public float[] Scale(float alpha, float[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = new float[x.Length];
        ScaleInto(alpha, x, r);
        return r;
    }

    /// <summary>r = alpha * x elementwise (r as long as x; the autograd's pooled form).</summary>
    internal void ScaleInto(float alpha, float[] x, float[] r)
    {
        Shapes.SameLength(x, r, "Scale", "x", "result");
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            var va = new Vector<float>(alpha);
            for (; i + vc <= e; i += vc) (new Vector<float>(x, i) * va).CopyTo(r, i);
            for (; i < e; i++) r[i] = alpha * x[i];
        });
    }

    /// <summary>y + alpha * x (a new array).</summary>
    public float[] Axpy(float alpha, float[] x, float[] y)
    {
        Shapes.SameLength(x, y, "Axpy", "x", "y");
        var r = new float[x.Length];
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            var va = new Vector<float>(alpha);
            for (; i + vc <= e; i += vc) Vector.FusedMultiplyAdd(new Vector<float>(x, i), va, new Vector<float>(y, i)).CopyTo(r, i);
            for (; i < e; i++) r[i] = MathF.FusedMultiplyAdd(alpha, x[i], y[i]);
        });
        return r;
    }

    /// <summary>max(x, 0) elementwise, as a new array.</summary>
    public float[] Relu(float[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = new float[x.Length];
        ReluInto(x, r);
        return r;
    }

    /// <summary>r = max(x, 0) elementwise (r as long as x).</summary>
    internal void ReluInto(float[] x, float[] r)
    {
        Shapes.SameLength(x, r, "Relu", "x", "result");
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            for (; i + vc <= e; i += vc)
            {
                var v = new Vector<float>(x, i);
                Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<float>.Zero), v, Vector<float>.Zero).CopyTo(r, i);
            }
            for (; i < e; i++) r[i] = x[i] > 0 ? x[i] : 0f;
        });
    }

    /// <summary>dy where x &gt; 0, else 0.</summary>
    public float[] ReluBackward(float[] x, float[] dy)
    {
        Shapes.SameLength(x, dy, "ReluBackward", "x", "dy");
        var r = new float[x.Length];
        ReluBackwardInto(x, dy, r);
        return r;
    }

    /// <summary>r = dy where x &gt; 0, else 0 (r as long as x).</summary>
    internal void ReluBackwardInto(float[] x, float[] dy, float[] r)
    {
        Shapes.SameLength(x, dy, "ReluBackward", "x", "dy");
        Shapes.SameLength(x, r, "ReluBackward", "x", "result");
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            for (; i + vc <= e; i += vc)
                Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(x, i), Vector<float>.Zero), new Vector<float>(dy, i), Vector<float>.Zero).CopyTo(r, i);
            for (; i < e; i++) r[i] = x[i] > 0 ? dy[i] : 0f;
        });
    }

    /// <summary>x[r, c] + bias[c] (a new tensor).</summary>
    public DenseTensor AddBiasPerColumn(DenseTensor x, float[] bias)
    {
        Shapes.RowBias(x, bias);
        int rows = x.Rows, cols = x.Cols;
        var result = DenseTensor.Zeros(rows, cols);
        if (rows == 0 || cols == 0) return result;
        float[] xd = x.HostData, rd = result.HostData;
        int rowsPerChunk = Math.Max(1, ElementwiseChunk / cols);
        Chunks(rows, (r0, r1) =>
        {
            int vc = VC;
            for (int i = r0; i < r1; i++)
            {
                int o = i * cols, j = 0;
                for (; j + vc <= cols; j += vc) (new Vector<float>(xd, o + j) + new Vector<float>(bias, j)).CopyTo(rd, o + j);
                for (; j < cols; j++) rd[o + j] = xd[o + j] + bias[j];
            }
        }, rowsPerChunk);
        return result;
    }
}
