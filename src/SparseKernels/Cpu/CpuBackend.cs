using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>
/// The fast CPU path: multithreaded (Parallel.For over row blocks balanced by work) with inner loops
/// vectorised by <see cref="Vector{T}"/> and fused multiply-adds. Accumulates in float, so results differ from
/// <see cref="CpuReference"/> by rounding only. The CPU fallback of the engine and the benchmarks' baseline.
/// </summary>
/// <remarks>
/// Inner loops read through <see cref="Unsafe"/> refs (no raw pointers) after the shapes are checked at the
/// boundary; column indices of CSR inputs are re-checked as they are read, because the arrays of a
/// <see cref="CsrMatrix"/> are mutable after its validation.
/// </remarks>
public static partial class CpuBackend
{
    /// <summary>Parallelism used by every operation (defaults to all cores).</summary>
    public static int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    private static ParallelOptions Options => new() { MaxDegreeOfParallelism = Math.Max(1, MaxDegreeOfParallelism) };

    private static int VC => Vector<float>.Count;

    // ---------------------------------------------------------------- dense matmul

    private const int MatmulRowBlock = 32, MatmulKBlock = 256, MatmulNBlock = 512;

    /// <summary>op(a) . op(b): a cache-blocked, register-tiled (4 rows x 2 vectors) kernel for every transpose combination.</summary>
    public static DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transposeA = false, bool transposeB = false)
    {
        var (m, k, n) = Shapes.DenseGemm(a, b, transposeA, transposeB);
        // Bring both operands to row-major op(a) MxK and op(b) KxN: O(MK + KN) copies beside O(MNK) work,
        // after which one well-tuned kernel serves all four combinations.
        float[] ad = transposeA ? TransposeDense(a.HostData, a.Rows, a.Cols) : a.HostData;
        float[] bd = transposeB ? TransposeDense(b.HostData, b.Rows, b.Cols) : b.HostData;
        var c = DenseTensor.Zeros(m, n);
        if (m == 0 || n == 0 || k == 0) return c;
        float[] cd = c.HostData;
        int blocks = (m + MatmulRowBlock - 1) / MatmulRowBlock;
        Parallel.For(0, blocks, Options, blk =>
        {
            int i0 = blk * MatmulRowBlock, i1 = Math.Min(m, i0 + MatmulRowBlock);
            for (int k0 = 0; k0 < k; k0 += MatmulKBlock)
            {
                int k1 = Math.Min(k, k0 + MatmulKBlock);
                for (int j0 = 0; j0 < n; j0 += MatmulNBlock)
                {
                    int j1 = Math.Min(n, j0 + MatmulNBlock);
                    int i = i0;
                    for (; i + 4 <= i1; i += 4) MatmulRows4(ad, bd, cd, k, n, i, k0, k1, j0, j1);
                    for (; i < i1; i++) MatmulRow1(ad, bd, cd, k, n, i, k0, k1, j0, j1);
                }
            }
        });
        return c;
    }

    private static float[] TransposeDense(float[] src, int rows, int cols)
    {
        var dst = new float[src.Length];
        DenseTensor.TransposeInto(src, rows, cols, dst);
        return dst;
    }

    private static void MatmulRows4(float[] a, float[] b, float[] c, int k, int n, int i, int k0, int k1, int j0, int j1)
    {
        ref float A = ref MemoryMarshal.GetArrayDataReference(a);
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        int vc = VC;
        nuint a0 = (nuint)((long)i * k), a1 = a0 + (nuint)k, a2 = a1 + (nuint)k, a3 = a2 + (nuint)k;
        nuint c0 = (nuint)((long)i * n), c1 = c0 + (nuint)n, c2 = c1 + (nuint)n, c3 = c2 + (nuint)n;
        int j = j0;
        for (; j + 2 * vc <= j1; j += 2 * vc)
        {
            nuint jj = (nuint)j, jv = jj + (nuint)vc;
            var x00 = Vector.LoadUnsafe(ref C, c0 + jj); var x01 = Vector.LoadUnsafe(ref C, c0 + jv);
            var x10 = Vector.LoadUnsafe(ref C, c1 + jj); var x11 = Vector.LoadUnsafe(ref C, c1 + jv);
            var x20 = Vector.LoadUnsafe(ref C, c2 + jj); var x21 = Vector.LoadUnsafe(ref C, c2 + jv);
            var x30 = Vector.LoadUnsafe(ref C, c3 + jj); var x31 = Vector.LoadUnsafe(ref C, c3 + jv);
            for (int p = k0; p < k1; p++)
            {
                nuint bo = (nuint)((long)p * n) + jj;
                var b0 = Vector.LoadUnsafe(ref B, bo);
                var b1 = Vector.LoadUnsafe(ref B, bo + (nuint)vc);
                nuint pp = (nuint)p;
                var s = new Vector<float>(Unsafe.Add(ref A, a0 + pp));
                x00 = Vector.FusedMultiplyAdd(b0, s, x00); x01 = Vector.FusedMultiplyAdd(b1, s, x01);
                s = new Vector<float>(Unsafe.Add(ref A, a1 + pp));
                x10 = Vector.FusedMultiplyAdd(b0, s, x10); x11 = Vector.FusedMultiplyAdd(b1, s, x11);
                s = new Vector<float>(Unsafe.Add(ref A, a2 + pp));
                x20 = Vector.FusedMultiplyAdd(b0, s, x20); x21 = Vector.FusedMultiplyAdd(b1, s, x21);
                s = new Vector<float>(Unsafe.Add(ref A, a3 + pp));
                x30 = Vector.FusedMultiplyAdd(b0, s, x30); x31 = Vector.FusedMultiplyAdd(b1, s, x31);
            }
            x00.StoreUnsafe(ref C, c0 + jj); x01.StoreUnsafe(ref C, c0 + jv);
            x10.StoreUnsafe(ref C, c1 + jj); x11.StoreUnsafe(ref C, c1 + jv);
            x20.StoreUnsafe(ref C, c2 + jj); x21.StoreUnsafe(ref C, c2 + jv);
            x30.StoreUnsafe(ref C, c3 + jj); x31.StoreUnsafe(ref C, c3 + jv);
        }
        if (j < j1)
            for (int r = 0; r < 4; r++) MatmulRow1(a, b, c, k, n, i + r, k0, k1, j, j1);
    }

    private static void MatmulRow1(float[] a, float[] b, float[] c, int k, int n, int i, int k0, int k1, int j0, int j1)
    {
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        int vc = VC;
        nuint crow = (nuint)((long)i * n);
        long arow = (long)i * k;
        int j = j0;
        for (; j + vc <= j1; j += vc)
        {
            var acc = Vector.LoadUnsafe(ref C, crow + (nuint)j);
            for (int p = k0; p < k1; p++)
                acc = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref B, (nuint)((long)p * n + j)), new Vector<float>(a[arow + p]), acc);
            acc.StoreUnsafe(ref C, crow + (nuint)j);
        }
        for (; j < j1; j++)
        {
            float acc = Unsafe.Add(ref C, crow + (nuint)j);
            for (int p = k0; p < k1; p++) acc = MathF.FusedMultiplyAdd(a[arow + p], b[(long)p * n + j], acc);
            Unsafe.Add(ref C, crow + (nuint)j) = acc;
        }
    }

    // ---------------------------------------------------------------- SpMM

    /// <summary>A[MxK, CSR] . B[KxN] -> MxN: per row, per nonzero, y_row += v * B_row, with the output tile in registers.</summary>
    public static DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
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
    public static DenseTensor SpmmCsrTransposed(CsrMatrix a, DenseTensor b)
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

    private static void SpmmCore(int rows, int k, int[] ro, int[] ci, float[] v, float[] b, int n, float[] c)
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

    // ---------------------------------------------------------------- SDDMM

    /// <summary>For each nonzero (i, j) of the MxN pattern: dot(X[i,:], Y[j,:]), vectorised over K; rows in parallel.</summary>
    public static CsrMatrix SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        Shapes.SddmmCsr(pattern, x, y);
        CheckColumns(pattern);
        int rows = pattern.Rows, k = x.Cols;
        int[] ro = pattern.RowOffsets, ci = pattern.ColumnIndices;
        float[] xd = x.HostData, yd = y.HostData;
        var values = new float[pattern.Nnz];
        int[] bounds = BalancedRowRanges(ro, rows, Math.Max(1, MaxDegreeOfParallelism) * 8);
        void Rows(int r0, int r1)
        {
            for (int i = r0; i < r1; i++)
            {
                var xr = new ReadOnlySpan<float>(xd, i * k, k);
                for (int p = ro[i]; p < ro[i + 1]; p++)
                    values[p] = Dot(xr, new ReadOnlySpan<float>(yd, ci[p] * k, k));
            }
        }
        if (rows == 0) return pattern.WithValues(values);
        if (bounds.Length == 2 || (long)pattern.Nnz * k < 32_768) Rows(0, rows);
        else Parallel.For(0, bounds.Length - 1, Options, t => Rows(bounds[t], bounds[t + 1]));
        return pattern.WithValues(values);
    }

    private static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        ref float X = ref MemoryMarshal.GetReference(x);
        ref float Y = ref MemoryMarshal.GetReference(y);
        int k = x.Length, vc = VC, t = 0;
        Vector<float> s0 = default, s1 = default;
        for (; t + 2 * vc <= k; t += 2 * vc)
        {
            s0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref X, (nuint)t), Vector.LoadUnsafe(ref Y, (nuint)t), s0);
            s1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref X, (nuint)(t + vc)), Vector.LoadUnsafe(ref Y, (nuint)(t + vc)), s1);
        }
        for (; t + vc <= k; t += vc)
            s0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref X, (nuint)t), Vector.LoadUnsafe(ref Y, (nuint)t), s0);
        float sum = Vector.Sum(s0 + s1);
        for (; t < k; t++) sum = MathF.FusedMultiplyAdd(x[t], y[t], sum);
        return sum;
    }

    // ---------------------------------------------------------------- elementwise

    private const int ElementwiseChunk = 1 << 16;

    /// <summary>Runs body over [0, length) in chunks, in parallel when the array is large.</summary>
    private static void Chunks(int length, Action<int, int> body, int chunk = ElementwiseChunk)
    {
        if (length <= 4 * chunk || MaxDegreeOfParallelism <= 1) { body(0, length); return; }
        int count = (length + chunk - 1) / chunk;
        Parallel.For(0, count, Options, t => body(t * chunk, (int)Math.Min(length, (long)(t + 1) * chunk)));
    }

    public static float[] Add(float[] a, float[] b)
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

    public static float[] Mul(float[] a, float[] b)
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

    public static float[] Scale(float alpha, float[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = new float[x.Length];
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            var va = new Vector<float>(alpha);
            for (; i + vc <= e; i += vc) (new Vector<float>(x, i) * va).CopyTo(r, i);
            for (; i < e; i++) r[i] = alpha * x[i];
        });
        return r;
    }

    /// <summary>y + alpha * x (a new array).</summary>
    public static float[] Axpy(float alpha, float[] x, float[] y)
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

    public static float[] Relu(float[] x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var r = new float[x.Length];
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
        return r;
    }

    /// <summary>dy where x &gt; 0, else 0.</summary>
    public static float[] ReluBackward(float[] x, float[] dy)
    {
        Shapes.SameLength(x, dy, "ReluBackward", "x", "dy");
        var r = new float[x.Length];
        Chunks(r.Length, (s, e) =>
        {
            int i = s, vc = VC;
            for (; i + vc <= e; i += vc)
                Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(x, i), Vector<float>.Zero), new Vector<float>(dy, i), Vector<float>.Zero).CopyTo(r, i);
            for (; i < e; i++) r[i] = x[i] > 0 ? dy[i] : 0f;
        });
        return r;
    }

    /// <summary>x[r, c] + bias[c] (a new tensor).</summary>
    public static DenseTensor AddBiasPerColumn(DenseTensor x, float[] bias)
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
