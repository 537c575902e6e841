using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>
/// A CUDA GPU through the driver API: the device's primary context, a default stream created for it
/// (not the legacy NULL stream), allocations, copies, and the modules of the embedded kernel images,
/// each loaded once per context on first use. Every call makes the context current for its duration
/// (push/pop), so a device can be used from any thread.
/// </summary>
public sealed class CudaDevice : IDevice
{
    private readonly CudaStream _stream;
    private readonly object _modulesLock = new();
    private readonly Dictionary<string, CudaModule> _loadedImages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CudaKernel> _kernels = new(StringComparer.Ordinal);
    private readonly List<CudaModule> _ownedModules = [];
    private bool _disposed;

    private CudaDevice(int ordinal, int cuDevice, CudaContextHandle context, DeviceInfo info)
    {
        Ordinal = ordinal; CuDevice = cuDevice; Context = context; Info = info;
        _stream = new CudaStream(this, CudaStreamHandle.Create(context));
        MemoryPool = new DeviceMemoryPool(bytes => CudaMemoryHandle.Allocate(context, bytes), deviceName: info.Name,
                                          driverFreeBytes: () => GetMemoryInfo().FreeBytes);
    }

    /// <summary>The caching allocator every <see cref="Allocate{T}"/> goes through (see <see cref="DeviceMemoryPool"/>).</summary>
    public DeviceMemoryPool MemoryPool { get; }

    /// <summary>Opens device <paramref name="ordinal"/>; throws <see cref="CudaUnavailableException"/> saying why CUDA cannot be used.</summary>
    public static CudaDevice Open(int ordinal = 0)
    {
        var (driverVersion, count) = CudaDriver.Initialize();
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"CUDA device ordinal {ordinal} does not exist; the driver found {count} device(s) (ordinals 0..{count - 1}).");
        CudaDriver.Check(CudaDriver.cuDeviceGet(out int dev, ordinal), nameof(CudaDriver.cuDeviceGet));
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem_v2(out nuint total, dev), nameof(CudaDriver.cuDeviceTotalMem_v2));
        var info = new DeviceInfo(
            Name: CudaDriver.DeviceName(dev),
            Ordinal: ordinal,
            ComputeCapabilityMajor: CudaDriver.DeviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            ComputeCapabilityMinor: CudaDriver.DeviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
            TotalMemoryBytes: (long)total,
            MultiprocessorCount: CudaDriver.DeviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
            DriverVersion: driverVersion,
            MaxThreadsPerBlock: CudaDriver.DeviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
            MaxSharedMemoryPerBlock: CudaDriver.DeviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK),
            WarpSize: CudaDriver.DeviceAttribute(dev, CudaDriver.CU_DEVICE_ATTRIBUTE_WARP_SIZE));
        var context = CudaContextHandle.RetainPrimary(dev);
        try { return new CudaDevice(ordinal, dev, context, info); }
        catch { context.Dispose(); throw; }
    }

    /// <inheritdoc/>
    public DeviceKind Kind => DeviceKind.Cuda;
    /// <inheritdoc/>
    public DeviceInfo Info { get; }
    /// <inheritdoc/>
    public string Name => Info.Name;
    /// <summary>The CUDA device ordinal this device was opened with (as in <see cref="Open"/>).</summary>
    public int Ordinal { get; }
    internal int CuDevice { get; }
    internal CudaContextHandle Context { get; }
    /// <inheritdoc/>
    public DeviceStream Stream => _stream;

    /// <summary>Compute capability as major*10+minor (e.g. 90).</summary>
    public int Arch => Info.ComputeCapabilityMajor * 10 + Info.ComputeCapabilityMinor;

    internal CudaStream StreamOf(DeviceStream? stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (stream is null) return _stream;
        if (stream is CudaStream s && s.Device == this) return s;
        throw new ArgumentException($"The stream belongs to {stream.Device.Kind} device '{stream.Device.Name}', not to CUDA device {Ordinal} '{Name}'.", nameof(stream));
    }

    private ContextScope Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Context.Enter();
    }

    // ---- memory ----

    /// <inheritdoc/>
    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ObjectDisposedException.ThrowIf(_disposed, this);
        long bytes = checked(length * Unsafe.SizeOf<T>());
        return new DeviceBuffer<T>(this, MemoryPool.Rent(bytes, EmulatedDevice.Describe<T>(length)), length);
    }

    private void CheckBuffer<T>(DeviceBuffer<T> buffer, string name) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer, name);
        if (buffer.Device != this)
            throw new ArgumentException($"{name} lives on {buffer.Device.Kind} device '{buffer.Device.Name}', not on CUDA device {Ordinal} '{Name}'.", name);
        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
    }

    private static void CheckRange(long offset, long count, long length, string what)
    {
        if (offset < 0 || count < 0 || offset > length || count > length - offset)
            throw new ArgumentOutOfRangeException(what, $"{what}: elements [{offset}, {offset + count}) are outside a buffer of {length} elements.");
    }

    /// <inheritdoc/>
    public void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long destinationOffset = 0) where T : unmanaged
    {
        CheckBuffer(destination, nameof(destination));
        CheckRange(destinationOffset, source.Length, destination.Length, "destination");
        if (source.IsEmpty) return;
        using var scope = Enter();
        CudaDriver.CopyHostToDevice(destination.PointerAt(destinationOffset).Address, MemoryMarshal.AsBytes(source), _stream.Raw);
    }

    /// <inheritdoc/>
    public void CopyToHost<T>(DeviceBuffer<T> source, long sourceOffset, Span<T> destination) where T : unmanaged
    {
        CheckBuffer(source, nameof(source));
        CheckRange(sourceOffset, destination.Length, source.Length, "source");
        if (destination.IsEmpty) return;
        using var scope = Enter();
        CudaDriver.CopyDeviceToHost(MemoryMarshal.AsBytes(destination), source.PointerAt(sourceOffset).Address, _stream.Raw);
    }

    /// <inheritdoc/>
    public void CopyDeviceToDevice<T>(DeviceBuffer<T> source, long sourceOffset, DeviceBuffer<T> destination, long destinationOffset, long length) where T : unmanaged
    {
        CheckBuffer(source, nameof(source));
        CheckBuffer(destination, nameof(destination));
        CheckRange(sourceOffset, length, source.Length, "source");
        CheckRange(destinationOffset, length, destination.Length, "destination");
        if (length == 0) return;
        using var scope = Enter();
        CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2(destination.PointerAt(destinationOffset).Address, source.PointerAt(sourceOffset).Address,
            (nuint)(length * Unsafe.SizeOf<T>()), _stream.Raw), nameof(CudaDriver.cuMemcpyDtoDAsync_v2));
    }

    /// <inheritdoc/>
    public void Fill32<T>(DeviceBuffer<T> buffer, uint bits) where T : unmanaged => Fill32(buffer, bits, null);

    /// <summary>Sets every 32-bit word of the buffer, ordered on <paramref name="stream"/> (default: <see cref="Stream"/>).</summary>
    public void Fill32<T>(DeviceBuffer<T> buffer, uint bits, DeviceStream? stream) where T : unmanaged
    {
        var s = StreamOf(stream);
        CheckBuffer(buffer, nameof(buffer));
        if (buffer.SizeInBytes % 4 != 0)
            throw new ArgumentException($"Fill32 needs a whole number of 32-bit words; the buffer is {buffer.SizeInBytes} bytes.", nameof(buffer));
        if (buffer.SizeInBytes == 0) return;
        using var scope = Enter();
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(buffer.Pointer.Address, bits, (nuint)(buffer.SizeInBytes / 4), s.Raw), nameof(CudaDriver.cuMemsetD32Async));
    }

    /// <inheritdoc/>
    public DeviceMemoryInfo GetMemoryInfo()
    {
        using var scope = Enter();
        CudaDriver.Check(CudaDriver.cuMemGetInfo_v2(out nuint free, out nuint total), nameof(CudaDriver.cuMemGetInfo_v2));
        return new DeviceMemoryInfo((long)free, (long)total);
    }

    /// <inheritdoc/>
    public void Synchronize()
    {
        using var scope = Enter();
        CudaDriver.Check(CudaDriver.cuCtxSynchronize(), nameof(CudaDriver.cuCtxSynchronize));
    }

    /// <inheritdoc/>
    public DeviceStream CreateStream()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new CudaStream(this, CudaStreamHandle.Create(Context));
    }

    /// <inheritdoc/>
    public DeviceEvent CreateEvent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new CudaEvent(this, CudaEventHandle.Create(Context));
    }

    // ---- modules and kernels ----

    /// <summary>Loads a module image (fatbin, cubin, or PTX text) into this device's context. A failed load throws <see cref="CudaException"/> with the JIT error log.</summary>
    internal CudaModule LoadModule(ReadOnlySpan<byte> image, string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var handle = CudaModuleHandle.Load(Context, image, name, out string info);
        var module = new CudaModule(this, handle, name, name, info);
        lock (_modulesLock) _ownedModules.Add(module);
        return module;
    }

    /// <summary>Loads PTX text (NUL-terminated for the driver here).</summary>
    internal CudaModule LoadPtx(string ptx, string name)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        return LoadModule(KernelImages.NulTerminated(System.Text.Encoding.UTF8.GetBytes(ptx)), name);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> KernelNames => KernelImages.KernelNames;

    Kernel IDevice.GetKernel(string name) => GetKernel(name);
    void IDevice.Launch(Kernel kernel, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream) => Launch(kernel, config, ref args, stream);

    internal Kernel GetKernel(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_modulesLock)
        {
            if (_kernels.TryGetValue(name, out var cached)) return cached;
            var images = KernelImages.Modules;
            if (images.Count == 0) throw new KernelNotFoundException($"Kernel '{name}': {KernelImages.NoImagesMessage}.");
            // Modules whose PTX names it first; modules with no PTX (names unknown) are tried after.
            foreach (var image in images.Where(m => m.KernelNames.Contains(name)).Concat(images.Where(m => m.KernelNames.Count == 0)))
            {
                var kernel = LoadImage(image).TryGetFunction(name);
                if (kernel is null) continue;
                kernel.ParameterCount = KernelImages.ParameterCount(name);
                _kernels[name] = kernel;
                return kernel;
            }
            throw new KernelNotFoundException($"No kernel named '{name}' in the embedded kernel images ({string.Join(", ", images.Select(m => m.Name))}); they define: {string.Join(", ", KernelImages.KernelNames)}.");
        }
    }

    /// <summary>Loads an embedded module once per context: the fatbin first, else the highest PTX not above the device's compute capability.</summary>
    private CudaModule LoadImage(KernelImages.ModuleImage image)
    {
        if (_loadedImages.TryGetValue(image.Name, out var loaded)) return loaded;
        var failures = new List<CudaException>();
        var attempts = new List<(string What, byte[] Bytes)>();
        if (image.Fatbin is not null) attempts.Add(($"{image.Name}.fatbin", image.Fatbin));
        foreach (int arch in image.PtxByArch.Keys.Where(a => a <= Arch).OrderByDescending(a => a))
            attempts.Add(($"{image.Name}.compute_{arch}.ptx", KernelImages.NulTerminated(image.PtxByArch[arch])));
        if (attempts.Count == 0)
            throw new KernelNotFoundException($"Kernel image '{image.Name}' has no fatbin and no PTX for compute capability {Info.ComputeCapability} or lower (PTX for: {string.Join(", ", image.PtxByArch.Keys.Select(a => "compute_" + a))}).");
        foreach (var (what, bytes) in attempts)
        {
            try
            {
                var handle = CudaModuleHandle.Load(Context, bytes, what, out string info);
                var module = new CudaModule(this, handle, image.Name, what, info);
                _ownedModules.Add(module);
                _loadedImages[image.Name] = module;
                return module;
            }
            catch (CudaException e) { failures.Add(e); }
        }
        var last = failures[^1];
        throw new CudaException($"loading kernel image '{image.Name}' on {Name} (compute {Info.ComputeCapability})", last.Code, last.ErrorName,
            "every image failed to load", string.Join(Environment.NewLine, failures.Select(f => f.Message)));
    }

    private CudaKernel OwnKernel(Kernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel is not CudaKernel k || k.Device != this)
            throw new ArgumentException($"Kernel '{kernel.Name}' was not loaded by CUDA device {Ordinal} '{Name}'.", nameof(kernel));
        ObjectDisposedException.ThrowIf(k.Module.IsDisposed, k.Module);
        return k;
    }

    internal void Launch(Kernel kernel, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream = null)
    {
        var k = OwnKernel(kernel);
        var s = StreamOf(stream);
        LaunchChecks.Check(k.Name, config, args.Count, k.ParameterCount, Info);
        using var scope = Context.Enter();
        CudaDriver.Launch(k.Function, config.Grid, config.Block, config.SharedMemoryBytes, s.Raw, ref args);
        GC.KeepAlive(k.Module);
    }

    /// <summary>Registers, static shared memory and the maximum block size of a kernel.</summary>
    internal KernelAttributes GetAttributes(Kernel kernel)
    {
        var k = OwnKernel(kernel);
        using var scope = Enter();
        int Attr(int a)
        {
            CudaDriver.Check(CudaDriver.cuFuncGetAttribute(out int v, a, k.Function), $"{nameof(CudaDriver.cuFuncGetAttribute)}({a})");
            return v;
        }
        return new KernelAttributes(Attr(CudaDriver.CU_FUNC_ATTRIBUTE_NUM_REGS), Attr(CudaDriver.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES),
            Attr(CudaDriver.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
    }

    /// <summary>How many blocks of <paramref name="blockSize"/> threads can be resident on one multiprocessor.</summary>
    internal int MaxActiveBlocksPerMultiprocessor(Kernel kernel, int blockSize, int dynamicSharedBytes = 0)
    {
        var k = OwnKernel(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegative(dynamicSharedBytes);
        using var scope = Enter();
        CudaDriver.Check(CudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out int n, k.Function, blockSize, (nuint)dynamicSharedBytes),
            nameof(CudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor));
        return n;
    }

    /// <summary>Releases the modules, then the default stream, then this device's hold on the context (buffers still alive keep it until they are freed).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        try { Synchronize(); } catch (CudaException) { /* report nothing on teardown; resources are still released */ }
        _disposed = true;
        MemoryPool.Close();
        lock (_modulesLock)
        {
            foreach (var m in _ownedModules) m.Dispose();
            _ownedModules.Clear(); _loadedImages.Clear(); _kernels.Clear();
        }
        _stream.Dispose();
        Context.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"CUDA device {Ordinal}: {Name} (compute {Info.ComputeCapability}, {Info.TotalMemoryBytes / (1024 * 1024)} MiB, driver {Info.DriverVersionText})";
}
