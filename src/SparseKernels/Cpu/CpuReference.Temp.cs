// TEMPORARY stand-ins so the kernel branch compiles and its tests have a reference; THE MERGER DELETES
// THIS FILE. The real CpuReference (src/SparseKernels/Cpu/CpuReference.cs), CsrMatrix.Transpose() and
// SmtxFile.Read come from the CPU branch with the same contract signatures. After deleting this file,
// replace in tests/SparseKernels.Tests/Ops/*.cs:  .TransposeTemp() -> .Transpose(),
// SmtxFileTemp.Read(...) -> SmtxFile.Read(...).
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>TEMPORARY: plain-loop reference (double accumulation), only the members the kernel tests use.</summary>
public static partial class CpuReference
{
    public static DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        if (a.Cols != b.Rows) throw new ArgumentException($"SpmmCsr: A is {a.Rows}x{a.Cols} but B is {b.Rows}x{b.Cols}.");
        int n = b.Cols;
        var c = new float[(long)a.Rows * n];
        var acc = new double[n];
        for (int r = 0; r < a.Rows; r++)
        {
            Array.Clear(acc);
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++)
                for (int j = 0; j < n; j++) acc[j] += (double)a.Values[p] * b.HostData[(long)a.ColumnIndices[p] * n + j];
            for (int j = 0; j < n; j++) c[(long)r * n + j] = (float)acc[j];
        }
        return DenseTensor.FromArray(a.Rows, n, c);
    }

    public static DenseTensor SpmmCsrTransposed(CsrMatrix a, DenseTensor b)
    {
        if (a.Rows != b.Rows) throw new ArgumentException($"SpmmCsrTransposed: A is {a.Rows}x{a.Cols} but B is {b.Rows}x{b.Cols}.");
        int n = b.Cols;
        var acc = new double[(long)a.Cols * n];
        for (int r = 0; r < a.Rows; r++)
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++)
                for (int j = 0; j < n; j++) acc[(long)a.ColumnIndices[p] * n + j] += (double)a.Values[p] * b.HostData[(long)r * n + j];
        return DenseTensor.FromArray(a.Cols, n, Array.ConvertAll(acc, v => (float)v));
    }

    public static CsrMatrix SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        if (x.Rows != pattern.Rows || y.Rows != pattern.Cols || x.Cols != y.Cols)
            throw new ArgumentException($"SddmmCsr: pattern {pattern.Rows}x{pattern.Cols}, X {x.Rows}x{x.Cols}, Y {y.Rows}x{y.Cols}.");
        int k = x.Cols;
        var values = new float[pattern.Nnz];
        for (int r = 0; r < pattern.Rows; r++)
            for (int p = pattern.RowOffsets[r]; p < pattern.RowOffsets[r + 1]; p++)
            {
                double s = 0;
                long xo = (long)r * k, yo = (long)pattern.ColumnIndices[p] * k;
                for (int t = 0; t < k; t++) s += (double)x.HostData[xo + t] * y.HostData[yo + t];
                values[p] = (float)s;
            }
        return new CsrMatrix(pattern.Rows, pattern.Cols, pattern.RowOffsets, pattern.ColumnIndices, values);
    }

    public static float[] Add(float[] a, float[] b) => Zip(a, b, (x, y) => (float)((double)x + y));
    public static float[] Mul(float[] a, float[] b) => Zip(a, b, (x, y) => (float)((double)x * y));
    public static float[] Scale(float alpha, float[] x) => Array.ConvertAll(x, v => (float)((double)alpha * v));
    public static float[] Axpy(float alpha, float[] x, float[] y) => Zip(x, y, (xv, yv) => (float)(yv + (double)alpha * xv));
    public static float[] Relu(float[] x) => Array.ConvertAll(x, v => v > 0 ? v : 0f);
    public static float[] ReluBackward(float[] x, float[] dy) => Zip(x, dy, (xv, d) => xv > 0 ? d : 0f);

    public static DenseTensor AddRowBias(DenseTensor x, float[] bias)
    {
        if (bias.Length != x.Cols) throw new ArgumentException($"AddRowBias: bias has {bias.Length} elements, x is {x.Rows}x{x.Cols}.");
        var o = new float[x.Length];
        for (long i = 0; i < o.Length; i++) o[i] = (float)((double)x.HostData[i] + bias[i % x.Cols]);
        return DenseTensor.FromArray(x.Rows, x.Cols, o);
    }

    private static float[] Zip(float[] a, float[] b, Func<float, float, float> f)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Lengths {a.Length} and {b.Length} differ.");
        var o = new float[a.Length];
        for (int i = 0; i < o.Length; i++) o[i] = f(a[i], b[i]);
        return o;
    }
}

/// <summary>TEMPORARY: host CSR transpose (the real one is CsrMatrix.Transpose()).</summary>
public static class CsrTransposeTemp
{
    public static CsrMatrix TransposeTemp(this CsrMatrix a)
    {
        var counts = new int[a.Cols + 1];
        foreach (int c in a.ColumnIndices) counts[c + 1]++;
        for (int c = 0; c < a.Cols; c++) counts[c + 1] += counts[c];
        var next = (int[])counts.Clone();
        var ci = new int[a.Nnz];
        var v = new float[a.Nnz];
        for (int r = 0; r < a.Rows; r++)
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++)
            {
                int q = next[a.ColumnIndices[p]]++;
                ci[q] = r; v[q] = a.Values[p];
            }
        return new CsrMatrix(a.Cols, a.Rows, counts, ci, v);
    }
}

/// <summary>TEMPORARY: .smtx reader (the real one is SmtxFile.Read). Values: random non-zero from <paramref name="values"/>.</summary>
public static class SmtxFileTemp
{
    public static CsrMatrix Read(string path, Random? values = null)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length < 3) throw new FormatException($"{path}: expected 3 lines, found {lines.Length}.");
        var head = lines[0].Split(',', StringSplitOptions.TrimEntries);
        int rows = int.Parse(head[0]), cols = int.Parse(head[1]), nnz = int.Parse(head[2]);
        static int[] Ints(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var ro = Ints(lines[1]);
        var ci = nnz == 0 ? [] : Ints(lines[2]);
        var rng = values ?? new Random(1);
        var v = new float[ci.Length];
        for (int i = 0; i < v.Length; i++) { float m = 0.05f + 0.95f * rng.NextSingle(); v[i] = rng.Next(2) == 0 ? -m : m; }
        return new CsrMatrix(rows, cols, ro, ci, v);
    }
}
