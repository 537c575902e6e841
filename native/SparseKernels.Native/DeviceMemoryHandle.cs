using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>
/// Owns one device allocation. Subclasses free it the way their device requires (the CUDA one pushes
/// the owning context first, so a finalizer thread never frees in the wrong context).
/// </summary>
internal abstract class DeviceMemoryHandle : SafeHandle
{
    protected DeviceMemoryHandle(DevicePtr pointer, long bytes, bool ownsHandle) : base(IntPtr.Zero, ownsHandle)
    {
        SetHandle(checked((IntPtr)(long)pointer.Address));
        Bytes = bytes;
    }

    public DevicePtr Pointer => new((ulong)(long)handle);
    public long Bytes { get; }
    public override bool IsInvalid => handle == IntPtr.Zero;
}

/// <summary>Device memory owned by someone else (the embedding API): used, never freed.</summary>
internal sealed class ExternalMemoryHandle(DevicePtr pointer, long bytes) : DeviceMemoryHandle(pointer, bytes, ownsHandle: false)
{
    protected override bool ReleaseHandle() => true;
}
