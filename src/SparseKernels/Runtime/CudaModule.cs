using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>A module loaded into a device's context (cuModuleLoadDataEx). Kernels from it are valid while it is loaded.</summary>
internal sealed class CudaModule : IDisposable
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
