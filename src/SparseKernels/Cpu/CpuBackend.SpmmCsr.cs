using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>SpMM (CSR times dense, and its transposed form) of the CPU backend.</summary>
public sealed partial class CpuBackend
{
    // ---------------------------------------------------------------- SpMM

    /// <summary>A[MxK, CSR] . B[KxN] -> MxN: per row, per nonzero, y_row += v * B_row, with the output tile in registers.</summary>
    public DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        Shapes.SpmmCsr(a, b);
        // Every element of the output is written by SpmmRows (empty rows get zeros), so it need not be cleared.
        DenseTensor.CheckShape(a.Rows, b.Cols);
        var c = DenseTensor.FromArray(a.Rows, b.Cols, GC.AllocateUninitializedArray<float>(a.Rows * b.Cols));
        SpmmCore(a.Rows, a.Cols, a.RowOffsets, a.ColumnIndices, a.Values, b.HostData, b.Cols, c.HostData);
        return c;
    }

    /// <summary>
    /// A^T . B where A is MxK (CSR) and B is MxN -> KxN. Forms the transpose of A per call (a counting sort,
    /// O(nnz + M + K), at most 1/N of the multiply's work) and runs the row-parallel SpMM on it: every output row
    /// then has one writer, so there are no races and no atomics. The transpose is not cached because the value
    /// array of a CsrMatrix is mutable (training updates weights in place) and a cache would go stale silently.
    /// </summary>
    public DenseTensor SpmmCsrTransposed(CsrMatrix a, DenseTensor b)
    {
        Shapes.SpmmCsrTransposed(a, b);
        CheckColumns(a);
        var tOffsets = new int[a.Cols + 1];
        var tCols = new int[a.Nnz];
        var tValues = new float[a.Nnz];
        CsrMatrix.TransposeInto(a.Rows, a.Cols, a.RowOffsets, a.ColumnIndices, a.Values, tOffsets, tCols, tValues);
        var c = DenseTensor.Zeros(a.Cols, b.Cols);
        SpmmCore(a.Cols, a.Rows, tOffsets, tCols, tValues, b.HostData, b.Cols, c.HostData);
        return c;
    }

    private static void CheckColumns(CsrMatrix a)
    {
        var ro = a.RowOffsets; var ci = a.ColumnIndices;
        if (ro.Length != a.Rows + 1 || ro[a.Rows] != ci.Length || a.Values.Length != ci.Length)
            throw new CsrFormatException($"The arrays of this {a.Rows}x{a.Cols} CSR matrix were changed after validation.");
        foreach (int col in ci)
            if ((uint)col >= (uint)a.Cols)
                throw new CsrFormatException($"CSR column index {col} is out of range [0, {a.Cols}) (the arrays were changed after validation).", -1, -1, CsrArray.ColumnIndices);
    }

    /// <summary>Splits [0, rows) into about <paramref name="parts"/> ranges of similar work (nnz + rows).</summary>
    internal static int[] BalancedRowRanges(int[] rowOffsets, int rows, int parts)
    {
        parts = Math.Max(1, Math.Min(parts, rows));
        long total = (long)rowOffsets[rows] + rows;
        var bounds = new int[parts + 1];
        int r = 0;
        for (int t = 1; t < parts; t++)
        {
            long target = total * t / parts;
            // first row r with rowOffsets[r] + r >= target (rows scanned once overall)
            while (r < rows && (long)rowOffsets[r] + r < target) r++;
            bounds[t] = r;
        }
        bounds[parts] = rows;
        return bounds;
    }

    private void SpmmCore(int rows, int k, int[] ro, int[] ci, float[] v, float[] b, int n, float[] c)
    {
        if (rows == 0 || n == 0) return;
        if (ro.Length != rows + 1 || ro[rows] > ci.Length || ro[rows] > v.Length)
            throw new CsrFormatException($"The arrays of this {rows}x{k} CSR matrix were changed after validation.");
        int parts = Math.Max(1, MaxDegreeOfParallelism) * 8;
        int[] bounds = BalancedRowRanges(ro, rows, parts);
        int count = bounds.Length - 1;
        if (count == 1 || (long)ro[rows] * n < 32_768)
        {
            SpmmRows(0, rows, k, ro, ci, v, b, n, c);
            return;
        }
        Parallel.For(0, count, Options, t => SpmmRows(bounds[t], bounds[t + 1], k, ro, ci, v, b, n, c));
    }

    private static void SpmmRows(int r0, int r1, int k, int[] ro, int[] ci, float[] v, float[] b, int n, float[] c)
    {
        ref int CI = ref MemoryMarshal.GetArrayDataReference(ci);
        for (int i = r0; i < r1; i++)
        {
            int start = ro[i], end = ro[i + 1];
            if (start < 0 || end < start || end > ci.Length || end > v.Length)
                throw new CsrFormatException($"CSR row {i} spans [{start}, {end}), outside the {ci.Length} column indices (the arrays were changed after validation).", i, i + 1, CsrArray.RowOffsets);
            for (int p = start; p < end; p++)
                if ((uint)Unsafe.Add(ref CI, p) >= (uint)k)
                    throw new CsrFormatException($"CSR column index {ci[p]} at position {p} (row {i}) is out of range [0, {k}) (the arrays were changed after validation).", i, p, CsrArray.ColumnIndices);
        }
        // Column panels outermost: while a panel is processed for this block of rows, only a K x panel slice of
        // B is live, which stays in L2 for the DLMC sizes (K = 2048: 512 KB) instead of whole rows of B.
        int panel = 8 * VC, full = n - n % panel;
        for (int j = 0; j < full; j += panel)
            for (int i = r0; i < r1; i++) SpmmPanel8(ro[i], ro[i + 1], ci, v, b, n, c, (long)i * n, j);
        if (full < n)
            for (int i = r0; i < r1; i++) SpmmTail(ro[i], ro[i + 1], ci, v, b, n, c, (long)i * n, full);
    }

    /// <summary>C[row, j .. j + 8 vectors) = sum over the row's nonzeros of v * B[col, j ..): 8 accumulators in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SpmmPanel8(int start, int end, int[] ci, float[] v, float[] b, int n, float[] c, long crow, int j)
    {
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref int CI = ref MemoryMarshal.GetArrayDataReference(ci);
        ref float V = ref MemoryMarshal.GetArrayDataReference(v);
        int vc = VC;
        Vector<float> x0 = default, x1 = default, x2 = default, x3 = default, x4 = default, x5 = default, x6 = default, x7 = default;
        for (int p = start; p < end; p++)
        {
            var s = new Vector<float>(Unsafe.Add(ref V, p));
            ref float br = ref Unsafe.Add(ref B, (nint)((long)Unsafe.Add(ref CI, p) * n + j));
            x0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br), s, x0);
            x1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)vc), s, x1);
            x2 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(2 * vc)), s, x2);
            x3 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(3 * vc)), s, x3);
            x4 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(4 * vc)), s, x4);
            x5 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(5 * vc)), s, x5);
            x6 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(6 * vc)), s, x6);
            x7 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(7 * vc)), s, x7);
        }
        ref float cr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(c), (nint)(crow + j));
        x0.StoreUnsafe(ref cr); x1.StoreUnsafe(ref cr, (nuint)vc);
        x2.StoreUnsafe(ref cr, (nuint)(2 * vc)); x3.StoreUnsafe(ref cr, (nuint)(3 * vc));
        x4.StoreUnsafe(ref cr, (nuint)(4 * vc)); x5.StoreUnsafe(ref cr, (nuint)(5 * vc));
        x6.StoreUnsafe(ref cr, (nuint)(6 * vc)); x7.StoreUnsafe(ref cr, (nuint)(7 * vc));
    }

    /// <summary>The columns [j0, n) of one output row that do not fill a panel: 4 vectors, 1 vector, then scalars.</summary>
    private static void SpmmTail(int start, int end, int[] ci, float[] v, float[] b, int n, float[] c, long crow, int j0)
    {
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        ref int CI = ref MemoryMarshal.GetArrayDataReference(ci);
        ref float V = ref MemoryMarshal.GetArrayDataReference(v);
        int vc = VC, j = j0;
        for (; j + 4 * vc <= n; j += 4 * vc)
        {
            Vector<float> x0 = default, x1 = default, x2 = default, x3 = default;
            for (int p = start; p < end; p++)
            {
                var s = new Vector<float>(Unsafe.Add(ref V, p));
                ref float br = ref Unsafe.Add(ref B, (nint)((long)Unsafe.Add(ref CI, p) * n + j));
                x0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br), s, x0);
                x1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)vc), s, x1);
                x2 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(2 * vc)), s, x2);
                x3 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref br, (nuint)(3 * vc)), s, x3);
            }
            ref float cr = ref Unsafe.Add(ref C, (nint)(crow + j));
            x0.StoreUnsafe(ref cr); x1.StoreUnsafe(ref cr, (nuint)vc);
            x2.StoreUnsafe(ref cr, (nuint)(2 * vc)); x3.StoreUnsafe(ref cr, (nuint)(3 * vc));
        }
        for (; j + vc <= n; j += vc)
        {
            Vector<float> x0 = default;
            for (int p = start; p < end; p++)
                x0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref B, (nuint)((long)Unsafe.Add(ref CI, p) * n + j)), new Vector<float>(Unsafe.Add(ref V, p)), x0);
            x0.StoreUnsafe(ref C, (nuint)(crow + j));
        }
        for (; j < n; j++)
        {
            float acc = 0;
            for (int p = start; p < end; p++)
                acc = MathF.FusedMultiplyAdd(Unsafe.Add(ref V, p), Unsafe.Add(ref B, (nuint)((long)Unsafe.Add(ref CI, p) * n + j)), acc);
            Unsafe.Add(ref C, (nuint)(crow + j)) = acc;
        }
    }
}
