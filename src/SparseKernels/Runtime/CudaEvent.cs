using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>A CUDA event (cuEventCreate), for timing and ordering.</summary>
internal sealed class CudaEvent : DeviceEvent
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
