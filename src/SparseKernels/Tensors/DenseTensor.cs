using SparseKernels.Runtime;

namespace SparseKernels.Tensors;

/// <summary>
/// A dense float32 matrix, row-major, on the host (a float[]) or on a device (a DeviceBuffer).
/// A tensor on the device owns its buffer; dispose it (or let the SafeHandle finalizer free it).
/// </summary>
public sealed class DenseTensor : IDisposable
{
    private readonly float[]? _host;
    private readonly DeviceBuffer<float>? _device;
    private readonly HostArrayPool? _pool;
    private bool _released;

    private DenseTensor(int rows, int cols, float[]? host, DeviceBuffer<float>? device, HostArrayPool? pool = null)
    {
        Rows = rows; Cols = cols; _host = host; _device = device; _pool = pool;
    }

    /// <summary>The number of rows.</summary>
    public int Rows { get; }
    /// <summary>The number of columns (the row stride: the layout is row-major).</summary>
    public int Cols { get; }
    /// <summary>Rows x Cols, the number of elements.</summary>
    public long Length => (long)Rows * Cols;
    /// <summary>Whether the data live on a device (<see cref="DeviceData"/>) rather than on the host (<see cref="HostData"/>).</summary>
    public bool IsOnDevice => _device is not null;
    /// <summary>The device holding the data, or null for a host tensor.</summary>
    public IDevice? Device => _device?.Device;

    /// <summary>The host data (row-major). Throws if the tensor lives on a device.</summary>
    public float[] HostData => _released ? throw Released()
        : _host ?? throw new InvalidOperationException(
            $"This {Rows}x{Cols} tensor lives on device '{_device!.Device.Name}'; call ToHost() first.");

    /// <summary>Whether the data came from a <see cref="HostArrayPool"/> (and go back to it on <see cref="Dispose"/>).</summary>
    internal bool IsPooled => _pool is not null;

    /// <summary>The device data. Throws if the tensor lives on the host.</summary>
    public DeviceBuffer<float> DeviceData => _device ?? throw new InvalidOperationException($"This {Rows}x{Cols} tensor lives on the host; call ToDevice(device) first.");

    /// <summary>The host data as a span (row-major). Throws <see cref="InvalidOperationException"/> for a device tensor.</summary>
    public Span<float> Span => HostData;

    /// <summary>The element at (<paramref name="row"/>, <paramref name="col"/>) of a host tensor. Throws <see cref="ArgumentOutOfRangeException"/> outside the shape and <see cref="InvalidOperationException"/> for a device tensor.</summary>
    public float this[int row, int col]
    {
        get { CheckIndex(row, col); return HostData[(long)row * Cols + col]; }
        set { CheckIndex(row, col); HostData[(long)row * Cols + col] = value; }
    }

    /// <summary>A new host tensor of <paramref name="rows"/> x <paramref name="cols"/> zeros. Throws <see cref="ArgumentOutOfRangeException"/> for a negative or too large shape.</summary>
    public static DenseTensor Zeros(int rows, int cols)
    {
        CheckShape(rows, cols);
        return new DenseTensor(rows, cols, new float[checked(rows * cols)], null);
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) as a rows x cols row-major matrix.</summary>
    public static DenseTensor FromArray(int rows, int cols, float[] data)
    {
        CheckShape(rows, cols);
        ArgumentNullException.ThrowIfNull(data);
        if (data.LongLength != (long)rows * cols)
            throw new ArgumentException($"A {rows}x{cols} tensor needs {(long)rows * cols} values; the array has {data.LongLength}.", nameof(data));
        return new DenseTensor(rows, cols, data, null);
    }

    /// <summary>
    /// An uninitialised rows x cols host tensor whose array comes from <paramref name="pool"/> and goes back to it on
    /// <see cref="Dispose"/>; afterwards its data can no longer be read (<see cref="ObjectDisposedException"/>).
    /// </summary>
    internal static DenseTensor Rent(HostArrayPool pool, int rows, int cols)
    {
        CheckShape(rows, cols);
        return new DenseTensor(rows, cols, pool.Rent(rows * cols), null, pool);
    }

    /// <summary>The same host data as a rows x cols tensor, taking over this tensor's array (and its pool); this one is spent.</summary>
    internal DenseTensor Reshaped(int rows, int cols)
    {
        var data = HostData;
        if ((long)rows * cols != data.LongLength)
            throw new ArgumentException($"Cannot view a {Rows}x{Cols} tensor as {rows}x{cols}.", nameof(rows));
        if (_pool is null) return FromArray(rows, cols, data);
        _released = true;
        return new DenseTensor(rows, cols, data, null, _pool);
    }

    /// <summary>An uninitialised rows x cols tensor on <paramref name="device"/>.</summary>
    public static DenseTensor Allocate(IDevice device, int rows, int cols)
    {
        CheckShape(rows, cols);
        return new DenseTensor(rows, cols, null, device.Allocate<float>((long)rows * cols));
    }

    /// <summary>Wraps an existing device buffer (taking ownership of it).</summary>
    public static DenseTensor FromDevice(DeviceBuffer<float> buffer, int rows, int cols)
    {
        CheckShape(rows, cols);
        if (buffer.Length != (long)rows * cols)
            throw new ArgumentException($"A {rows}x{cols} tensor needs {(long)rows * cols} values; the buffer has {buffer.Length}.", nameof(buffer));
        return new DenseTensor(rows, cols, null, buffer);
    }

    /// <summary>A copy on <paramref name="device"/>.</summary>
    public DenseTensor ToDevice(IDevice device)
    {
        var buffer = device.Allocate<float>(Length);
        if (_host is not null) buffer.CopyFrom(HostData);
        else device.CopyDeviceToDevice(_device!, 0, buffer, 0, Length);
        return new DenseTensor(Rows, Cols, null, buffer);
    }

    /// <summary>A copy on the host.</summary>
    public DenseTensor ToHost()
    {
        if (_host is not null) return new DenseTensor(Rows, Cols, (float[])HostData.Clone(), null);
        return new DenseTensor(Rows, Cols, _device!.ToArray(), null);
    }

    /// <summary>
    /// The values as a host array: a copy when on a device or when the host array belongs to a pool (it is reused
    /// once the tensor is disposed), else the array itself.
    /// </summary>
    public float[] ToArray() => _pool is not null ? (float[])HostData.Clone() : _host ?? _device!.ToArray();

    /// <summary>The transpose (Cols x Rows) as a new host tensor; a cache-blocked copy.</summary>
    public DenseTensor Transpose()
    {
        float[] src = HostData;
        var dst = new float[src.Length];
        TransposeInto(src, Rows, Cols, dst);
        return new DenseTensor(Cols, Rows, dst, null);
    }

    /// <summary>dst (cols x rows) = transpose of src (rows x cols), both row-major, in 32x32 tiles.</summary>
    internal static void TransposeInto(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        const int T = 32;
        for (int r0 = 0; r0 < rows; r0 += T)
        {
            int r1 = Math.Min(rows, r0 + T);
            for (int c0 = 0; c0 < cols; c0 += T)
            {
                int c1 = Math.Min(cols, c0 + T);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        dst[c * rows + r] = src[r * cols + c];
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_pool is not null)
        {
            if (!_released) { _released = true; _pool.Return(_host!); }
            return;
        }
        _device?.Dispose();
    }

    private ObjectDisposedException Released()
        => new(nameof(DenseTensor), $"This {Rows}x{Cols} tensor was disposed and its pooled array reused.");

    /// <inheritdoc/>
    public override string ToString() => $"DenseTensor {Rows}x{Cols} on {(IsOnDevice ? _device!.Device.Name : "host")}";

    private void CheckIndex(int row, int col)
    {
        if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
#pragma warning disable CA2201 // an indexer out of range throws what an array indexer throws
            throw new IndexOutOfRangeException($"Index ({row}, {col}) is outside a {Rows}x{Cols} tensor.");
#pragma warning restore CA2201
    }

    internal static void CheckShape(int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"Shape {rows}x{cols} has a negative dimension.");
        if ((long)rows * cols > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(rows), $"Shape {rows}x{cols} has more elements than an array can hold.");
    }
}
