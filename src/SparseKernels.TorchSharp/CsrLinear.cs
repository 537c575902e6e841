using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SparseKernels.Cpu;
using SparseKernels.Tensors;

namespace SparseKernels.TorchSharp;

/// <summary>
/// The CPU kernels of <see cref="SparseLinear"/> (here, next to the embedding, because they take the tensors' raw
/// addresses; the engine proper holds no pointers). A sparse linear layer's three products on batch-major dense
/// operands: y = x W^T (forward), dx = dy W (input gradient) and dW = (dy^T x) at the pattern (weight gradient),
/// with W an out x in CSR matrix, x batch x in and y, dy batch x out, all row-major, read and written in place through
/// pointers (the caller's tensor memory). The products themselves run feature-major (the batch is the vector
/// dimension, as in <see cref="CpuBackend.SpmmCsr"/>): x and dy are transposed into caller-owned scratch by 8 x 8
/// register blocks, and the results are transposed back by the thread that computed them, so a call is two parallel
/// regions.
/// <para>Forward: rows of W in parallel (chunks balanced by nonzeros), each row's entries walked chunk by chunk of
/// columns so that a chunk of x^T stays in L2; the same parallel region copies W's values in CSC order (a gather
/// through the plan's permutation). Backward: dy^T and dW by rows of W (dW[p] = dot(dy^T[r], x^T[c]) with the panel of
/// dy^T[r] in registers), then dx^T = W^T dy^T by rows of W^T (the CSC copy: the same kernel as the forward, reading
/// its values sequentially). Measured on Zen 4 (batch 128, 4096x4096 at 90 %): scattering dx^T[c] += W[r, c] dy^T[r]
/// from the CSR walk instead (no transpose of W, no gather) took 17 ms against 11 ms for the CSC product, the cost of
/// the stores; reading the values through the permutation inside the product took 19 ms.</para>
/// <para>Built once per pattern (the caller rebuilds it when the pattern changes; <see cref="Matches"/>): a validated
/// copy of the pattern, its transpose (CSC, with each entry's CSR position), the column chunks of both (split per row)
/// and the row chunks. No managed allocation per call; one call runs at a time on an instance (a lock).</para>
/// <para>The reference is <see cref="CpuReference.SpmmCsr"/> / <see cref="CpuReference.SpmmCsrTransposed"/> /
/// <see cref="CpuReference.SddmmCsr"/> on the transposed operands (tests/SparseKernels.TorchSharp.Tests/CsrLinearTests.cs).</para>
/// </summary>
internal sealed unsafe class CsrLinear
{
    private readonly int[] _ro, _ci, _tOffsets, _tRows, _perm, _rowBounds, _colBounds, _split, _tSplit;
    private readonly int _blocks, _tBlocks;

    /// <summary>
    /// The most columns of W per column chunk: the products run chunk by chunk over the pattern's columns so that a
    /// chunk's rows of x^T (512 x batch floats: 256 KB at batch 128) stay in L2 while every row of W reads them.
    /// </summary>
    internal const int BlockRows = 512;
    private readonly ParallelOptions _options;
    private readonly Action<int> _body;
    private readonly object _lock = new();

    /// <summary>Output features (rows of W).</summary>
    public int Out { get; }
    /// <summary>Input features (columns of W).</summary>
    public int In { get; }
    /// <summary>Stored entries of W.</summary>
    public int Nnz { get; }
    /// <summary>Threads a call may use.</summary>
    public int Threads { get; }

    /// <summary>Plans the products for the out x in pattern (<paramref name="rowOffsets"/>, <paramref name="columnIndices"/>),
    /// validating it (throws <see cref="CsrFormatException"/>), on up to <paramref name="threads"/> threads.</summary>
    public CsrLinear(int outFeatures, int inFeatures, ReadOnlySpan<int> rowOffsets, ReadOnlySpan<int> columnIndices, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _ro = rowOffsets.ToArray();
        _ci = columnIndices.ToArray();
        // the engine's validation (offsets monotone and consistent, column indices in range and increasing per row)
        _ = new CsrMatrix(outFeatures, inFeatures, _ro, _ci, new float[_ci.Length]);
        Out = outFeatures; In = inFeatures; Nnz = _ci.Length; Threads = threads;
        // the transpose (CSC): for column c, entries [_tOffsets[c], _tOffsets[c + 1]) with their rows and CSR positions
        _tOffsets = new int[inFeatures + 1];
        _tRows = new int[Nnz];
        _perm = new int[Nnz];
        foreach (int c in _ci) _tOffsets[c + 1]++;
        for (int c = 0; c < inFeatures; c++) _tOffsets[c + 1] += _tOffsets[c];
        var next = _tOffsets.AsSpan(0, inFeatures).ToArray();
        for (int r = 0; r < outFeatures; r++)
            for (int p = _ro[r]; p < _ro[r + 1]; p++)
            {
                int q = next[_ci[p]]++;
                _tRows[q] = r;
                _perm[q] = p;
            }
        // chunks of rows and of columns balanced by nonzeros, a few per thread (a thread slowed by another process
        // takes fewer of them) and at most BlockRows wide (the L2 blocking of the other operand)
        int chunks = threads == 1 ? 1 : threads * 4;
        _rowBounds = Bounds(_ro, outFeatures, Math.Max(chunks, (outFeatures + BlockRows - 1) / BlockRows));
        _colBounds = Bounds(_tOffsets, inFeatures, Math.Max(chunks, (inFeatures + BlockRows - 1) / BlockRows));
        // the L2 blocks of the products are equal-width column ranges of at most BlockRows, independent of the parallel
        // chunks: splitting every row at the chunk bounds (8 chunks at 2 threads) loaded and stored each row's panel of
        // accumulators once per chunk, most of the time at high sparsity (1024x1024 at 99 %: 1.3 nonzeros per row and chunk)
        (_split, _blocks) = Splits(_ro, _ci, outFeatures, EqualBlocks(inFeatures));
        (_tSplit, _tBlocks) = Splits(_tOffsets, _tRows, inFeatures, EqualBlocks(outFeatures));
        _options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        _body = RunChunk;
    }

    /// <summary>At least parts + 1 bounds over [0, n) balanced by the nonzeros of <paramref name="offsets"/>, with more
    /// parts (doubling) while a chunk is wider than <see cref="BlockRows"/> (a few dense rows or columns among empty
    /// ones).</summary>
    private static int[] Bounds(int[] offsets, int n, int parts)
    {
        while (true)
        {
            var b = CpuBackend.BalancedRowRanges(offsets, n, parts);
            bool narrow = true;
            for (int k = 1; k < b.Length && narrow; k++) narrow = b[k] - b[k - 1] <= BlockRows;
            if (narrow || parts >= n) return b;
            parts = (int)Math.Min(n, 2L * parts);
        }
    }

    /// <summary>[0, n) in ceil(n / <see cref="BlockRows"/>) ranges of equal width (one range when n &lt;= BlockRows).</summary>
    private static int[] EqualBlocks(int n)
    {
        int parts = Math.Max(1, (n + BlockRows - 1) / BlockRows);
        var b = new int[parts + 1];
        for (int k = 0; k <= parts; k++) b[k] = (int)((long)n * k / parts);
        return b;
    }

    /// <summary>
    /// For each row i and column chunk k, [bounds[k], bounds[k + 1]): the first entry of row i in chunk k, at
    /// split[i * (chunks + 1) + k] (columns are increasing within a row). One chunk: the row offsets themselves.
    /// </summary>
    private static (int[] Split, int Blocks) Splits(int[] ro, int[] ci, int rows, int[] bounds)
    {
        int blocks = bounds.Length - 1;
        if (blocks == 1) return (ro, 1);
        var split = new int[checked(rows * (blocks + 1))];
        for (int i = 0; i < rows; i++)
        {
            int p = ro[i], end = ro[i + 1], at = i * (blocks + 1);
            for (int k = 0; k < blocks; k++)
            {
                split[at + k] = p;
                int limit = bounds[k + 1];
                while (p < end && ci[p] < limit) p++;
            }
            split[at + blocks] = end;
        }
        return (split, blocks);
    }

    /// <summary>Whether this plan is of the pattern (<paramref name="rowOffsets"/>, <paramref name="columnIndices"/>).</summary>
    public bool Matches(ReadOnlySpan<int> rowOffsets, ReadOnlySpan<int> columnIndices) =>
        rowOffsets.SequenceEqual(_ro) && columnIndices.SequenceEqual(_ci);

    /// <summary>The CSR row offsets of the planned pattern (a copy owned by the plan; do not change).</summary>
    internal int[] RowOffsets => _ro;
    /// <summary>The CSR column indices of the planned pattern (a copy owned by the plan; do not change).</summary>
    internal int[] ColumnIndices => _ci;

    // ------------------------------------------------------------------ calls

    private enum Stage { ForwardIn, ForwardOut, BackwardOut, BackwardIn }

    // the arguments of the call in progress (set under _lock)
    private Stage _stage;
    private int _batch;
    private float* _x, _values, _y, _xT, _yT, _tValues, _dy, _dyT, _dx, _dxT, _dW;
    private long _dyS0, _dyS1;

    /// <summary>
    /// y (batch x out) = x (batch x in) W^T with W's values <paramref name="values"/> (nnz, CSR order). Writes x^T
    /// (in x batch) to <paramref name="xT"/> (kept for <see cref="Backward"/>) and uses <paramref name="yT"/>
    /// (out x batch) as scratch; when <paramref name="tValues"/> is given, also copies the values there (the
    /// snapshot of W that <see cref="Backward"/> multiplies dy by; opaque to the caller).
    /// </summary>
    public void Forward(float* x, int batch, float* values, float* y, float* xT, float* yT, float* tValues)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        lock (_lock)
        {
            _batch = batch; _x = x; _values = values; _y = y; _xT = xT; _yT = yT; _tValues = tValues;
            try
            {
                Run(Stage.ForwardIn, _colBounds.Length - 1);
                Run(Stage.ForwardOut, _rowBounds.Length - 1);
            }
            finally { _x = _values = _y = _xT = _yT = _tValues = null; }
        }
    }

    /// <summary>
    /// From dy (batch x out, element (b, o) at <paramref name="dy"/>[b * <paramref name="dyStride0"/> + o *
    /// <paramref name="dyStride1"/>]: any strides, e.g. a broadcast view) and the x^T written by <see cref="Forward"/>:
    /// dx (batch x in) = dy W with the values copied by the forward, <paramref name="tValues"/>, when
    /// <paramref name="dx"/> is given, and dW
    /// (nnz, CSR order) = (dy^T x) at the pattern when <paramref name="dW"/> is given. <paramref name="dyT"/> (out x
    /// batch) and <paramref name="dxT"/> (in x batch) are scratch. (Pointers to empty buffers may be null.)
    /// </summary>
    public void Backward(float* dy, long dyStride0, long dyStride1, int batch, float* xT, float* tValues, float* dx, float* dW,
        float* dyT, float* dxT)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        lock (_lock)
        {
            _batch = batch; _dy = dy; _dyS0 = dyStride0; _dyS1 = dyStride1; _xT = xT; _tValues = tValues;
            _dx = dx; _dW = dW; _dyT = dyT; _dxT = dxT;
            try
            {
                Run(Stage.BackwardOut, _rowBounds.Length - 1);
                if (dx != null) Run(Stage.BackwardIn, _colBounds.Length - 1);
            }
            finally { _dy = _xT = _tValues = _dx = _dW = _dyT = _dxT = null; }
        }
    }

    /// <summary>Multiply-adds (nnz x batch) below which a call runs on one thread (tests set 0 to exercise the parallel path).</summary>
    internal long SerialWork { get; init; } = 4L << 20;

    private void Run(Stage stage, int chunks)
    {
        _stage = stage;
        // below SerialWork multiply-adds a call runs on the calling thread: waking the pool's threads costs more (measured
        // at 256x512, batch 128, 80 %: 1 thread 0.21 ms for the SpMM, 2 threads 0.33-0.42 ms with the transposes)
        if (chunks <= 1 || Threads == 1 || (long)Nnz * _batch < SerialWork)
            for (int t = 0; t < chunks; t++) RunChunk(t);
        else
            Parallel.For(0, chunks, _options, _body);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunChunk(int t)
    {
        int n = _batch;
        switch (_stage)
        {
            case Stage.ForwardIn:
                {
                    // x[:, c0:c1] -> x^T[c0:c1, :]; the CSC values of these columns
                    int c0 = _colBounds[t], c1 = _colBounds[t + 1];
                    Transpose(_x + c0, In, n, c1 - c0, _xT + (long)c0 * n, n);
                    if (_tValues != null)
                    {
                        // the values of these columns in CSC order (the snapshot of W that the backward's dx uses)
                        float* v = _values, tv = _tValues;
                        fixed (int* perm = _perm)
                            for (int q = _tOffsets[c0], end = _tOffsets[c1]; q < end; q++) tv[q] = v[perm[q]];
                    }
                    break;
                }
            case Stage.ForwardOut:
                {
                    // y^T[r0:r1, :] = W[r0:r1, :] x^T, then y[:, r0:r1] = its transpose
                    int r0 = _rowBounds[t], r1 = _rowBounds[t + 1];
                    fixed (int* sp = _split, ci = _ci)
                        SpmmRows(r0, r1, sp, _blocks, ci, _values, _xT, n, _yT);
                    Transpose(_yT + (long)r0 * n, n, r1 - r0, n, _y + r0, Out);
                    break;
                }
            case Stage.BackwardOut:
                {
                    // dy[:, r0:r1] -> dy^T[r0:r1, :]; dW at these rows
                    int r0 = _rowBounds[t], r1 = _rowBounds[t + 1];
                    if (_dyS1 == 1 && _dyS0 >= 0) Transpose(_dy + r0, _dyS0, n, r1 - r0, _dyT + (long)r0 * n, n);
                    else if (_dyS0 == 0 && _dyS1 == 0) new Span<float>(_dyT + (long)r0 * n, (r1 - r0) * n).Fill(*_dy);
                    else
                        for (int r = r0; r < r1; r++)
                            for (int b = 0; b < n; b++) _dyT[(long)r * n + b] = _dy[b * _dyS0 + r * _dyS1];
                    if (_dW != null)
                        fixed (int* sp = _split, ci = _ci)
                            SddmmRows(r0, r1, sp, _blocks, ci, _dyT, _xT, n, _dW);
                    break;
                }
            case Stage.BackwardIn:
                {
                    // dx^T[c0:c1, :] = W^T[c0:c1, :] dy^T, then dx[:, c0:c1] = its transpose
                    int c0 = _colBounds[t], c1 = _colBounds[t + 1];
                    fixed (int* sp = _tSplit, tr = _tRows)
                        SpmmRows(c0, c1, sp, _tBlocks, tr, _tValues, _dyT, n, _dxT);
                    Transpose(_dxT + (long)c0 * n, n, c1 - c0, n, _dx + c0, In);
                    break;
                }
        }
    }

    // ------------------------------------------------------------------ kernels

    private static int VC => Vector<float>.Count;

    /// <summary>The distance between rows in a split table: one block is the row offsets themselves (stride 1).</summary>
    private static int Stride(int blocks) => blocks == 1 ? 1 : blocks + 1;

    /// <summary>Whether the kernels run 128-column panels of Vector512 (tests turn it off to cover the Vector&lt;float&gt;
    /// panels on AVX-512 machines).</summary>
    internal static bool UseVector512 { get; set; } = Vector512.IsHardwareAccelerated;

    /// <summary>The columns of a Vector512 panel: 8 registers of 16 floats (at batch 128, the whole batch in one pass).</summary>
    private const int WidePanel = 128;

    /// <summary><see cref="SpmmRows"/> on columns [0, wide) (a multiple of <see cref="WidePanel"/>): 8 Vector512 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SpmmRowsWide(int r0, int r1, int* split, int blocks, int* ci, float* v, float* b, int n, float* c, int wide)
    {
        int stride = Stride(blocks);
        for (int k = 0; k < blocks; k++)
            for (int j = 0; j < wide; j += WidePanel)
                for (int i = r0; i < r1; i++)
                {
                    int p = split[(long)i * stride + k], end = split[(long)i * stride + k + 1];
                    float* cr = c + (long)i * n + j;
                    Vector512<float> a0, a1, a2, a3, a4, a5, a6, a7;
                    if (k == 0) a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = default;
                    else if (p == end) continue;
                    else
                    {
                        a0 = Vector512.Load(cr); a1 = Vector512.Load(cr + 16); a2 = Vector512.Load(cr + 32);
                        a3 = Vector512.Load(cr + 48); a4 = Vector512.Load(cr + 64); a5 = Vector512.Load(cr + 80);
                        a6 = Vector512.Load(cr + 96); a7 = Vector512.Load(cr + 112);
                    }
                    for (; p < end; p++)
                    {
                        var s = Vector512.Create(v[p]);
                        float* br = b + (long)ci[p] * n + j;
                        a0 = Vector512.FusedMultiplyAdd(Vector512.Load(br), s, a0);
                        a1 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 16), s, a1);
                        a2 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 32), s, a2);
                        a3 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 48), s, a3);
                        a4 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 64), s, a4);
                        a5 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 80), s, a5);
                        a6 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 96), s, a6);
                        a7 = Vector512.FusedMultiplyAdd(Vector512.Load(br + 112), s, a7);
                    }
                    a0.Store(cr); a1.Store(cr + 16); a2.Store(cr + 32); a3.Store(cr + 48);
                    a4.Store(cr + 64); a5.Store(cr + 80); a6.Store(cr + 96); a7.Store(cr + 112);
                }
    }

    /// <summary>
    /// c[i, :] = sum over row i's entries p of v[p] * b[ci[p], :], rows [r0, r1); b and c have n columns. Row i's entries
    /// of column block k are [split[i * stride + k], split[i * stride + k + 1]) with stride blocks + 1
    /// (<see cref="Splits"/>); with one block, split is the row offsets (stride 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SpmmRows(int r0, int r1, int* split, int blocks, int* ci, float* v, float* b, int n, float* c)
    {
        int wide = UseVector512 ? n - n % WidePanel : 0;
        int vc = VC, panel = 8 * vc, full = n - (n - wide) % panel, stride = Stride(blocks);
        if (wide > 0) SpmmRowsWide(r0, r1, split, blocks, ci, v, b, n, c, wide);
        // blocks, then column panels, outermost: a block's panel of b (BlockRows x 8 vectors) stays in L2 while the rows
        // run over it; the rows' partial sums are carried in c from block to block
        for (int k = 0; k < blocks; k++)
            for (int j = wide; j < full; j += panel)
                for (int i = r0; i < r1; i++)
                {
                    int p = split[(long)i * stride + k], end = split[(long)i * stride + k + 1];
                    float* cr = c + (long)i * n + j;
                    Vector<float> a0, a1, a2, a3, a4, a5, a6, a7;
                    if (k == 0) a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = default;
                    else if (p == end) continue;
                    else
                    {
                        a0 = Vector.Load(cr); a1 = Vector.Load(cr + vc); a2 = Vector.Load(cr + 2 * vc); a3 = Vector.Load(cr + 3 * vc);
                        a4 = Vector.Load(cr + 4 * vc); a5 = Vector.Load(cr + 5 * vc); a6 = Vector.Load(cr + 6 * vc);
                        a7 = Vector.Load(cr + 7 * vc);
                    }
                    for (; p < end; p++)
                    {
                        var s = new Vector<float>(v[p]);
                        float* br = b + (long)ci[p] * n + j;
                        a0 = Vector.FusedMultiplyAdd(Vector.Load(br), s, a0);
                        a1 = Vector.FusedMultiplyAdd(Vector.Load(br + vc), s, a1);
                        a2 = Vector.FusedMultiplyAdd(Vector.Load(br + 2 * vc), s, a2);
                        a3 = Vector.FusedMultiplyAdd(Vector.Load(br + 3 * vc), s, a3);
                        a4 = Vector.FusedMultiplyAdd(Vector.Load(br + 4 * vc), s, a4);
                        a5 = Vector.FusedMultiplyAdd(Vector.Load(br + 5 * vc), s, a5);
                        a6 = Vector.FusedMultiplyAdd(Vector.Load(br + 6 * vc), s, a6);
                        a7 = Vector.FusedMultiplyAdd(Vector.Load(br + 7 * vc), s, a7);
                    }
                    a0.Store(cr); a1.Store(cr + vc); a2.Store(cr + 2 * vc); a3.Store(cr + 3 * vc);
                    a4.Store(cr + 4 * vc); a5.Store(cr + 5 * vc); a6.Store(cr + 6 * vc); a7.Store(cr + 7 * vc);
                }
        if (full == n) return;
        for (int i = r0; i < r1; i++)
        {
            float* cr = c + (long)i * n;
            int start = split[(long)i * stride], stop = split[(long)i * stride + blocks];
            int j = full;
            for (; j + vc <= n; j += vc)
            {
                Vector<float> a0 = default;
                for (int p = start; p < stop; p++)
                {
                    var s = new Vector<float>(v[p]);
                    a0 = Vector.FusedMultiplyAdd(Vector.Load(b + (long)ci[p] * n + j), s, a0);
                }
                a0.Store(cr + j);
            }
            for (; j < n; j++)
            {
                float acc = 0;
                for (int p = start; p < stop; p++)
                    acc = MathF.FusedMultiplyAdd(v[p], b[(long)ci[p] * n + j], acc);
                cr[j] = acc;
            }
        }
    }

    /// <summary>dW[p] = dot(x[i, :], y[ci[p], :]) for the entries p of rows [r0, r1); x and y have n columns; blocks as in
    /// <see cref="SpmmRows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SddmmRows(int r0, int r1, int* split, int blocks, int* ci, float* x, float* y, int n, float* dW)
    {
        int stride = Stride(blocks);
        if (r1 <= r0) return;
        if (n == 0)
        {
            for (int p = split[(long)r0 * stride], end = split[(long)(r1 - 1) * stride + blocks]; p < end; p++) dW[p] = 0;
            return;
        }
        int wide = UseVector512 ? n - n % WidePanel : 0;
        int vc = VC, panel = 8 * vc, full = n - (n - wide) % panel;
        if (wide > 0) SddmmRowsWide(r0, r1, split, blocks, ci, x, y, n, dW, wide);
        for (int k = 0; k < blocks; k++)
            for (int j = wide; j < full; j += panel)
            {
                bool first = j == 0;
                for (int i = r0; i < r1; i++)
                {
                    float* xr = x + (long)i * n + j;
                    var d0 = Vector.Load(xr); var d1 = Vector.Load(xr + vc); var d2 = Vector.Load(xr + 2 * vc);
                    var d3 = Vector.Load(xr + 3 * vc); var d4 = Vector.Load(xr + 4 * vc); var d5 = Vector.Load(xr + 5 * vc);
                    var d6 = Vector.Load(xr + 6 * vc); var d7 = Vector.Load(xr + 7 * vc);
                    int p = split[(long)i * stride + k], end = split[(long)i * stride + k + 1];
                    if (p == end) continue;
                    for (; p + 2 <= end; p += 2)
                    {
                        // two entries at once: four independent accumulator chains
                        float* y0 = y + (long)ci[p] * n + j, y1 = y + (long)ci[p + 1] * n + j;
                        var s0 = d0 * Vector.Load(y0); var t0 = d1 * Vector.Load(y0 + vc);
                        var s1 = d0 * Vector.Load(y1); var t1 = d1 * Vector.Load(y1 + vc);
                        s0 = Vector.FusedMultiplyAdd(d2, Vector.Load(y0 + 2 * vc), s0);
                        t0 = Vector.FusedMultiplyAdd(d3, Vector.Load(y0 + 3 * vc), t0);
                        s1 = Vector.FusedMultiplyAdd(d2, Vector.Load(y1 + 2 * vc), s1);
                        t1 = Vector.FusedMultiplyAdd(d3, Vector.Load(y1 + 3 * vc), t1);
                        s0 = Vector.FusedMultiplyAdd(d4, Vector.Load(y0 + 4 * vc), s0);
                        t0 = Vector.FusedMultiplyAdd(d5, Vector.Load(y0 + 5 * vc), t0);
                        s1 = Vector.FusedMultiplyAdd(d4, Vector.Load(y1 + 4 * vc), s1);
                        t1 = Vector.FusedMultiplyAdd(d5, Vector.Load(y1 + 5 * vc), t1);
                        s0 = Vector.FusedMultiplyAdd(d6, Vector.Load(y0 + 6 * vc), s0);
                        t0 = Vector.FusedMultiplyAdd(d7, Vector.Load(y0 + 7 * vc), t0);
                        s1 = Vector.FusedMultiplyAdd(d6, Vector.Load(y1 + 6 * vc), s1);
                        t1 = Vector.FusedMultiplyAdd(d7, Vector.Load(y1 + 7 * vc), t1);
                        float e0 = Vector.Sum(s0 + t0), e1 = Vector.Sum(s1 + t1);
                        if (first) { dW[p] = e0; dW[p + 1] = e1; }
                        else { dW[p] += e0; dW[p + 1] += e1; }
                    }
                    if (p < end)
                    {
                        float* y0 = y + (long)ci[p] * n + j;
                        var s0 = d0 * Vector.Load(y0); var t0 = d1 * Vector.Load(y0 + vc);
                        s0 = Vector.FusedMultiplyAdd(d2, Vector.Load(y0 + 2 * vc), s0);
                        t0 = Vector.FusedMultiplyAdd(d3, Vector.Load(y0 + 3 * vc), t0);
                        s0 = Vector.FusedMultiplyAdd(d4, Vector.Load(y0 + 4 * vc), s0);
                        t0 = Vector.FusedMultiplyAdd(d5, Vector.Load(y0 + 5 * vc), t0);
                        s0 = Vector.FusedMultiplyAdd(d6, Vector.Load(y0 + 6 * vc), s0);
                        t0 = Vector.FusedMultiplyAdd(d7, Vector.Load(y0 + 7 * vc), t0);
                        float e0 = Vector.Sum(s0 + t0);
                        if (first) dW[p] = e0; else dW[p] += e0;
                    }
                }
            }
        if (full == n) return;
        // the columns past the last full panel (and every column when n < one panel)
        for (int i = r0; i < r1; i++)
        {
            float* xr = x + (long)i * n;
            for (int p = split[(long)i * stride], end = split[(long)i * stride + blocks]; p < end; p++)
            {
                float* yr = y + (long)ci[p] * n;
                int j = full;
                Vector<float> s = default;
                for (; j + vc <= n; j += vc) s = Vector.FusedMultiplyAdd(Vector.Load(xr + j), Vector.Load(yr + j), s);
                float acc = Vector.Sum(s);
                for (; j < n; j++) acc = MathF.FusedMultiplyAdd(xr[j], yr[j], acc);
                if (full == 0) dW[p] = acc; else dW[p] += acc;
            }
        }
    }

    /// <summary><see cref="SddmmRows"/> on columns [0, wide) (a multiple of <see cref="WidePanel"/>): x[i]'s panel in 8
    /// Vector512 registers, two entries at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SddmmRowsWide(int r0, int r1, int* split, int blocks, int* ci, float* x, float* y, int n, float* dW, int wide)
    {
        int stride = Stride(blocks);
        for (int k = 0; k < blocks; k++)
            for (int j = 0; j < wide; j += WidePanel)
            {
                bool first = j == 0;
                for (int i = r0; i < r1; i++)
                {
                    int p = split[(long)i * stride + k], end = split[(long)i * stride + k + 1];
                    if (p == end) continue;
                    float* xr = x + (long)i * n + j;
                    var d0 = Vector512.Load(xr); var d1 = Vector512.Load(xr + 16); var d2 = Vector512.Load(xr + 32);
                    var d3 = Vector512.Load(xr + 48); var d4 = Vector512.Load(xr + 64); var d5 = Vector512.Load(xr + 80);
                    var d6 = Vector512.Load(xr + 96); var d7 = Vector512.Load(xr + 112);
                    for (; p < end; p++)
                    {
                        float* y0 = y + (long)ci[p] * n + j;
                        var s0 = d0 * Vector512.Load(y0); var t0 = d1 * Vector512.Load(y0 + 16);
                        s0 = Vector512.FusedMultiplyAdd(d2, Vector512.Load(y0 + 32), s0);
                        t0 = Vector512.FusedMultiplyAdd(d3, Vector512.Load(y0 + 48), t0);
                        s0 = Vector512.FusedMultiplyAdd(d4, Vector512.Load(y0 + 64), s0);
                        t0 = Vector512.FusedMultiplyAdd(d5, Vector512.Load(y0 + 80), t0);
                        s0 = Vector512.FusedMultiplyAdd(d6, Vector512.Load(y0 + 96), s0);
                        t0 = Vector512.FusedMultiplyAdd(d7, Vector512.Load(y0 + 112), t0);
                        float e = Vector512.Sum(s0 + t0);
                        if (first) dW[p] = e; else dW[p] += e;
                    }
                }
            }
    }

    /// <summary>dst[c * ldd + r] = src[r * lds + c] for r &lt; rows, c &lt; cols: 8 x 8 register blocks where AVX is there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose(float* src, long lds, int rows, int cols, float* dst, long ldd)
    {
        int r = 0;
        if (Avx.IsSupported)
        {
            for (; r + 8 <= rows; r += 8)
            {
                int c = 0;
                for (; c + 8 <= cols; c += 8) Transpose8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd);
                for (; c < cols; c++)
                    for (int k = 0; k < 8; k++) dst[c * ldd + r + k] = src[(r + k) * lds + c];
            }
        }
        for (; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, long lds, float* d, long ldd)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + lds);
        var r2 = Avx.LoadVector256(s + 2 * lds); var r3 = Avx.LoadVector256(s + 3 * lds);
        var r4 = Avx.LoadVector256(s + 4 * lds); var r5 = Avx.LoadVector256(s + 5 * lds);
        var r6 = Avx.LoadVector256(s + 6 * lds); var r7 = Avx.LoadVector256(s + 7 * lds);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
