using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>A CUDA stream (cuStreamCreate) of one <see cref="CudaDevice"/>.</summary>
internal sealed class CudaStream : DeviceStream
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
