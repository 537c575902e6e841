using System.Runtime.CompilerServices;
using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>
/// A typed array in device memory. Freed on <see cref="Dispose"/>; if forgotten, the SafeHandle's
/// finalizer frees it in the context that allocated it (never in whatever context is current).
/// </summary>
public sealed class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    private readonly DeviceMemoryHandle _memory;

    internal DeviceBuffer(IDevice device, DeviceMemoryHandle memory, long length)
    {
        Device = device;
        _memory = memory;
        Length = length;
    }

    /// <summary>The device that owns the memory.</summary>
    public IDevice Device { get; }
    /// <summary>The number of elements of <typeparamref name="T"/>.</summary>
    public long Length { get; }
    /// <summary>The size of the buffer in bytes: <see cref="Length"/> times the size of <typeparamref name="T"/>.</summary>
    public long SizeInBytes => Length * Unsafe.SizeOf<T>();
    /// <summary>Whether <see cref="Dispose"/> has run (the memory is returned and the buffer can no longer be used).</summary>
    public bool IsDisposed => _memory.IsClosed;

    /// <summary>The address of the first element. Throws once the buffer is disposed.</summary>
    internal DevicePtr Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_memory.IsClosed, this);
            return _memory.Pointer;
        }
    }

    /// <summary>The address of element <paramref name="index"/>.</summary>
    internal DevicePtr PointerAt(long index)
    {
        if ((ulong)index > (ulong)Length) throw new ArgumentOutOfRangeException(nameof(index), index, $"Index {index} is outside a buffer of {Length} elements.");
        return Pointer.Offset(index * Unsafe.SizeOf<T>());
    }

    internal DeviceMemoryHandle Memory => _memory;

    /// <summary>Copies <paramref name="source"/> into the buffer starting at element <paramref name="offset"/>, after the work queued on the device's default stream (synchronous for the host). Throws <see cref="ArgumentOutOfRangeException"/> when it does not fit.</summary>
    public void CopyFrom(ReadOnlySpan<T> source, long offset = 0) => Device.CopyToDevice(source, this, offset);
    /// <summary>Copies <paramref name="destination"/>.Length elements starting at element <paramref name="offset"/> to the host, after the work queued on the device's default stream. Throws <see cref="ArgumentOutOfRangeException"/> when the range is outside the buffer.</summary>
    public void CopyTo(Span<T> destination, long offset = 0) => Device.CopyToHost(this, offset, destination);

    /// <summary>Copies the whole buffer to a new host array (after the work queued on the default stream). Throws <see cref="OverflowException"/> for more than <see cref="int.MaxValue"/> elements.</summary>
    public T[] ToArray()
    {
        var result = new T[checked((int)Length)];
        CopyTo(result);
        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => _memory.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"DeviceBuffer<{typeof(T).Name}>[{Length}] at {(_memory.IsClosed ? "(disposed)" : _memory.Pointer.ToString())}";
}

/// <summary>An ordered queue of device work.</summary>
public abstract class DeviceStream : IDisposable
{
    /// <summary>The device whose work this stream orders.</summary>
    public abstract IDevice Device { get; }
    /// <summary>Blocks until all work queued on the stream has finished.</summary>
    public abstract void Synchronize();
    /// <inheritdoc/>
    public virtual void Dispose() { GC.SuppressFinalize(this); }
}

/// <summary>A marker in a stream, for timing and ordering.</summary>
public abstract class DeviceEvent : IDisposable
{
    /// <summary>Records the event on <paramref name="stream"/> (default: the device's default stream); it completes when the work queued before it has.</summary>
    public abstract void Record(DeviceStream? stream = null);
    /// <summary>Blocks until the work recorded before the event has finished.</summary>
    public abstract void Synchronize();
    /// <summary>Milliseconds between <paramref name="start"/> and this event (both recorded and completed).</summary>
    public abstract float ElapsedMillisecondsSince(DeviceEvent start);
    /// <inheritdoc/>
    public virtual void Dispose() { GC.SuppressFinalize(this); }
}
