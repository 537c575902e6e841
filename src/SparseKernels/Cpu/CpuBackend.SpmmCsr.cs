using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>The numbered versions of the CPU backend's SpMM and SDDMM kernels (each tested against <see cref="CpuReference"/>).</summary>
internal enum CpuKernel
{
    /// <summary>Vector{T} loops, 8-vector column panels; the transposed SpMM transposes A per call.</summary>
    V1 = 1,
    /// <summary>Vector512 where accelerated (else Vector256), panels sized to L2, a cached transpose for A^T.B.</summary>
    V2 = 2,
}

/// <summary>SpMM (CSR times dense, and its transposed form) of the CPU backend.</summary>
public sealed partial class CpuBackend
{
    // ---------------------------------------------------------------- SpMM

    /// <summary>A[MxK, CSR] . B[KxN] -> a new MxN tensor (calls <see cref="SpmmCsrInto(CsrMatrix, DenseTensor, DenseTensor)"/>).</summary>
    public DenseTensor SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        Shapes.SpmmCsr(a, b);
        // Every element of the output is written by the kernel (empty rows get zeros), so it need not be cleared.
        DenseTensor.CheckShape(a.Rows, b.Cols);
        var c = DenseTensor.FromArray(a.Rows, b.Cols, GC.AllocateUninitializedArray<float>(a.Rows * b.Cols));
        SpmmCsrInto(a, b, c);
        return c;
    }

    /// <summary>
    /// C = A[MxK, CSR] . B[KxN], written into the caller's MxN tensor <paramref name="c"/> (every element is
    /// overwritten; its old contents do not matter). Allocates nothing after the first calls: the training loop and
    /// the embeddings use it with buffers they reuse. Rows are split into chunks of similar work (nonzeros + rows)
    /// run by the calling thread and the backend's persistent workers; a small problem stays on the calling thread.
    /// </summary>
    /// <exception cref="ArgumentException">A shape does not match, a tensor lives on a device, or c shares b's array.</exception>
    /// <exception cref="CsrFormatException">The arrays of <paramref name="a"/> were made invalid after its validation.</exception>
    public void SpmmCsrInto(CsrMatrix a, DenseTensor b, DenseTensor c) => SpmmCsrInto(a, b, c, CpuKernel.V2);

    internal void SpmmCsrInto(CsrMatrix a, DenseTensor b, DenseTensor c, CpuKernel version)
    {
        Shapes.SpmmCsrInto(a, b, c);
        Spmm(a.Rows, a.Cols, a.RowOffsets, a.ColumnIndices, a.Values, null, b.HostData, b.Cols, c.HostData, version);
    }

    /// <summary>
    /// A^T . B where A is MxK (CSR) and B is MxN -> a new KxN tensor (calls
    /// <see cref="SpmmCsrTransposedInto(CsrMatrix, DenseTensor, DenseTensor)"/>).
    /// </summary>
    public DenseTensor SpmmCsrTransposed(CsrMatrix a, DenseTensor b)
    {
        Shapes.SpmmCsrTransposed(a, b);
        DenseTensor.CheckShape(a.Cols, b.Cols);
        var c = DenseTensor.FromArray(a.Cols, b.Cols, GC.AllocateUninitializedArray<float>(a.Cols * b.Cols));
        SpmmCsrTransposedInto(a, b, c);
        return c;
    }

    /// <summary>
    /// C = A^T . B where A is MxK (CSR) and B is MxN, written into the caller's KxN tensor <paramref name="c"/>
    /// (every element overwritten). Runs the row-parallel SpMM over the pattern of A^T, so every output row has
    /// one writer (no scatter, no atomics). The pattern of A^T (offsets, row indices and the position of each
    /// nonzero in A) is built once per matrix and cached with it; each call checks the cache against A's current
    /// row offsets and column indices (a copy compared element by element, O(nnz)) and rebuilds it when the pattern
    /// was changed in place. Values are read from A at every call, so updating them in place needs nothing.
    /// The cache holds about 4 ints per nonzero beside the matrix.
    /// </summary>
    /// <exception cref="ArgumentException">A shape does not match, a tensor lives on a device, or c shares b's array.</exception>
    /// <exception cref="CsrFormatException">The arrays of <paramref name="a"/> were made invalid after its validation.</exception>
    public void SpmmCsrTransposedInto(CsrMatrix a, DenseTensor b, DenseTensor c) => SpmmCsrTransposedInto(a, b, c, CpuKernel.V2);

    internal void SpmmCsrTransposedInto(CsrMatrix a, DenseTensor b, DenseTensor c, CpuKernel version)
    {
        Shapes.SpmmCsrTransposedInto(a, b, c);
        if (version == CpuKernel.V1)
        {
            // V1: the transpose formed per call (a counting sort, O(nnz + M + K)), then the row-parallel SpMM.
            CheckColumns(a);
            var tOffsets = new int[a.Cols + 1];
            var tCols = new int[a.Nnz];
            var tValues = new float[a.Nnz];
            CsrMatrix.TransposeInto(a.Rows, a.Cols, a.RowOffsets, a.ColumnIndices, a.Values, tOffsets, tCols, tValues);
            Spmm(a.Cols, a.Rows, tOffsets, tCols, tValues, null, b.HostData, b.Cols, c.HostData, version);
            return;
        }
        var plan = TransposePlan.For(a);
        Spmm(a.Cols, a.Rows, plan.Offsets, plan.RowIndices, a.Values, plan.Positions, b.HostData, b.Cols, c.HostData, version);
    }

    private static void CheckColumns(CsrMatrix a)
    {
        var ro = a.RowOffsets; var ci = a.ColumnIndices;
        if (ro.Length != a.Rows + 1 || ro[a.Rows] != ci.Length || a.Values.Length != ci.Length)
            throw new CsrFormatException($"The arrays of this {a.Rows}x{a.Cols} CSR matrix were changed after validation.");
        foreach (int col in ci)
            if ((uint)col >= (uint)a.Cols)
                throw new CsrFormatException(
                    $"CSR column index {col} is out of range [0, {a.Cols}) (the arrays were changed after validation).", -1, -1, CsrArray.ColumnIndices);
    }

    /// <summary>Splits [0, rows) into about <paramref name="parts"/> ranges of similar work (nnz + rows).</summary>
    internal static int[] BalancedRowRanges(int[] rowOffsets, int rows, int parts)
    {
        parts = Math.Max(1, Math.Min(parts, rows));
        var bounds = new int[parts + 1];
        BalancedRowRanges(rowOffsets, rows, bounds.AsSpan());
        return bounds;
    }

    /// <summary>
    /// Fills <paramref name="bounds"/> (parts + 1 entries) with row boundaries splitting [0, rows) into ranges of
    /// similar work, nnz + rows: a binary search per boundary on the increasing rowOffsets[r] + r (O(parts log rows),
    /// no pass over the rows, so it is recomputed per call instead of cached).
    /// </summary>
    internal static void BalancedRowRanges(int[] rowOffsets, int rows, Span<int> bounds)
    {
        int parts = bounds.Length - 1;
        long total = (long)rowOffsets[rows] + rows;
        bounds[0] = 0;
        int lo = 0;
        for (int t = 1; t < parts; t++)
        {
            long target = total * t / parts;
            int l = lo, h = rows;   // first r in [l, h] with rowOffsets[r] + r >= target
            while (l < h)
            {
                int mid = (int)(((uint)l + (uint)h) >> 1);
                if ((long)rowOffsets[mid] + mid < target) l = mid + 1; else h = mid;
            }
            bounds[t] = lo = l;
        }
        bounds[parts] = rows;
    }

    // ---------------------------------------------------------------- dispatch

    /// <summary>Below this much work ((nnz + rows) x N multiply-adds) a call stays on the calling thread.</summary>
    internal const long SerialWork = 1 << 17;
    /// <summary>Work per chunk at least (so a chunk costs far more than claiming it).</summary>
    private const long ChunkWork = 1 << 15;

    [ThreadStatic] private static SpmmJob? t_spmmJob;

    /// <summary>
    /// C[rows x n] = A[rows x k] . B[k x n], A given by (ro, ci, values) where the value of nonzero p is
    /// values[positions[p]] when positions is given (the transposed pattern) and values[p] otherwise.
    /// </summary>
    private void Spmm(int rows, int k, int[] ro, int[] ci, float[] values, int[]? positions, float[] b, int n, float[] c, CpuKernel version)
    {
        if (rows == 0 || n == 0) return;
        if (ro.Length != rows + 1 || ro[rows] > ci.Length || (positions is null ? ro[rows] > values.Length : ro[rows] > positions.Length))
            throw new CsrFormatException($"The arrays of this {rows}x{k} CSR matrix were changed after validation.");
        long work = ((long)ro[rows] + rows) * n;
        int threads = MaxDegreeOfParallelism;
        if (threads == 1 || work < SerialWork)
        {
            SpmmRange(0, rows, k, ro, ci, values, positions, b, n, c, version);
            return;
        }
        int chunks = (int)Math.Min(Math.Min(8L * threads, work / ChunkWork), rows);
        var job = t_spmmJob ??= new SpmmJob();
        job.Set(rows, k, ro, ci, values, positions, b, n, c, version, chunks);
        CpuWorkers.Shared.Run(job, threads);
    }

    private sealed class SpmmJob : CpuJob
    {
        private int[] _bounds = new int[17];
        private int[]? _ro, _ci, _positions;
        private float[]? _values, _b, _c;
        private int _k, _n;
        private CpuKernel _version;

        internal void Set(int rows, int k, int[] ro, int[] ci, float[] values, int[]? positions, float[] b, int n, float[] c,
            CpuKernel version, int chunks)
        {
            if (_bounds.Length < chunks + 1) _bounds = new int[chunks + 1];
            BalancedRowRanges(ro, rows, _bounds.AsSpan(0, chunks + 1));
            Count = chunks;
            _ro = ro; _ci = ci; _values = values; _positions = positions; _b = b; _c = c; _k = k; _n = n; _version = version;
        }

        protected override void RunChunk(int chunk)
            => SpmmRange(_bounds[chunk], _bounds[chunk + 1], _k, _ro!, _ci!, _values!, _positions, _b!, _n, _c!, _version);

        protected override void Clear() { _ro = _ci = _positions = null; _values = _b = _c = null; }
    }

    private static void SpmmRange(int r0, int r1, int k, int[] ro, int[] ci, float[] values, int[]? positions, float[] b, int n, float[] c,
        CpuKernel version)
    {
        CheckRows(r0, r1, k, ro, ci, positions is null ? values.Length : positions.Length);
        if (version == CpuKernel.V1)
            SpmmRowsV1(r0, r1, ro, ci, values, b, n, c);
        else if (positions is null)
            SpmmRowsV2(r0, r1, k, ro, ci, new DirectValues(values), b, n, c);
        else
            SpmmRowsV2(r0, r1, k, ro, ci, new GatheredValues(values, positions), b, n, c);
    }

    /// <summary>
    /// Re-checks rows [r0, r1) of a CSR structure before a kernel reads it without bounds checks: row offsets in
    /// range and increasing, column indices in [0, k) (a vectorised pass). The arrays of a CsrMatrix are mutable
    /// after its validation, so a bad index must become an exception here rather than a wild read.
    /// </summary>
    private static void CheckRows(int r0, int r1, int k, int[] ro, int[] ci, int valueCount)
    {
        int limit = Math.Min(ci.Length, valueCount);
        for (int i = r0; i < r1; i++)
        {
            int start = ro[i], end = ro[i + 1];
            if (start < 0 || end < start || end > limit)
                throw new CsrFormatException(
                    $"CSR row {i} spans [{start}, {end}), outside the {ci.Length} column indices (the arrays were changed after validation).",
                    i, i + 1, CsrArray.RowOffsets);
        }
        int p0 = ro[r0], p1 = ro[r1];
        if (!ColumnsInRange(ci.AsSpan(p0, p1 - p0), k))
            for (int i = r0; i < r1; i++)
                for (int p = ro[i]; p < ro[i + 1]; p++)
                    if ((uint)ci[p] >= (uint)k)
                        throw new CsrFormatException(
                            $"CSR column index {ci[p]} at position {p} (row {i}) is out of range [0, {k}) " +
                            "(the arrays were changed after validation).",
                            i, p, CsrArray.ColumnIndices);
    }

    /// <summary>Whether every index is in [0, k): unsigned compares, a vector at a time.</summary>
    private static bool ColumnsInRange(ReadOnlySpan<int> ci, int k)
    {
        ReadOnlySpan<uint> u = MemoryMarshal.Cast<int, uint>(ci);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var limit = Vector256.Create((uint)k);
            var bad = Vector256<uint>.Zero;
            for (; i + 8 <= u.Length; i += 8)
                bad |= Vector256.GreaterThanOrEqual(Vector256.Create(u.Slice(i, 8)), limit);
            if (bad != Vector256<uint>.Zero) return false;
        }
        for (; i < u.Length; i++)
            if (u[i] >= (uint)k) return false;
        return true;
    }

    // ---------------------------------------------------------------- V1 (Vector<T>, 8-vector panels)

    private static void SpmmRowsV1(int r0, int r1, int[] ro, int[] ci, float[] v, float[] b, int n, float[] c)
    {
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
                x0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref B, (nuint)((long)Unsafe.Add(ref CI, p) * n + j)),
                    new Vector<float>(Unsafe.Add(ref V, p)), x0);
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
