using System.Globalization;

namespace SparseKernels.Runtime;

/// <summary>
/// A host allocation (a training run's buffers, a dataset, a matrix file) would need more memory than the stated limit
/// (<c>SPARSEKERNELS_HOST_MEMORY_LIMIT</c>, by default the memory available when checked: Linux's MemAvailable, capped by
/// the container's limit); refused before anything of that size was allocated. Names what, the bytes needed and the limit.
/// </summary>
public sealed class HostMemoryLimitException : OutOfMemoryException
{
    /// <summary>What would have been allocated, e.g. "the training run 784-1000000000-10 (batch 128, sgd)".</summary>
    public string What { get; }
    /// <summary>The bytes it needs.</summary>
    public long RequestedBytes { get; }
    /// <summary>The limit it exceeds.</summary>
    public long LimitBytes { get; }

    internal HostMemoryLimitException(string what, long requestedBytes, long limitBytes, string? detail)
        : base(Format(what, requestedBytes, limitBytes, detail))
    {
        What = what; RequestedBytes = requestedBytes; LimitBytes = limitBytes;
    }

    private static string Format(string what, long requested, long limit, string? detail)
    {
        string d = detail is null ? "" : $" ({detail})";
        return string.Create(CultureInfo.InvariantCulture,
            $"{what} needs {requested:N0} bytes ({Gib(requested)}) of host memory{d}, ")
            + string.Create(CultureInfo.InvariantCulture, $"more than the limit of {limit:N0} bytes ({Gib(limit)}; ")
            + $"{HostMemory.LimitVariable}, default: the memory available when checked); nothing was allocated.";
    }

    private static string Gib(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.##} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.##} MiB");
}

/// <summary>The host-memory limit that large allocations sized by user input are checked against up front.</summary>
internal static class HostMemory
{
    /// <summary>Bytes (optionally K, M, G: powers of 1024); default the runtime's available memory.</summary>
    public const string LimitVariable = "SPARSEKERNELS_HOST_MEMORY_LIMIT";
    private static long s_override; // 0 = none

    /// <summary>The limit: set by tests, else <see cref="LimitVariable"/>, else the memory available now (Linux's
    /// MemAvailable), capped by what the GC may use (physical memory, the cgroup limit or DOTNET_GCHeapHardLimit).</summary>
    public static long LimitBytes
    {
        get
        {
            long o = Interlocked.Read(ref s_override);
            if (o > 0) return o;
            string? text = Environment.GetEnvironmentVariable(LimitVariable);
            if (!string.IsNullOrWhiteSpace(text))
            {
                try { return DeviceMemoryPool.ParseLimit(text)!.Value; }
                catch (ArgumentException)
                {
                    throw new ArgumentException($"{LimitVariable}='{text}' is not a positive number of bytes (e.g. 8G).");
                }
            }
            long total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            return MemAvailable() is long available && available < total ? available : total;
        }
    }

    /// <summary>Linux's estimate of the memory available to new work without swapping (MemAvailable), or null.</summary>
    private static long? MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { }
        return null;
    }

    /// <summary>Sets (or, with null, clears) a limit that wins over the environment; for tests.</summary>
    internal static void SetLimitForTests(long? bytes) => Interlocked.Exchange(ref s_override, bytes ?? 0);

    /// <summary>Throws <see cref="HostMemoryLimitException"/> when <paramref name="bytes"/> exceeds the limit.</summary>
    public static void Check(long bytes, string what, string? detail = null)
    {
        long limit = LimitBytes;
        if (bytes > limit) throw new HostMemoryLimitException(what, bytes, limit, detail);
    }
}
