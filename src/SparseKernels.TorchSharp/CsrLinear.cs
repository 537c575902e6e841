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
/// register blocks, and each thread transposes its own rows of the results back, so a call is two parallel regions.
/// <para>Built once per pattern (the caller rebuilds it when the pattern changes; <see cref="Matches"/>): a validated
/// copy of the pattern, its transpose (CSC, with each entry's CSR position) and the row and column ranges of the
/// chunks. No managed allocation per call; one call runs at a time on an instance (a lock).</para>
/// <para>The reference is <see cref="CpuReference.SpmmCsr"/> / <see cref="CpuReference.SpmmCsrTransposed"/> /
/// <see cref="CpuReference.SddmmCsr"/> on the transposed operands (tests/SparseKernels.TorchSharp.Tests/CsrLinearTests.cs).</para>
/// </summary>
internal sealed unsafe class CsrLinear
{
    private readonly int[] _ro, _ci, _tOffsets, _tRows, _perm, _rowBounds, _colBounds;
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
        // a few chunks per thread, so a thread slowed by another process takes fewer of them
        int chunks = threads == 1 ? 1 : threads * 4;
        _rowBounds = CpuBackend.BalancedRowRanges(_ro, outFeatures, chunks);
        _colBounds = CpuBackend.BalancedRowRanges(_tOffsets, inFeatures, chunks);
        _options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        _body = RunChunk;
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
    /// (out x batch) as scratch; when <paramref name="tValues"/> is given, also copies the values there in CSC order
    /// (the snapshot of W that <see cref="Backward"/> multiplies dy by).
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
    /// dx (batch x in) = dy W with the CSC values <paramref name="tValues"/> when <paramref name="dx"/> is given, and dW
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

    private void Run(Stage stage, int chunks)
    {
        _stage = stage;
        if (chunks <= 1 || Threads == 1 || (long)Nnz * _batch < 32_768)
            for (int t = 0; t < chunks; t++) RunChunk(t);
        else
            Parallel.For(0, chunks, _options, _body);
    }

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
                        for (int q = _tOffsets[c0]; q < _tOffsets[c1]; q++) _tValues[q] = _values[_perm[q]];
                    break;
                }
            case Stage.ForwardOut:
                {
                    // y^T[r0:r1, :] = W[r0:r1, :] x^T, then y[:, r0:r1] = its transpose
                    int r0 = _rowBounds[t], r1 = _rowBounds[t + 1];
                    fixed (int* ro = _ro, ci = _ci)
                        SpmmRows(r0, r1, ro, ci, _values, _xT, n, _yT);
                    Transpose(_yT + (long)r0 * n, n, r1 - r0, n, _y + r0, Out);
                    break;
                }
            case Stage.BackwardOut:
                {
                    // dy[:, r0:r1] -> dy^T[r0:r1, :]; dW at these rows
                    int r0 = _rowBounds[t], r1 = _rowBounds[t + 1];
                    if (_dyS1 == 1 && _dyS0 == Out) Transpose(_dy + r0, Out, n, r1 - r0, _dyT + (long)r0 * n, n);
                    else
                        for (int r = r0; r < r1; r++)
                            for (int b = 0; b < n; b++) _dyT[(long)r * n + b] = _dy[b * _dyS0 + r * _dyS1];
                    if (_dW != null)
                        fixed (int* ro = _ro, ci = _ci)
                            SddmmRows(r0, r1, ro, ci, _dyT, _xT, n, _dW);
                    break;
                }
            case Stage.BackwardIn:
                {
                    // dx^T[c0:c1, :] = W^T[c0:c1, :] dy^T, then dx[:, c0:c1] = its transpose
                    int c0 = _colBounds[t], c1 = _colBounds[t + 1];
                    fixed (int* to = _tOffsets, tr = _tRows)
                        SpmmRows(c0, c1, to, tr, _tValues, _dyT, n, _dxT);
                    Transpose(_dxT + (long)c0 * n, n, c1 - c0, n, _dx + c0, In);
                    break;
                }
        }
    }

    // ------------------------------------------------------------------ kernels

    private static int VC => Vector<float>.Count;

    /// <summary>c[i, :] = sum over row i's entries p of v[p] * b[ci[p], :], rows [r0, r1); b and c have n columns.</summary>
    internal static void SpmmRows(int r0, int r1, int* ro, int* ci, float* v, float* b, int n, float* c)
    {
        int vc = VC, panel = 8 * vc, full = n - n % panel;
        // column panels outermost: a panel's slice of b (k x 8 vectors) stays in L2 while the rows run over it
        for (int j = 0; j < full; j += panel)
            for (int i = r0; i < r1; i++)
            {
                Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector<float> a4 = default, a5 = default, a6 = default, a7 = default;
                for (int p = ro[i], end = ro[i + 1]; p < end; p++)
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
                float* cr = c + (long)i * n + j;
                a0.Store(cr); a1.Store(cr + vc); a2.Store(cr + 2 * vc); a3.Store(cr + 3 * vc);
                a4.Store(cr + 4 * vc); a5.Store(cr + 5 * vc); a6.Store(cr + 6 * vc); a7.Store(cr + 7 * vc);
            }
        if (full == n) return;
        for (int i = r0; i < r1; i++)
        {
            float* cr = c + (long)i * n;
            int j = full;
            for (; j + vc <= n; j += vc)
            {
                Vector<float> a0 = default;
                for (int p = ro[i], end = ro[i + 1]; p < end; p++)
                    a0 = Vector.FusedMultiplyAdd(Vector.Load(b + (long)ci[p] * n + j), new Vector<float>(v[p]), a0);
                a0.Store(cr + j);
            }
            for (; j < n; j++)
            {
                float acc = 0;
                for (int p = ro[i], end = ro[i + 1]; p < end; p++) acc = MathF.FusedMultiplyAdd(v[p], b[(long)ci[p] * n + j], acc);
                cr[j] = acc;
            }
        }
    }

    /// <summary>dW[p] = dot(x[i, :], y[ci[p], :]) for the entries p of rows [r0, r1); x and y have n columns.</summary>
    internal static void SddmmRows(int r0, int r1, int* ro, int* ci, float* x, float* y, int n, float* dW)
    {
        if (n == 0)
        {
            for (int p = ro[r0]; p < ro[r1]; p++) dW[p] = 0;
            return;
        }
        int vc = VC, panel = 8 * vc, full = n - n % panel;
        for (int j = 0; j < full; j += panel)
        {
            bool first = j == 0;
            for (int i = r0; i < r1; i++)
            {
                float* xr = x + (long)i * n + j;
                var d0 = Vector.Load(xr); var d1 = Vector.Load(xr + vc); var d2 = Vector.Load(xr + 2 * vc);
                var d3 = Vector.Load(xr + 3 * vc); var d4 = Vector.Load(xr + 4 * vc); var d5 = Vector.Load(xr + 5 * vc);
                var d6 = Vector.Load(xr + 6 * vc); var d7 = Vector.Load(xr + 7 * vc);
                int p = ro[i], end = ro[i + 1];
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
            for (int p = ro[i], end = ro[i + 1]; p < end; p++)
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

    /// <summary>dst[c * ldd + r] = src[r * lds + c] for r &lt; rows, c &lt; cols: 8 x 8 register blocks where AVX is there.</summary>
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
