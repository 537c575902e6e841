using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Linalg;

/// <summary>cuSPARSE SpMM algorithms for CSR (cusparseSpMMAlg_t values).</summary>
public enum CusparseSpmmAlgorithm
{
    /// <summary>cuSPARSE's default choice (<c>CUSPARSE_SPMM_ALG_DEFAULT</c>).</summary>
    Default = CusparseNative.CUSPARSE_SPMM_ALG_DEFAULT,
    /// <c>CUSPARSE_SPMM_CSR_ALG1</c>: deterministic, no preprocessing.
    CsrAlg1 = CusparseNative.CUSPARSE_SPMM_CSR_ALG1,
    /// <c>CUSPARSE_SPMM_CSR_ALG2</c>: deterministic, for row-major dense operands.
    CsrAlg2 = CusparseNative.CUSPARSE_SPMM_CSR_ALG2,
    /// <c>CUSPARSE_SPMM_CSR_ALG3</c>: with a preprocessing step (done when a plan is made).
    CsrAlg3 = CusparseNative.CUSPARSE_SPMM_CSR_ALG3,
}

/// <summary>
/// A cuSPARSE handle bound to one CUDA device and stream, with the generic-API SpMM and SDDMM on the
/// engine's row-major dense tensors and CSR matrices. Workspaces are sized by the _bufferSize calls
/// and kept (grown when needed) for reuse.
/// </summary>
public sealed class CusparseContext : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CudaStream _stream;
    private readonly CusparseHandle _handle;
    private readonly object _lock = new();
    private DeviceBuffer<byte>? _workspace;

    /// <summary>Creates a cuSPARSE handle on <paramref name="device"/> bound to <paramref name="stream"/> (default: the device's stream). Throws <see cref="NotSupportedException"/> for a device that is not a CUDA GPU and <see cref="SparseKernels.Native.CudaUnavailableException"/> when cuSPARSE cannot be loaded.</summary>
    public CusparseContext(IDevice device, DeviceStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device as CudaDevice
            ?? throw new NotSupportedException($"cuSPARSE needs a CUDA device; '{device.Name}' is a {device.Kind} device.");
        _stream = _device.StreamOf(stream);
        _handle = CusparseHandle.Create(_device.Context);
        using var scope = _device.Context.Enter();
        CusparseNative.Check(CusparseNative.cusparseSetStream(_handle.DangerousGetHandle(), _stream.Raw), nameof(CusparseNative.cusparseSetStream));
        CusparseNative.Check(CusparseNative.cusparseGetVersion(_handle.DangerousGetHandle(), out int v), nameof(CusparseNative.cusparseGetVersion));
        Version = v;
    }

    /// <summary>The CUDA device the handle is bound to.</summary>
    public IDevice Device => _device;

    /// <summary>cusparseGetVersion (e.g. 11703).</summary>
    public int Version { get; }

    /// <summary>The bytes of workspace currently kept.</summary>
    public long WorkspaceBytes => _workspace?.Length ?? 0;

    /// <summary>The version of the cuSPARSE library that would be loaded, without a device; throws <see cref="CudaUnavailableException"/> if it cannot be loaded.</summary>
    public static string LibraryVersion() => CusparseNative.LibraryVersion();

    /// <summary>The path of the cuSPARSE library that was loaded or would be, or null when none is found.</summary>
    public static string? LibraryFile => NativeLibraries.ResolvedFile(NativeLibraries.Cusparse);

    /// <summary>
    /// c = alpha * op(a) * b + beta * c: a is CSR (op(a) = a^T when <paramref name="transposeA"/>), b and c are
    /// row-major dense. Without transpose a is MxK, b KxN, c MxN; with it a is KxM.
    /// </summary>
    public void Spmm(CsrMatrix a, DenseTensor b, DenseTensor c, bool transposeA = false, CusparseSpmmAlgorithm algorithm = CusparseSpmmAlgorithm.Default,
        float alpha = 1, float beta = 0)
    {
        CheckOnDevice(a, nameof(a)); CheckOnDevice(b, nameof(b)); CheckOnDevice(c, nameof(c));
        int m = transposeA ? a.Cols : a.Rows, k = transposeA ? a.Rows : a.Cols;
        string opA = transposeA ? $"a^T ({m}x{k}, a is {a.Rows}x{a.Cols})" : $"a ({a.Rows}x{a.Cols})";
        if (b.Rows != k)
            throw new ArgumentException($"Spmm: {opA} times b ({b.Rows}x{b.Cols}) needs b to have {k} rows.", nameof(b));
        if (c.Rows != m || c.Cols != b.Cols)
            throw new ArgumentException($"Spmm: c is {c.Rows}x{c.Cols} but {opA} times b ({b.Rows}x{b.Cols}) is {m}x{b.Cols}.", nameof(c));
        if (transposeA && algorithm == CusparseSpmmAlgorithm.CsrAlg3)
            throw new ArgumentException("Spmm: CUSPARSE_SPMM_CSR_ALG3 supports only a non-transposed A; use Default, CsrAlg1 or CsrAlg2.", nameof(algorithm));
        if (m == 0 || b.Cols == 0) return;
        if (a.Nnz == 0)
        {
            // op(a) is all zeros, so c = beta * c; cuSPARSE is not called (it rejects null index arrays).
            if (beta == 0) _device.Fill32(c.DeviceData, 0, _stream);
            else if (beta != 1) Ops.Elementwise.Scale(_device, beta, c.DeviceData, c.DeviceData, _stream);
            return;
        }
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            using var scope = _device.Context.Enter();
            using var da = Csr(a);
            using var db = CusparseDnMatHandle.RowMajor(b.Rows, b.Cols, b.DeviceData.Pointer);
            using var dc = CusparseDnMatHandle.RowMajor(c.Rows, c.Cols, c.DeviceData.Pointer);
            IntPtr h = _handle.DangerousGetHandle();
            long size = CusparseNative.SpmmBufferSize(h, transposeA, da.DangerousGetHandle(), db.DangerousGetHandle(), dc.DangerousGetHandle(), alpha, beta, (int)algorithm);
            CusparseNative.Spmm(h, transposeA, da.DangerousGetHandle(), db.DangerousGetHandle(), dc.DangerousGetHandle(), alpha, beta, (int)algorithm, Workspace(size));
        }
    }

    /// <summary>
    /// For each nonzero (i, j) of the MxN <paramref name="pattern"/>: pattern.value = sum_k x[i,k] * y[j,k]
    /// (x.y^T sampled at the pattern), x MxK and y NxK row-major. The pattern's values are overwritten.
    /// </summary>
    public void Sddmm(DenseTensor x, DenseTensor y, CsrMatrix pattern)
    {
        CheckOnDevice(x, nameof(x)); CheckOnDevice(y, nameof(y)); CheckOnDevice(pattern, nameof(pattern));
        if (x.Rows != pattern.Rows)
            throw new ArgumentException($"Sddmm: x is {x.Rows}x{x.Cols} but the pattern is {pattern.Rows}x{pattern.Cols}; x needs {pattern.Rows} rows.", nameof(x));
        if (y.Rows != pattern.Cols)
            throw new ArgumentException($"Sddmm: y is {y.Rows}x{y.Cols} but the pattern is {pattern.Rows}x{pattern.Cols}; y needs {pattern.Cols} rows.", nameof(y));
        if (y.Cols != x.Cols)
            throw new ArgumentException($"Sddmm: x is {x.Rows}x{x.Cols} and y is {y.Rows}x{y.Cols}; their column counts (K) must agree.", nameof(y));
        if (pattern.Nnz == 0) return;
        if (x.Cols == 0) { _device.Fill32(pattern.DeviceValues, 0, _stream); return; }
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            using var scope = _device.Context.Enter();
            using var dx = CusparseDnMatHandle.RowMajor(x.Rows, x.Cols, x.DeviceData.Pointer);
            using var dy = CusparseDnMatHandle.RowMajor(y.Rows, y.Cols, y.DeviceData.Pointer);
            using var dp = Csr(pattern);
            IntPtr h = _handle.DangerousGetHandle();
            // C = 1 * (x * y^T) o spy(C) + 0 * C
            long size = CusparseNative.SddmmBufferSize(h, false, true, dx.DangerousGetHandle(), dy.DangerousGetHandle(), dp.DangerousGetHandle(), 1f, 0f);
            CusparseNative.Sddmm(h, false, true, dx.DangerousGetHandle(), dy.DangerousGetHandle(), dp.DangerousGetHandle(), 1f, 0f, Workspace(size));
        }
    }

    /// <summary>
    /// A prepared SpMM c = op(a) * b on these operands: descriptors, workspace (and, for CSR ALG3, cuSPARSE's
    /// preprocessing) made once here, so <see cref="CusparseSpmmPlan.Run"/> queues only the product. For repeated
    /// products on fixed buffers (benchmarks). The operands must outlive the plan.
    /// </summary>
    public CusparseSpmmPlan PrepareSpmm(CsrMatrix a, DenseTensor b, DenseTensor c, bool transposeA = false,
        CusparseSpmmAlgorithm algorithm = CusparseSpmmAlgorithm.Default, float alpha = 1, float beta = 0)
    {
        CheckOnDevice(a, nameof(a)); CheckOnDevice(b, nameof(b)); CheckOnDevice(c, nameof(c));
        int m = transposeA ? a.Cols : a.Rows, k = transposeA ? a.Rows : a.Cols;
        if (b.Rows != k || c.Rows != m || c.Cols != b.Cols)
            throw new ArgumentException($"PrepareSpmm: op(a) is {m}x{k}, b {b.Rows}x{b.Cols}, c {c.Rows}x{c.Cols}: the shapes do not chain.");
        if (transposeA && algorithm == CusparseSpmmAlgorithm.CsrAlg3)
            throw new ArgumentException("PrepareSpmm: CUSPARSE_SPMM_CSR_ALG3 supports only a non-transposed A.", nameof(algorithm));
        if (a.Nnz == 0 || m == 0 || b.Cols == 0)
            throw new ArgumentException($"PrepareSpmm: a ({a.Rows}x{a.Cols}, {a.Nnz} nonzeros) times b ({b.Rows}x{b.Cols}) is empty; use Spmm.", nameof(a));
        return new CusparseSpmmPlan(this, a, b, c, transposeA, algorithm, alpha, beta);
    }

    /// <summary>
    /// A prepared SDDMM (see <see cref="Sddmm"/>): descriptors, workspace and cusparseSDDMM_preprocess done once here,
    /// so <see cref="CusparseSddmmPlan.Run"/> queues only cusparseSDDMM. The operands must outlive the plan.
    /// </summary>
    public CusparseSddmmPlan PrepareSddmm(DenseTensor x, DenseTensor y, CsrMatrix pattern)
    {
        CheckOnDevice(x, nameof(x)); CheckOnDevice(y, nameof(y)); CheckOnDevice(pattern, nameof(pattern));
        if (x.Rows != pattern.Rows || y.Rows != pattern.Cols || y.Cols != x.Cols)
            throw new ArgumentException($"PrepareSddmm: x {x.Rows}x{x.Cols}, y {y.Rows}x{y.Cols} and the {pattern.Rows}x{pattern.Cols} pattern do not agree.");
        if (pattern.Nnz == 0 || x.Cols == 0)
            throw new ArgumentException($"PrepareSddmm: the pattern has {pattern.Nnz} nonzeros and K = {x.Cols}: nothing to prepare; use Sddmm.", nameof(pattern));
        return new CusparseSddmmPlan(this, x, y, pattern);
    }

    internal CudaDevice CudaDevice => _device;
    internal object Lock => _lock;
    internal IntPtr RawHandle { get { ObjectDisposedException.ThrowIf(_handle.IsClosed, this); return _handle.DangerousGetHandle(); } }

    internal static CusparseSpMatHandle Csr(CsrMatrix m)
        => CusparseSpMatHandle.Csr(m.Rows, m.Cols, m.Nnz, m.DeviceRowOffsets.Pointer, m.DeviceColumnIndices.Pointer, m.DeviceValues.Pointer);

    /// <summary>A workspace of at least <paramref name="bytes"/> (kept; grown, never shrunk). The previous one is freed after the stream's queued work.</summary>
    private ulong Workspace(long bytes)
    {
        if (bytes <= 0) return _workspace?.Pointer.Address ?? 0;
        if (_workspace is null || _workspace.Length < bytes)
        {
            if (_workspace is not null) { _stream.Synchronize(); _workspace.Dispose(); }
            _workspace = _device.Allocate<byte>(bytes);
        }
        return _workspace.Pointer.Address;
    }

    private void CheckOnDevice(DenseTensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (!t.IsOnDevice) throw new ArgumentException($"{name} ({t.Rows}x{t.Cols}) is on the host; copy it to the device first.", name);
        if (t.Device != _device) throw new ArgumentException($"{name} lives on '{t.Device!.Name}', not on this context's device '{_device.Name}'.", name);
    }

    private void CheckOnDevice(CsrMatrix m, string name)
    {
        ArgumentNullException.ThrowIfNull(m, name);
        if (!m.IsOnDevice) throw new ArgumentException($"{name} ({m.Rows}x{m.Cols} CSR) is on the host; copy it to the device first.", name);
        if (m.Device != _device) throw new ArgumentException($"{name} lives on '{m.Device!.Name}', not on this context's device '{_device.Name}'.", name);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_workspace is not null && !_handle.IsClosed)
            {
                try { _stream.Synchronize(); } catch (CudaException) { } catch (ObjectDisposedException) { } // work using the workspace may still be queued
            }
            _workspace?.Dispose();
            _workspace = null;
            _handle.Dispose();
        }
    }
}

/// <summary>A cuSPARSE SpMM whose descriptors and workspace were made once (<see cref="CusparseContext.PrepareSpmm"/>).</summary>
public sealed class CusparseSpmmPlan : IDisposable
{
    private readonly CusparseContext _context;
    private readonly CusparseSpMatHandle _a;
    private readonly CusparseDnMatHandle _b, _c;
    private readonly DeviceBuffer<byte>? _workspace;
    private readonly bool _transposeA;
    private readonly int _algorithm;
    private readonly float _alpha, _beta;

    internal CusparseSpmmPlan(CusparseContext context, CsrMatrix a, DenseTensor b, DenseTensor c, bool transposeA, CusparseSpmmAlgorithm algorithm, float alpha, float beta)
    {
        _context = context; _transposeA = transposeA; _algorithm = (int)algorithm; _alpha = alpha; _beta = beta;
        Algorithm = algorithm;
        var device = context.CudaDevice;
        lock (context.Lock)
        {
            using var scope = device.Context.Enter();
            _a = CusparseContext.Csr(a);
            _b = CusparseDnMatHandle.RowMajor(b.Rows, b.Cols, b.DeviceData.Pointer);
            _c = CusparseDnMatHandle.RowMajor(c.Rows, c.Cols, c.DeviceData.Pointer);
            IntPtr h = context.RawHandle;
            long size = CusparseNative.SpmmBufferSize(h, transposeA, _a.DangerousGetHandle(), _b.DangerousGetHandle(), _c.DangerousGetHandle(), alpha, beta, _algorithm);
            if (size > 0) _workspace = device.Allocate<byte>(size);
            WorkspaceBytes = size;
            if (algorithm == CusparseSpmmAlgorithm.CsrAlg3)
                CusparseNative.SpmmPreprocess(h, transposeA, _a.DangerousGetHandle(), _b.DangerousGetHandle(), _c.DangerousGetHandle(), alpha, beta, _algorithm, Buffer);
        }
    }

    /// <summary>The SpMM algorithm the plan was made for.</summary>
    public CusparseSpmmAlgorithm Algorithm { get; }

    /// <summary>The workspace cuSPARSE asked for, in bytes.</summary>
    public long WorkspaceBytes { get; }

    private ulong Buffer => _workspace?.Pointer.Address ?? 0;

    /// <summary>Queues the product on the context's stream.</summary>
    public void Run()
    {
        lock (_context.Lock)
        {
            using var scope = _context.CudaDevice.Context.Enter();
            CusparseNative.Spmm(_context.RawHandle, _transposeA, _a.DangerousGetHandle(), _b.DangerousGetHandle(), _c.DangerousGetHandle(), _alpha, _beta, _algorithm, Buffer);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try { _context.CudaDevice.Synchronize(); } catch (Exception e) when (e is CudaException or ObjectDisposedException) { }
        _workspace?.Dispose(); _c.Dispose(); _b.Dispose(); _a.Dispose();
    }
}

/// <summary>A cuSPARSE SDDMM whose descriptors, workspace and preprocessing were made once (<see cref="CusparseContext.PrepareSddmm"/>).</summary>
public sealed class CusparseSddmmPlan : IDisposable
{
    private readonly CusparseContext _context;
    private readonly CusparseDnMatHandle _x, _y;
    private readonly CusparseSpMatHandle _p;
    private readonly DeviceBuffer<byte>? _workspace;

    internal CusparseSddmmPlan(CusparseContext context, DenseTensor x, DenseTensor y, CsrMatrix pattern)
    {
        _context = context;
        var device = context.CudaDevice;
        lock (context.Lock)
        {
            using var scope = device.Context.Enter();
            _x = CusparseDnMatHandle.RowMajor(x.Rows, x.Cols, x.DeviceData.Pointer);
            _y = CusparseDnMatHandle.RowMajor(y.Rows, y.Cols, y.DeviceData.Pointer);
            _p = CusparseContext.Csr(pattern);
            IntPtr h = context.RawHandle;
            long size = CusparseNative.SddmmBufferSize(h, false, true, _x.DangerousGetHandle(), _y.DangerousGetHandle(), _p.DangerousGetHandle(), 1f, 0f);
            if (size > 0) _workspace = device.Allocate<byte>(size);
            WorkspaceBytes = size;
            CusparseNative.SddmmPreprocess(h, false, true, _x.DangerousGetHandle(), _y.DangerousGetHandle(), _p.DangerousGetHandle(), 1f, 0f, Buffer);
        }
    }

    /// <summary>The workspace cuSPARSE asked for, in bytes.</summary>
    public long WorkspaceBytes { get; }

    private ulong Buffer => _workspace?.Pointer.Address ?? 0;

    /// <summary>Queues cusparseSDDMM on the context's stream (the pattern's values are overwritten).</summary>
    public void Run()
    {
        lock (_context.Lock)
        {
            using var scope = _context.CudaDevice.Context.Enter();
            CusparseNative.SddmmCompute(_context.RawHandle, false, true, _x.DangerousGetHandle(), _y.DangerousGetHandle(), _p.DangerousGetHandle(), 1f, 0f, Buffer);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try { _context.CudaDevice.Synchronize(); } catch (Exception e) when (e is CudaException or ObjectDisposedException) { }
        _workspace?.Dispose(); _p.Dispose(); _y.Dispose(); _x.Dispose();
    }
}
