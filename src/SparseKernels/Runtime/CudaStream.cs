using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>A CUDA stream (cuStreamCreate) of one <see cref="CudaDevice"/>.</summary>
public sealed class CudaStream : DeviceStream
{
    private readonly CudaDevice _device;
    internal CudaStreamHandle Handle { get; }

    internal CudaStream(CudaDevice device, CudaStreamHandle handle) { _device = device; Handle = handle; }

    public override IDevice Device => _device;

    /// <summary>The CUstream, for the driver calls of this engine (never public).</summary>
    internal IntPtr Raw
    {
        get
        {
            ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
            return Handle.DangerousGetHandle();
        }
    }

    public override void Synchronize()
    {
        using var scope = _device.Context.Enter();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(Raw), nameof(CudaDriver.cuStreamSynchronize));
    }

    public override void Dispose()
    {
        Handle.Dispose();
        base.Dispose();
    }
}

/// <summary>A CUDA event (cuEventCreate), for timing and ordering.</summary>
public sealed class CudaEvent : DeviceEvent
{
    private readonly CudaDevice _device;
    internal CudaEventHandle Handle { get; }

    internal CudaEvent(CudaDevice device, CudaEventHandle handle) { _device = device; Handle = handle; }

    private IntPtr Raw
    {
        get
        {
            ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
            return Handle.DangerousGetHandle();
        }
    }

    public override void Record(DeviceStream? stream = null)
    {
        var s = _device.StreamOf(stream);
        using var scope = _device.Context.Enter();
        CudaDriver.Check(CudaDriver.cuEventRecord(Raw, s.Raw), nameof(CudaDriver.cuEventRecord));
    }

    public override void Synchronize()
    {
        using var scope = _device.Context.Enter();
        CudaDriver.Check(CudaDriver.cuEventSynchronize(Raw), nameof(CudaDriver.cuEventSynchronize));
    }

    public override float ElapsedMillisecondsSince(DeviceEvent start)
    {
        if (start is not CudaEvent s || s._device != _device)
            throw new ArgumentException("The start event must be a CudaEvent of the same device.", nameof(start));
        using var scope = _device.Context.Enter();
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float ms, s.Raw, Raw), nameof(CudaDriver.cuEventElapsedTime));
        return ms;
    }

    public override void Dispose()
    {
        Handle.Dispose();
        base.Dispose();
    }
}

/// <summary>A kernel function of a module loaded into a <see cref="CudaDevice"/>'s context.</summary>
public sealed class CudaKernel : Kernel
{
    internal CudaKernel(CudaDevice device, CudaModule module, string name, IntPtr function) : base(name)
    {
        Device = device; Module = module; Function = function;
    }

    public CudaDevice Device { get; }
    public CudaModule Module { get; }
    internal IntPtr Function { get; }
    /// <summary>The kernel's parameter count from the embedded PTX (-1 when unknown): a launch must pass exactly this many.</summary>
    public int ParameterCount { get; internal set; } = -1;
}

/// <summary>Registers, static shared memory and the thread limit of a compiled kernel (cuFuncGetAttribute).</summary>
public readonly record struct KernelAttributes(int Registers, int StaticSharedBytes, int MaxThreadsPerBlock);

/// <summary>A module loaded into a device's context (cuModuleLoadDataEx). Kernels from it are valid while it is loaded.</summary>
public sealed class CudaModule : IDisposable
{
    private readonly CudaDevice _device;
    private readonly Dictionary<string, CudaKernel> _functions = new(StringComparer.Ordinal);

    internal CudaModule(CudaDevice device, CudaModuleHandle handle, string name, string source, string jitInfoLog)
    {
        _device = device; Handle = handle; Name = name; Source = source; JitInfoLog = jitInfoLog;
    }

    internal CudaModuleHandle Handle { get; }
    public string Name { get; }
    /// <summary>Which image was loaded (e.g. "spmm_csr.fatbin" or "spmm_csr.compute_80.ptx").</summary>
    public string Source { get; }
    public string JitInfoLog { get; }
    public bool IsDisposed => Handle.IsClosed;

    /// <summary>The function with this extern "C" name; throws <see cref="KernelNotFoundException"/> if the module lacks it.</summary>
    public CudaKernel GetFunction(string name)
        => TryGetFunction(name) ?? throw new KernelNotFoundException($"Module '{Name}' ({Source}) has no kernel named '{name}'.");

    internal CudaKernel? TryGetFunction(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_functions)
        {
            if (_functions.TryGetValue(name, out var k)) return k;
            ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
            IntPtr f;
            using (var scope = _device.Context.Enter())
            {
                try { f = CudaDriver.GetFunction(Handle.DangerousGetHandle(), name); }
                catch (CudaException e) when (e.Code == CudaDriver.CUDA_ERROR_NOT_FOUND) { return null; }
            }
            k = new CudaKernel(_device, this, name, f);
            _functions.Add(name, k);
            return k;
        }
    }

    public void Dispose() => Handle.Dispose();
    public override string ToString() => $"CudaModule {Name} ({Source})";
}
