using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>What a device's memory pool holds and has done (see <see cref="DeviceMemoryPool"/>).</summary>
/// <param name="DriverAllocations">Allocations made by the driver (cuMemAlloc, or the emulator's arena) so far.</param>
/// <param name="DriverFrees">Blocks given back to the driver so far.</param>
/// <param name="Reuses">Allocations served from the cache (no driver call).</param>
/// <param name="InUseBytes">Bytes of live buffers.</param>
/// <param name="CachedBytes">Bytes of freed blocks kept for reuse.</param>
/// <param name="PeakInUseBytes">The most <paramref name="InUseBytes"/> seen since the pool was created or <see cref="DeviceMemoryPool.ResetPeak"/>.</param>
public readonly record struct DeviceMemoryPoolStatistics(
    long DriverAllocations, long DriverFrees, long Reuses, long InUseBytes, long CachedBytes, long PeakInUseBytes)
{
    /// <summary>Bytes the pool holds from the driver: in use plus cached.</summary>
    public long ReservedBytes => InUseBytes + CachedBytes;
}

/// <summary>
/// A caching allocator in front of a device's driver allocations (as PyTorch's CUDA caching allocator): a freed
/// buffer's block is kept, keyed by its exact size, and handed to the next allocation of that size, so a training
/// step that allocates the same shapes every step makes no driver allocation (and no <c>cuMemFree</c>, which
/// would synchronise the device) after the first. Exact sizes keep the emulated device's out-of-bounds checks
/// exact; on the emulated device a reused block is poisoned again (0xFF bytes, NaN), as fresh memory is.
/// </summary>
/// <remarks>
/// Reuse is ordered on the device's default stream (<see cref="IDevice.Stream"/>): a block freed there and handed
/// out again is only touched by work queued after the free. A buffer used on another stream
/// (<see cref="IDevice.CreateStream"/>, <see cref="SparseKernels.Embedding.External.WrapStream"/>) must have that stream synchronised
/// before it is disposed, or the pool disabled (<see cref="Enabled"/> = false, or the environment variable
/// <c>SPARSEKERNELS_MEMORY_POOL=0</c> before the device is opened), exactly as with PyTorch's allocator without
/// <c>record_stream</c>. When the driver runs out of memory the pool gives its cached blocks back and tries once
/// more. <see cref="ReleaseCached"/> gives them back on demand (PyTorch's <c>empty_cache</c>).
/// </remarks>
public sealed class DeviceMemoryPool
{
    /// <summary>The environment variable that, set to 0, turns pooling off for devices opened afterwards.</summary>
    public const string EnvironmentVariable = "SPARSEKERNELS_MEMORY_POOL";
    /// <summary>The environment variable that caps the bytes a device's pool holds from the driver (in use plus cached),
    /// e.g. 1073741824 or 1G (suffixes K, M, G: powers of 1024), for devices opened afterwards; see <see cref="LimitBytes"/>.</summary>
    public const string LimitVariable = "SPARSEKERNELS_DEVICE_MEMORY_LIMIT";

    private readonly object _lock = new();
    private readonly Func<long, DeviceMemoryHandle> _driverAllocate;
    private readonly Action<DeviceMemoryHandle>? _onReuse;
    private readonly Action<DeviceMemoryHandle, bool>? _park;
    private readonly Dictionary<long, Stack<DeviceMemoryHandle>> _free = [];
    private long _driverAllocations, _driverFrees, _reuses, _inUse, _cached, _peak;
    private bool _closed, _enabled;
    private long? _limit;
    private readonly string _deviceName;
    private readonly Func<long> _driverFreeBytes;

    /// <param name="driverAllocate">Allocates a block from the driver.</param>
    /// <param name="onReuse">Called on a cached block before it is handed out again (the emulated device poisons it).</param>
    /// <param name="park">Called with true when a block enters the cache and false when it leaves it (handed out, or
    /// given back to the driver): the emulated device reports accesses to parked blocks as use after free.</param>
    /// <param name="deviceName">The device's name, for <see cref="DeviceOutOfMemoryException"/>.</param>
    /// <param name="driverFreeBytes">The driver's free bytes (cuMemGetInfo, the emulated arena's), for the same.</param>
    internal DeviceMemoryPool(Func<long, DeviceMemoryHandle> driverAllocate, Action<DeviceMemoryHandle>? onReuse = null,
                              Action<DeviceMemoryHandle, bool>? park = null, string deviceName = "device",
                              Func<long>? driverFreeBytes = null)
    {
        _driverAllocate = driverAllocate;
        _onReuse = onReuse;
        _park = park;
        _deviceName = deviceName;
        _driverFreeBytes = driverFreeBytes ?? (() => -1);
        _enabled = Environment.GetEnvironmentVariable(EnvironmentVariable) is not "0";
        _limit = ParseLimit(Environment.GetEnvironmentVariable(LimitVariable));
    }

    /// <summary>Bytes from <paramref name="text"/> (an integer, optionally with K, M or G: powers of 1024); null for none.
    /// Throws <see cref="ArgumentException"/> naming <see cref="LimitVariable"/> for anything else.</summary>
    internal static long? ParseLimit(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        string t = text.Trim();
        long unit = char.ToUpperInvariant(t[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
        if (unit > 1) t = t[..^1];
        if (!long.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v)
            || v <= 0 || v > long.MaxValue / unit)
            throw new ArgumentException($"{LimitVariable}='{text}' is not a positive number of bytes (e.g. 1073741824 or 1G).");
        return v * unit;
    }

    /// <summary>
    /// The most bytes the pool may hold from the driver (in use plus cached), or null for no limit (the default, unless
    /// <see cref="LimitVariable"/> is set when the device is opened). An allocation that would go over it first gives the
    /// cached blocks back, then throws <see cref="DeviceOutOfMemoryException"/> with the bytes asked and the bytes the limit
    /// leaves: a way to keep a process within a share of a GPU, or to test out-of-memory handling.
    /// </summary>
    public long? LimitBytes
    {
        get { lock (_lock) return _limit; }
        set
        {
            if (value is <= 0)
                throw new ArgumentOutOfRangeException(nameof(value), value, "The limit must be positive (or null for none).");
            lock (_lock) _limit = value;
        }
    }

    /// <summary>
    /// Whether freed blocks are kept for reuse (default true, unless <see cref="EnvironmentVariable"/> is 0).
    /// Turning it off gives the cached blocks back; buffers freed afterwards go straight to the driver.
    /// </summary>
    public bool Enabled
    {
        get { lock (_lock) return _enabled; }
        set
        {
            lock (_lock) _enabled = value;
            if (!value) ReleaseCached();
        }
    }

    /// <summary>A snapshot of the counters.</summary>
    public DeviceMemoryPoolStatistics Statistics
    {
        get
        {
            lock (_lock) return new(_driverAllocations, _driverFrees, _reuses, _inUse, _cached, _peak);
        }
    }

    /// <summary>Restarts <see cref="DeviceMemoryPoolStatistics.PeakInUseBytes"/> from the bytes in use now.</summary>
    public void ResetPeak()
    {
        lock (_lock) _peak = _inUse;
    }

    /// <summary>Gives every cached (free) block back to the driver; live buffers are not affected.</summary>
    public void ReleaseCached()
    {
        List<DeviceMemoryHandle> blocks = [];
        lock (_lock)
        {
            foreach (var stack in _free.Values) blocks.AddRange(stack);
            _free.Clear();
            _cached = 0;
            _driverFrees += blocks.Count;
        }
        foreach (var b in blocks)
        {
            _park?.Invoke(b, false);
            b.Dispose();
        }
    }

    /// <summary>A block of <paramref name="bytes"/> wrapped so that disposing it returns it here.</summary>
    internal DeviceMemoryHandle Rent(long bytes, string what = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        DeviceMemoryHandle? block = null;
        lock (_lock)
        {
            if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0)
            {
                block = stack.Pop();
                _cached -= bytes;
                _reuses++;
                CountInUse(bytes);
            }
        }
        if (block is not null)
        {
            _park?.Invoke(block, false);
            _onReuse?.Invoke(block);
        }
        else block = AllocateFromDriver(bytes, what);
        return new PooledMemoryHandle(this, block);
    }

    private void CountInUse(long bytes)
    {
        _inUse += bytes;
        if (_inUse > _peak) _peak = _inUse;
    }

    /// <summary>Called once per block when its pooled handle is released (Dispose or finalizer, any thread).</summary>
    private void Return(DeviceMemoryHandle block)
    {
        bool keep;
        lock (_lock)
        {
            _inUse -= block.Bytes;
            keep = !_closed && _enabled && !block.IsClosed;
            if (keep)
            {
                _park?.Invoke(block, true);
                if (!_free.TryGetValue(block.Bytes, out var stack)) _free[block.Bytes] = stack = new Stack<DeviceMemoryHandle>();
                stack.Push(block);
                _cached += block.Bytes;
            }
            else _driverFrees++;
        }
        if (!keep) block.Dispose();
    }

    private DeviceMemoryHandle AllocateFromDriver(long bytes, string what)
    {
        if (LimitBytes is long limit && Statistics.ReservedBytes > limit - bytes)
        {
            ReleaseCached();
            long inUse = Statistics.InUseBytes;
            if (inUse > limit - bytes)
                throw new DeviceOutOfMemoryException(_deviceName, bytes, Math.Max(0, limit - inUse), limit,
                    string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{what}; {inUse:N0} bytes in use"));
        }
        DeviceMemoryHandle block;
        try
        {
            try { block = _driverAllocate(bytes); }
            catch (Exception e) when (IsOutOfMemory(e) && Statistics.CachedBytes > 0)
            {
                ReleaseCached();
                block = _driverAllocate(bytes);
            }
        }
        catch (Exception e) when (IsOutOfMemory(e) && e is not DeviceOutOfMemoryException)
        {
            long free;
            try { free = _driverFreeBytes(); }
            catch (Exception) { free = -1; }
            throw new DeviceOutOfMemoryException(_deviceName, bytes, free, null,
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{what}; {Statistics.InUseBytes:N0} bytes in use"), e);
        }
        // The block is freed only through the pool (ReleaseCached, Return, Close): were its own finalizer to run
        // while a leaked pooled handle is finalized in the same collection, the pool could cache freed memory.
#pragma warning disable CA1816 // deliberately on the block, not on this: see above
        GC.SuppressFinalize(block);
#pragma warning restore CA1816
        lock (_lock)
        {
            _driverAllocations++;
            CountInUse(bytes);
        }
        return block;
    }

    private static bool IsOutOfMemory(Exception e) => e is OutOfMemoryException || (e is CudaException c && c.Code == 2);

    /// <summary>The device is going away: give the cache back and free blocks returned later directly.</summary>
    internal void Close()
    {
        lock (_lock) _closed = true;
        ReleaseCached();
    }

    /// <summary>A live buffer's memory: releasing it hands the block back to the pool (never frees it itself).</summary>
    private sealed class PooledMemoryHandle(DeviceMemoryPool pool, DeviceMemoryHandle block)
        : DeviceMemoryHandle(block.Pointer, block.Bytes, ownsHandle: true)
    {
        public override bool IsInvalid => false;   // a zero-byte block has a null address and must still go back

        protected override bool ReleaseHandle()
        {
            pool.Return(block);
            return true;
        }
    }
}
