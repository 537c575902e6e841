using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Linalg;

/// <summary>
/// A cuBLAS handle bound to one CUDA device and stream. <see cref="Sgemm"/> works on row-major device
/// tensors (the engine's layout); the row-major to column-major mapping is done once, in <see cref="RowMajorGemm"/>.
/// </summary>
public sealed class CublasContext : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CudaStream _stream;
    private readonly CublasHandle _handle;
    private readonly object _lock = new();

    /// <summary>Creates a handle on <paramref name="device"/> (must be a CUDA device), working on <paramref name="stream"/> (default: the device's stream).</summary>
    public CublasContext(IDevice device, DeviceStream? stream = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device as CudaDevice
            ?? throw new NotSupportedException($"cuBLAS needs a CUDA device; '{device.Name}' is a {device.Kind} device.");
        _stream = _device.StreamOf(stream);
        _handle = CublasHandle.Create(_device.Context);
        using var scope = _device.Context.Enter();
        CublasNative.Check(CublasNative.cublasSetStream_v2(_handle.DangerousGetHandle(), _stream.Raw), nameof(CublasNative.cublasSetStream_v2));
        CublasNative.Check(CublasNative.cublasSetMathMode(_handle.DangerousGetHandle(), CublasNative.CUBLAS_DEFAULT_MATH), nameof(CublasNative.cublasSetMathMode));
        CublasNative.Check(CublasNative.cublasGetVersion_v2(_handle.DangerousGetHandle(), out int v), nameof(CublasNative.cublasGetVersion_v2));
        Version = v;
    }

    /// <summary>The CUDA device the handle is bound to.</summary>
    public IDevice Device => _device;

    /// <summary>cublasGetVersion (e.g. 111103 for 11.11.3).</summary>
    public int Version { get; }

    /// <summary>The version of the cuBLAS library that would be loaded, without a device; throws <see cref="CudaUnavailableException"/> if it cannot be loaded.</summary>
    public static string LibraryVersion() => CublasNative.LibraryVersion();

    /// <summary>The file cuBLAS was loaded from (null before it was loaded or when it could not be).</summary>
    public static string? LibraryFile => NativeLibraries.ResolvedFile(NativeLibraries.Cublas);

    /// <summary>
    /// c = alpha * op(a) * op(b) + beta * c on row-major device tensors, op(x) = x^T when its flag is set.
    /// With <paramref name="tf32"/> the products use TF32 tensor cores (about 10 mantissa bits).
    /// </summary>
    public void Sgemm(DenseTensor a, DenseTensor b, DenseTensor c, bool transA, bool transB, float alpha = 1, float beta = 0, bool tf32 = false)
    {
        CheckOnDevice(a, nameof(a)); CheckOnDevice(b, nameof(b)); CheckOnDevice(c, nameof(c));
        int m = transA ? a.Cols : a.Rows, k = transA ? a.Rows : a.Cols;
        int kb = transB ? b.Cols : b.Rows, n = transB ? b.Rows : b.Cols;
        string opA = transA ? $"a^T ({m}x{k}, a is {a.Rows}x{a.Cols})" : $"a ({a.Rows}x{a.Cols})";
        string opB = transB ? $"b^T ({kb}x{n}, b is {b.Rows}x{b.Cols})" : $"b ({b.Rows}x{b.Cols})";
        if (kb != k)
            throw new ArgumentException($"Sgemm: inner dimensions differ: {opA} times {opB} needs {k} = {kb}.", nameof(b));
        if (c.Rows != m || c.Cols != n)
            throw new ArgumentException($"Sgemm: c is {c.Rows}x{c.Cols} but {opA} times {opB} is {m}x{n}.", nameof(c));
        if (m == 0 || n == 0) return;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            using var scope = _device.Context.Enter();
            RowMajorGemm(_handle.DangerousGetHandle(), transA, transB, m, n, k, alpha, a, b, beta, c, tf32);
        }
    }

    /// <summary>
    /// Row-major C[m x n] = op(A) op(B) is column-major C^T[n x m] = op(B)^T op(A)^T. A row-major matrix
    /// seen column-major is its transpose with ld = its column count, so cuBLAS gets B first, then A,
    /// with the same transpose flags, m and n swapped, and each ld = that tensor's column count.
    /// </summary>
    private static void RowMajorGemm(IntPtr handle, bool transA, bool transB, int m, int n, int k, float alpha, DenseTensor a, DenseTensor b,
        float beta, DenseTensor c, bool tf32)
        => CublasNative.Sgemm(handle, transB, transA, n, m, k, alpha,
            b.DeviceData.Pointer.Address, Math.Max(1, b.Cols),
            a.DeviceData.Pointer.Address, Math.Max(1, a.Cols),
            beta, c.DeviceData.Pointer.Address, Math.Max(1, c.Cols), tf32);

    private void CheckOnDevice(DenseTensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (!t.IsOnDevice) throw new ArgumentException($"Sgemm: {name} ({t.Rows}x{t.Cols}) is on the host; copy it to the device first.", name);
        if (t.Device != _device) throw new ArgumentException($"Sgemm: {name} lives on '{t.Device!.Name}', not on this context's device '{_device.Name}'.", name);
    }

    /// <inheritdoc/>
    public void Dispose() => _handle.Dispose();
}
