using SparseKernels.Cpu;
using SparseKernels.Runtime;

namespace SparseKernels.CAbi;

/// <summary>What an sk_context is: the CPU backend with a thread count, or a device (CUDA or emulated).</summary>
internal sealed class Context(CpuBackend cpu, IDevice? device) : IDisposable
{
    public CpuBackend Cpu { get; } = cpu;
    public IDevice? Device { get; } = device;
    public int Kind => Device switch { null => 0, CudaDevice => 1, _ => 2 };
    public void Dispose() => Device?.Dispose();
}

/// <summary>
/// Live contexts by handle. Handles are small integers handed out as opaque pointers (never addresses of managed
/// objects), so a stale, foreign or garbage handle is reported (SK_ERR_BAD_HANDLE) instead of being dereferenced.
/// </summary>
internal static class Contexts
{
    private static readonly Dictionary<nint, Context> s_live = [];
    private static readonly Lock s_lock = new();
    private static nint s_next = 0x5C00;

    public static nint Add(Context c)
    {
        lock (s_lock)
        {
            s_next += 16;
            s_live[s_next] = c;
            return s_next;
        }
    }

    public static Context Get(nint handle, string op)
    {
        lock (s_lock)
            if (s_live.TryGetValue(handle, out var c)) return c;
        throw new AbiException(Status.BadHandle, handle == 0
            ? $"{op}: the context is NULL (open one with sk_open_cpu or sk_open_cuda)."
            : $"{op}: 0x{handle:x} is not an open context (closed already, or not a handle from sk_open_*).");
    }

    public static Context Remove(nint handle, string op)
    {
        lock (s_lock)
            if (s_live.Remove(handle, out var c)) return c;
        throw new AbiException(Status.BadHandle, $"{op}: 0x{handle:x} is not an open context (closed already, or not a handle from " +
            $"sk_open_*).");
    }
}
