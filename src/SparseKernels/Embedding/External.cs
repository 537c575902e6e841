using System.Runtime.CompilerServices;
using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Embedding;

/// <summary>
/// The embedding API: run this engine's operations on device memory and streams that another framework owns
/// (PyTorch, TorchSharp, a custom CUDA program), with no copies. The only public API that takes raw device
/// addresses. Wrapped objects never free or destroy what they wrap; disposing them only detaches.
/// <para>
/// The memory must live in the context this engine uses, the device's primary context: memory from the CUDA
/// runtime (cudaMalloc, PyTorch's caching allocator) does. The caller keeps it alive while the wrapper is used,
/// and orders its own work against the stream it hands in.
/// </para>
/// </summary>
public static class External
{
    /// <summary>Wraps <paramref name="length"/> elements at <paramref name="address"/> on <paramref name="device"/> as a buffer (not owned).</summary>
    public static DeviceBuffer<T> WrapBuffer<T>(IDevice device, ulong address, long length) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (address == 0 && length > 0)
            throw new ArgumentException($"Cannot wrap {length} elements at the null address.", nameof(address));
        if (address % (ulong)Math.Min(Unsafe.SizeOf<T>(), 16) != 0)
            throw new ArgumentException($"Address 0x{address:x} is not aligned to {typeof(T).Name} ({Unsafe.SizeOf<T>()} bytes).", nameof(address));
        long bytes = checked(length * Unsafe.SizeOf<T>());
        return new DeviceBuffer<T>(device, new ExternalMemoryHandle(new DevicePtr(address), bytes), length);
    }

    /// <summary>Wraps a rows x cols row-major float32 matrix at <paramref name="address"/> (not owned).</summary>
    public static DenseTensor WrapDense(IDevice device, ulong address, int rows, int cols)
    {
        DenseTensor.CheckShape(rows, cols);
        return DenseTensor.FromDevice(WrapBuffer<float>(device, address, (long)rows * cols), rows, cols);
    }

    /// <summary>
    /// Wraps a CSR matrix whose three arrays live on the device (not owned, not validated: the caller vouches for
    /// sorted, unique, in-range column indices and offsets running from 0 to <paramref name="nnz"/>).
    /// The kernels cache a row order per pattern (the v2/v3 row swizzle): when the caller changes the row offsets or
    /// column indices in place, it must call <see cref="CsrMatrix.NotifyPatternChanged"/> before the next launch
    /// (a stale order stays a permutation of the rows, so results stay right, but the load balance is lost).
    /// </summary>
    public static CsrMatrix WrapCsr(IDevice device, int rows, int cols, int nnz, ulong rowOffsets, ulong columnIndices, ulong values)
    {
        if (rows < 0 || cols < 0 || nnz < 0)
            throw new ArgumentOutOfRangeException(nameof(rows), $"CSR shape {rows}x{cols} with {nnz} nonzeros has a negative count.");
        if ((long)nnz > (long)rows * cols)
            throw new ArgumentOutOfRangeException(nameof(nnz), $"A {rows}x{cols} matrix cannot hold {nnz} nonzeros.");
        return CsrMatrix.FromDevice(rows, cols, nnz,
            WrapBuffer<int>(device, rowOffsets, rows + 1),
            WrapBuffer<int>(device, columnIndices, nnz),
            WrapBuffer<float>(device, values, nnz));
    }

    /// <summary>Wraps a CUDA stream (a <c>CUstream</c>/<c>cudaStream_t</c>; 0 is the legacy default stream) of <paramref name="device"/> (not owned).</summary>
    public static DeviceStream WrapStream(CudaDevice device, nint stream)
    {
        ArgumentNullException.ThrowIfNull(device);
        return new CudaStream(device, CudaStreamHandle.WrapExternal(device.Context, stream));
    }

    /// <summary>The raw device address of a buffer, to hand to another framework (the buffer keeps owning it).</summary>
    public static ulong AddressOf<T>(DeviceBuffer<T> buffer) where T : unmanaged => buffer.Pointer.Address;
}
