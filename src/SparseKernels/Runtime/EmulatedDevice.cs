using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>A launch on the emulated device failed a check (out-of-bounds access, shared-memory race, deadlock ...) or was invalid.</summary>
public sealed class EmulatedLaunchException : Exception
{
    /// <summary>The <c>extern "C"</c> name of the kernel whose launch failed.</summary>
    public string KernelName { get; }
    internal LaunchConfig Config { get; }
    /// <summary>The emulator's own message (names kernel, block, thread and address where it can).</summary>
    public string EmulatorMessage { get; }

    internal EmulatedLaunchException(string kernelName, LaunchConfig config, string emulatorMessage)
        : base($"Emulated launch of '{kernelName}' (grid {config.Grid}, block {config.Block}, {config.SharedMemoryBytes} shared bytes) failed: {emulatorMessage}")
    {
        KernelName = kernelName; Config = config; EmulatorMessage = emulatorMessage;
    }
}

/// <summary>
/// The emulated device: the kernels compiled for the CPU (native/emulator, libsparsekernels_emu.so) and
/// run there, slowly, with bounds, shared-memory race and barrier checks. Device memory is host memory
/// from the emulator's arena; streams and events are synchronous (events time the host).
/// </summary>
public sealed class EmulatedDevice : IDevice
{
    private readonly EmulatedStream _stream;
    private readonly Dictionary<string, EmulatedKernel> _kernels = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private volatile bool _disposed;
    private int _opens = 1;   // Devices.Open hands this instance out again while it is open; guarded by _lock

    internal EmulatedDevice()
    {
        var (_, total) = EmulatorOps.MemoryInfo();
        Info = new DeviceInfo("Emulated device (CPU)", 0, 9, 0, total, 1, 0, 1024, 48 * 1024, 32);
        _stream = new EmulatedStream(this);
        MemoryPool = new DeviceMemoryPool(AllocateFromArena, Poison, Park, Info.Name, () => GetMemoryInfo().FreeBytes);
    }

    /// <summary>The caching allocator every <see cref="Allocate{T}"/> goes through (see <see cref="DeviceMemoryPool"/>).</summary>
    public DeviceMemoryPool MemoryPool { get; }

    private static EmulatorMemoryHandle AllocateFromArena(long bytes)
    {
        DevicePtr p = EmulatorOps.Allocate(bytes);
        if (p.IsNull)
#pragma warning disable CA2201 // a full arena is what a failed allocation means to .NET code; the memory pool catches it to give its cache back
            throw new OutOfMemoryException($"The emulated device cannot allocate {bytes} bytes: its arena is exhausted.");
#pragma warning restore CA2201
        return new EmulatorMemoryHandle(p, bytes);
    }

    /// <summary>A cached block is parked in the arena: a kernel that still uses it is reported as using freed memory.</summary>
    private static void Park(DeviceMemoryHandle block, bool parked)
    {
        // Parking runs when a buffer is released, possibly on the finalizer thread: it must not throw there.
        if (block.Bytes > 0 && !EmulatorOps.Park(block.Pointer, parked) && !parked)
            throw new InvalidOperationException($"The emulated device could not {(parked ? "park" : "unpark")} the {block.Bytes}-byte block at {block.Pointer}.");
    }

    /// <summary>A reused block reads as never-written memory again: 0xFF bytes (NaN), as the arena's fresh blocks do.</summary>
    private static void Poison(DeviceMemoryHandle block)
    {
        EmulatorOps.Fill32(block.Pointer, 0xFFFFFFFFu, block.Bytes / 4);
        long tail = block.Bytes % 4;
        if (tail > 0)
        {
            Span<byte> ones = stackalloc byte[4];
            ones.Fill(0xFF);
            EmulatorOps.CopyIn<byte>(ones[..(int)tail], block.Pointer.Offset(block.Bytes - tail));
        }
    }

    /// <inheritdoc/>
    public DeviceKind Kind => DeviceKind.Emulated;
    /// <inheritdoc/>
    public DeviceInfo Info { get; }
    /// <inheritdoc/>
    public DeviceStream Stream => _stream;

    /// <summary>
    /// Loads another library of emulated kernels (e.g. the emulator's test kernels,
    /// libsparsekernels_emu_tests.so); its kernels then appear in <see cref="KernelNames"/>.
    /// </summary>
    internal void LoadImage(string path)
    {
        ThrowIfDisposed();
        Emulator.LoadImage(path);
    }

    /// <inheritdoc/>
    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long bytes = checked(length * Unsafe.SizeOf<T>());
        return new DeviceBuffer<T>(this, MemoryPool.Rent(bytes, Describe<T>(length)), length);
    }

    /// <summary>" (262,144 x Single)": what an allocation holds, for <see cref="DeviceOutOfMemoryException"/>.</summary>
    internal static string Describe<T>(long length)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $" ({length:N0} x {typeof(T).Name})");

    private void CheckBuffer<T>(DeviceBuffer<T> buffer, long offset, long count, string name) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer, name);
        if (!ReferenceEquals(buffer.Device, this)) throw new ArgumentException($"{name} belongs to another device ({buffer.Device.Name}).", name);
        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
        if (offset < 0 || count < 0 || offset > buffer.Length - count)
            throw new ArgumentOutOfRangeException(name, $"{count} elements at offset {offset} do not fit in {name} of {buffer.Length} elements.");
    }

    /// <inheritdoc/>
    public void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long destinationOffset = 0) where T : unmanaged
    {
        CheckBuffer(destination, destinationOffset, source.Length, nameof(destination));
        EmulatorOps.CopyIn(source, destination.PointerAt(destinationOffset));
    }

    /// <inheritdoc/>
    public void CopyToHost<T>(DeviceBuffer<T> source, long sourceOffset, Span<T> destination) where T : unmanaged
    {
        CheckBuffer(source, sourceOffset, destination.Length, nameof(source));
        EmulatorOps.CopyOut(source.PointerAt(sourceOffset), destination);
    }

    /// <inheritdoc/>
    public void CopyDeviceToDevice<T>(DeviceBuffer<T> source, long sourceOffset, DeviceBuffer<T> destination, long destinationOffset, long length) where T : unmanaged
    {
        CheckBuffer(source, sourceOffset, length, nameof(source));
        CheckBuffer(destination, destinationOffset, length, nameof(destination));
        EmulatorOps.Copy(source.PointerAt(sourceOffset), destination.PointerAt(destinationOffset), length * Unsafe.SizeOf<T>());
    }

    /// <inheritdoc/>
    public void Fill32<T>(DeviceBuffer<T> buffer, uint bits) where T : unmanaged
    {
        CheckBuffer(buffer, 0, buffer.Length, nameof(buffer));
        if (buffer.SizeInBytes % 4 != 0)
            throw new ArgumentException($"Fill32 needs a whole number of 32-bit words; the buffer has {buffer.SizeInBytes} bytes.", nameof(buffer));
        EmulatorOps.Fill32(buffer.Pointer, bits, buffer.SizeInBytes / 4);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> KernelNames => Emulator.KernelNames();

    Kernel IDevice.GetKernel(string name) => GetKernel(name);
    void IDevice.Launch(Kernel kernel, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream) => Launch(kernel, config, ref args, stream);

    internal Kernel GetKernel(string name)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            if (_kernels.TryGetValue(name, out var k)) return k;
            byte[] utf8 = Encoding.UTF8.GetBytes(name + "\0");
            int parameters = EmulatorOps.ParamCount(utf8);
            if (parameters < 0)
            {
                var names = Emulator.KernelNames();
                throw new KernelNotFoundException($"The emulated device has no kernel '{name}'. Loaded: {(names.Length == 0 ? "(none: no kernels/*.cu were built into libsparsekernels_emu.so)" : string.Join(", ", names))}.");
            }
            k = new EmulatedKernel(name, utf8, parameters);
            _kernels[name] = k;
            return k;
        }
    }

    internal void Launch(Kernel kernel, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream = null)
    {
        ThrowIfDisposed();
        if (kernel is not EmulatedKernel k) throw new ArgumentException($"Kernel '{kernel?.Name}' was not obtained from the emulated device.", nameof(kernel));
        if (stream is not null && !ReferenceEquals(stream.Device, this)) throw new ArgumentException("The stream belongs to another device.", nameof(stream));
        LaunchChecks.Check(k.Name, config, args.Count, k.ParameterCount, Info);
        int rc = EmulatorOps.Launch(k.NameUtf8Z, config.Grid, config.Block, (uint)config.SharedMemoryBytes, ref args, out string? message);
        if (rc != 0) throw new EmulatedLaunchException(k.Name, config, message ?? $"error {rc}");
    }

    /// <inheritdoc/>
    public void Synchronize() => ThrowIfDisposed();

    /// <inheritdoc/>
    public DeviceMemoryInfo GetMemoryInfo()
    {
        var (free, total) = EmulatorOps.MemoryInfo();
        return new DeviceMemoryInfo(free, total);
    }

    /// <inheritdoc/>
    public DeviceStream CreateStream() => new EmulatedStream(this);
    /// <inheritdoc/>
    public DeviceEvent CreateEvent() => new EmulatedEvent();

    /// <summary>Counts one more holder of this instance (<see cref="Devices.Open"/>); false once it is disposed.</summary>
    internal bool TryAddOpen()
    {
        lock (_lock)
        {
            if (_disposed) return false;
            _opens++;
            return true;
        }
    }

    /// <summary>
    /// Closes one open of the device: <see cref="Devices.Open"/> hands the same instance to every caller while it is open,
    /// so each open is matched by one Dispose and the last one marks the device unusable (buffers then free themselves;
    /// the arena outlives devices). A holder that disposes never pulls the device from under another thread.
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed || --_opens > 0) return;
            _disposed = true;
        }
        MemoryPool.Close();
    }

    internal bool IsDisposed => _disposed;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <inheritdoc/>
    public override string ToString() => Info.Name;

    private sealed class EmulatedKernel(string name, byte[] nameUtf8Z, int parameterCount) : Kernel(name)
    {
        public byte[] NameUtf8Z { get; } = nameUtf8Z;
        public int ParameterCount { get; } = parameterCount;
    }

    private sealed class EmulatedStream(EmulatedDevice device) : DeviceStream
    {
        public override IDevice Device => device;
        public override void Synchronize() { } // launches and copies complete before they return
    }

    private sealed class EmulatedEvent : DeviceEvent
    {
        private long _timestamp = -1;
        public override void Record(DeviceStream? stream = null) => _timestamp = Stopwatch.GetTimestamp();
        public override void Synchronize() { }
        public override float ElapsedMillisecondsSince(DeviceEvent start)
        {
            if (start is not EmulatedEvent s) throw new ArgumentException("The start event is not an emulated-device event.", nameof(start));
            if (s._timestamp < 0 || _timestamp < 0) throw new InvalidOperationException("Both events must be recorded before timing them.");
            return (float)Stopwatch.GetElapsedTime(s._timestamp, _timestamp).TotalMilliseconds;
        }
    }
}
