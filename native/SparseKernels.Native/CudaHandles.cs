using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>
/// A retained primary context of one device. Released (cuDevicePrimaryCtxRelease) when the handle and
/// everything that DangerousAddRef'd it (buffers, streams, events, modules) are gone.
/// </summary>
internal sealed class CudaContextHandle : SafeHandle
{
    private CudaContextHandle(int device) : base(IntPtr.Zero, true) { Device = device; }

    public int Device { get; }
    public override bool IsInvalid => handle == IntPtr.Zero;

    public static CudaContextHandle RetainPrimary(int device)
    {
        var h = new CudaContextHandle(device);
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out IntPtr ctx, device), nameof(CudaDriver.cuDevicePrimaryCtxRetain));
        h.SetHandle(ctx);
        return h;
    }

    /// <summary>Makes this context current on the calling thread until the scope is disposed.</summary>
    public ContextScope Enter() => new(this);

    protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease_v2(Device) == CudaDriver.CUDA_SUCCESS;
}

/// <summary>Pushes a context on construction and pops it on dispose (a stack value: no allocation).</summary>
internal readonly ref struct ContextScope
{
    private readonly bool _pushed;

    public ContextScope(CudaContextHandle context)
    {
        ObjectDisposedException.ThrowIf(context.IsClosed, context);
        CudaDriver.Check(CudaDriver.cuCtxPushCurrent_v2(context.DangerousGetHandle()), nameof(CudaDriver.cuCtxPushCurrent_v2));
        _pushed = true;
    }

    public void Dispose()
    {
        if (_pushed) CudaDriver.cuCtxPopCurrent_v2(out _);
    }
}

/// <summary>Shared release logic: push the owning context, free, pop, and let go of the context.</summary>
internal static class ContextBound
{
    public static bool Release(CudaContextHandle context, Func<IntPtr, int> free, IntPtr value)
    {
        int result;
        if (CudaDriver.cuCtxPushCurrent_v2(context.DangerousGetHandle()) == CudaDriver.CUDA_SUCCESS)
        {
            result = free(value);
            CudaDriver.cuCtxPopCurrent_v2(out _);
        }
        else result = -1; // never free in whatever context happens to be current
        context.DangerousRelease();
        return result == CudaDriver.CUDA_SUCCESS;
    }

    public static void AddRef(CudaContextHandle context)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
    }
}

/// <summary>One cuMemAlloc'd block. ReleaseHandle frees it in ITS context (pushed), never the current one.</summary>
internal sealed class CudaMemoryHandle : DeviceMemoryHandle
{
    private readonly CudaContextHandle? _context;
    private static readonly Func<IntPtr, int> s_free = p => CudaDriver.cuMemFree_v2((ulong)(long)p);

    private CudaMemoryHandle(CudaContextHandle? context, long bytes) : base(DevicePtr.Null, bytes, true) { _context = context; }

    /// <summary>Allocates <paramref name="bytes"/> in <paramref name="context"/>. Zero bytes gives an empty (null) handle.</summary>
    public static CudaMemoryHandle Allocate(CudaContextHandle context, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return new CudaMemoryHandle(null, 0);
        var h = new CudaMemoryHandle(context, bytes);
        ContextBound.AddRef(context);
        ulong pointer;
        try
        {
            using var scope = context.Enter();
            int r = CudaDriver.cuMemAlloc_v2(out pointer, (nuint)bytes);
            CudaDriver.Check(r, nameof(CudaDriver.cuMemAlloc_v2), r == 2 ? $"Requested {bytes} bytes." : null);
        }
        catch
        {
            context.DangerousRelease();
#pragma warning disable CA1816 // the half-built handle owns nothing: its finalizer must not run ReleaseHandle
            GC.SuppressFinalize(h);
#pragma warning restore CA1816
            h.SetHandleAsInvalid();
            throw;
        }
        h.SetHandle(checked((IntPtr)(long)pointer));
        return h;
    }

    protected override bool ReleaseHandle() => ContextBound.Release(_context!, s_free, handle);
}

/// <summary>A driver object that lives in one context: created there, destroyed there (pushed), and holding a reference on it.</summary>
internal abstract class ContextBoundHandle : SafeHandle
{
    private readonly CudaContextHandle _context;
    private readonly Func<IntPtr, int> _destroy;

    protected ContextBoundHandle(CudaContextHandle context, Func<IntPtr, int> destroy, bool ownsHandle = true) : base(IntPtr.Zero, ownsHandle)
    {
        _context = context;
        _destroy = destroy;
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a created object (call with the context entered, after the create call succeeded).</summary>
    protected void Adopt(IntPtr value)
    {
        ContextBound.AddRef(_context);
        SetHandle(value);
    }

    protected sealed override bool ReleaseHandle() => ContextBound.Release(_context, _destroy, handle);
}

internal sealed class CudaStreamHandle : ContextBoundHandle
{
    private static readonly Func<IntPtr, int> s_destroy = CudaDriver.cuStreamDestroy_v2;
    private CudaStreamHandle(CudaContextHandle context, bool ownsHandle = true) : base(context, s_destroy, ownsHandle) { }

    /// <summary>A stream created by someone else (the embedding API): used, never destroyed.</summary>
    public static CudaStreamHandle WrapExternal(CudaContextHandle context, IntPtr stream)
    {
        var h = new CudaStreamHandle(context, ownsHandle: false);
        h.SetHandle(stream);
        return h;
    }

    public static CudaStreamHandle Create(CudaContextHandle context, uint flags = CudaDriver.CU_STREAM_DEFAULT)
    {
        var h = new CudaStreamHandle(context);
        using var scope = context.Enter();
        CudaDriver.Check(CudaDriver.cuStreamCreate(out IntPtr s, flags), nameof(CudaDriver.cuStreamCreate));
        h.Adopt(s);
        return h;
    }
}

internal sealed class CudaEventHandle : ContextBoundHandle
{
    private static readonly Func<IntPtr, int> s_destroy = CudaDriver.cuEventDestroy_v2;
    private CudaEventHandle(CudaContextHandle context) : base(context, s_destroy) { }

    public static CudaEventHandle Create(CudaContextHandle context, uint flags = CudaDriver.CU_EVENT_DEFAULT)
    {
        var h = new CudaEventHandle(context);
        using var scope = context.Enter();
        CudaDriver.Check(CudaDriver.cuEventCreate(out IntPtr e, flags), nameof(CudaDriver.cuEventCreate));
        h.Adopt(e);
        return h;
    }
}

internal sealed class CudaModuleHandle : ContextBoundHandle
{
    private static readonly Func<IntPtr, int> s_unload = CudaDriver.cuModuleUnload;
    private CudaModuleHandle(CudaContextHandle context) : base(context, s_unload) { }

    /// <summary>Loads an image into <paramref name="context"/>; throws with the JIT error log on failure.</summary>
    public static CudaModuleHandle Load(CudaContextHandle context, ReadOnlySpan<byte> image, string what, out string infoLog)
    {
        var h = new CudaModuleHandle(context);
        using var scope = context.Enter();
        IntPtr m = CudaDriver.LoadModule(image, what, out infoLog);
        h.Adopt(m);
        return h;
    }
}
