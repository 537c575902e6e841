using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>
/// The plainest possible loops, accumulating in double: the reference every kernel and
/// <see cref="CpuBackend"/> is tested against. Single-threaded and slow on purpose.
/// </summary>
internal static partial class CpuReference
{
    /// <summary>op(a) . op(b), where op transposes when asked. op(a) is MxK, op(b) is KxN.</summary>
    public static DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transposeA = false, bool transposeB = false)
    {
        var (m, k, n) = Shapes.DenseGemm(a, b, transposeA, transposeB);
        var c = DenseTensor.Zeros(m, n);
        float[] ad = a.HostData, bd = b.HostData, cd = c.HostData;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? ad[(long)p * a.Cols + i] : ad[(long)i * a.Cols + p];
                    float bv = transposeB ? bd[(long)j * b.Cols + p] : bd[(long)p * b.Cols + j];
                    sum += (double)av * bv;
                }
                cd[(long)i * n + j] = (float)sum;
            }
        return c;
    }

    /// <summary>A[MxK, CSR] . B[KxN] -> MxN.</summary>
    public static DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        Shapes.SpmmCsr(a, b);
        int n = b.Cols;
        var c = DenseTensor.Zeros(a.Rows, n);
        int[] ro = a.RowOffsets, ci = a.ColumnIndices;
        float[] v = a.Values, bd = b.HostData, cd = c.HostData;
        var acc = new double[n];
        for (int i = 0; i < a.Rows; i++)
        {
            Array.Clear(acc);
            for (int p = ro[i]; p < ro[i + 1]; p++)
                for (int j = 0; j < n; j++)
                    acc[j] += (double)v[p] * bd[(long)ci[p] * n + j];
            for (int j = 0; j < n; j++) cd[(long)i * n + j] = (float)acc[j];
        }
        return c;
    }

    /// <summary>A^T . B where A is MxK (CSR) and B is MxN -> KxN.</summary>
    public static DenseTensor SpmmCsrTransposed(CsrMatrix a, DenseTensor b)
    {
        Shapes.SpmmCsrTransposed(a, b);
        int n = b.Cols;
        var acc = new double[(long)a.Cols * n];
        int[] ro = a.RowOffsets, ci = a.ColumnIndices;
        float[] v = a.Values, bd = b.HostData;
        for (int i = 0; i < a.Rows; i++)
            for (int p = ro[i]; p < ro[i + 1]; p++)
                for (int j = 0; j < n; j++)
                    acc[(long)ci[p] * n + j] += (double)v[p] * bd[(long)i * n + j];
        var c = DenseTensor.Zeros(a.Cols, n);
        float[] cd = c.HostData;
        for (long t = 0; t < acc.Length; t++) cd[t] = (float)acc[t];
        return c;
    }

    /// <summary>For each nonzero (i, j) of the MxN pattern: sum_k X[i,k] * Y[j,k]; X is MxK, Y is NxK.</summary>
    public static CsrMatrix SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        Shapes.SddmmCsr(pattern, x, y);
        int k = x.Cols;
        int[] ro = pattern.RowOffsets, ci = pattern.ColumnIndices;
        float[] xd = x.HostData, yd = y.HostData;
        var values = new float[pattern.Nnz];
        for (int i = 0; i < pattern.Rows; i++)
            for (int p = ro[i]; p < ro[i + 1]; p++)
            {
                double sum = 0;
                for (int t = 0; t < k; t++) sum += (double)xd[(long)i * k + t] * yd[(long)ci[p] * k + t];
                values[p] = (float)sum;
            }
        return pattern.WithValues(values);
    }

    public static float[] Add(float[] a, float[] b)
    {
        Shapes.SameLength(a, b, "Add");
        var r = new float[a.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)((double)a[i] + b[i]);
        return r;
    }

    public static float[] Mul(float[] a, float[] b)
    {
        Shapes.SameLength(a, b, "Mul");
        var r = new float[a.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)((double)a[i] * b[i]);
        return r;
    }

    public static float[] Scale(float alpha, float[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = new float[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)((double)alpha * x[i]);
        return r;
    }

    /// <summary>y + alpha * x (a new array).</summary>
    public static float[] Axpy(float alpha, float[] x, float[] y)
    {
        Shapes.SameLength(x, y, "Axpy", "x", "y");
        var r = new float[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)((double)y[i] + (double)alpha * x[i]);
        return r;
    }

    public static float[] Relu(float[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = new float[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = x[i] > 0 ? x[i] : 0f;
        return r;
    }

    /// <summary>dy where x &gt; 0, else 0.</summary>
    public static float[] ReluBackward(float[] x, float[] dy)
    {
        Shapes.SameLength(x, dy, "ReluBackward", "x", "dy");
        var r = new float[x.Length];
        for (int i = 0; i < r.Length; i++) r[i] = x[i] > 0 ? dy[i] : 0f;
        return r;
    }

    /// <summary>x[r, c] + bias[c] (a new tensor).</summary>
    public static DenseTensor AddBiasPerColumn(DenseTensor x, float[] bias)
    {
        Shapes.RowBias(x, bias);
        var r = DenseTensor.Zeros(x.Rows, x.Cols);
        float[] xd = x.HostData, rd = r.HostData;
        for (int i = 0; i < x.Rows; i++)
            for (int j = 0; j < x.Cols; j++)
                rd[(long)i * x.Cols + j] = (float)((double)xd[(long)i * x.Cols + j] + bias[j]);
        return r;
    }
}
