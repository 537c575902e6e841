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

    public IDevice Device { get; }
    public long Length { get; }
    public long SizeInBytes => Length * Unsafe.SizeOf<T>();
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

    public void CopyFrom(ReadOnlySpan<T> source, long offset = 0) => Device.CopyToDevice(source, this, offset);
    public void CopyTo(Span<T> destination, long offset = 0) => Device.CopyToHost(this, offset, destination);

    public T[] ToArray()
    {
        var result = new T[checked((int)Length)];
        CopyTo(result);
        return result;
    }

    public void Dispose() => _memory.Dispose();

    public override string ToString() => $"DeviceBuffer<{typeof(T).Name}>[{Length}] at {(_memory.IsClosed ? "(disposed)" : _memory.Pointer.ToString())}";
}

/// <summary>An ordered queue of device work.</summary>
public abstract class DeviceStream : IDisposable
{
    public abstract IDevice Device { get; }
    /// <summary>Blocks until all work queued on the stream has finished.</summary>
    public abstract void Synchronize();
    public virtual void Dispose() { GC.SuppressFinalize(this); }
}

/// <summary>A marker in a stream, for timing and ordering.</summary>
public abstract class DeviceEvent : IDisposable
{
    public abstract void Record(DeviceStream? stream = null);
    public abstract void Synchronize();
    /// <summary>Milliseconds between <paramref name="start"/> and this event (both recorded and completed).</summary>
    public abstract float ElapsedMillisecondsSince(DeviceEvent start);
    public virtual void Dispose() { GC.SuppressFinalize(this); }
}
