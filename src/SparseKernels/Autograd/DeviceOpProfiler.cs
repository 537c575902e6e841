using SparseKernels.Runtime;

namespace SparseKernels.Autograd;

/// <summary>
/// Device time per backend op: <see cref="DeviceTensorBackend"/> records an event pair on the device's stream around
/// each op while a profiler is attached (<see cref="DeviceTensorBackend.Profiler"/>); <see cref="Collect"/> waits for
/// the device and sums the intervals by op name. Events are created once and reused, so a profiled step allocates
/// nothing on the device after the first. Profiling adds two event records per op (a few microseconds each), so
/// time whole steps without it.
/// </summary>
public sealed class DeviceOpProfiler : IDisposable
{
    private readonly IDevice _device;
    private readonly List<DeviceEvent> _events = [];
    private readonly List<(string Op, int Start, int End)> _records = [];
    private int _used;

    /// <summary>Creates a profiler for ops on <paramref name="device"/>; attach it with <see cref="DeviceTensorBackend.Profiler"/>. Throws <see cref="ArgumentNullException"/> for a null device.</summary>
    public DeviceOpProfiler(IDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
    }

    /// <summary>Marks the start of an op; pass the result to <see cref="End"/>.</summary>
    public int Begin()
    {
        var e = Next();
        e.Record();
        return _used - 1;
    }

    /// <summary>Marks the end of the op begun at <paramref name="start"/>.</summary>
    public void End(string op, int start)
    {
        Next().Record();
        _records.Add((op, start, _used - 1));
    }

    /// <summary>Milliseconds and calls per op since the last collect (waits for the device), then starts over.</summary>
    public IReadOnlyDictionary<string, (double Milliseconds, int Calls)> Collect()
    {
        _device.Synchronize();
        var result = new SortedDictionary<string, (double, int)>(StringComparer.Ordinal);
        foreach (var (op, start, end) in _records)
        {
            double ms = _events[end].ElapsedMillisecondsSince(_events[start]);
            result[op] = result.TryGetValue(op, out var t) ? (t.Item1 + ms, t.Item2 + 1) : (ms, 1);
        }
        _records.Clear();
        _used = 0;
        return result;
    }

    private DeviceEvent Next()
    {
        if (_used == _events.Count) _events.Add(_device.CreateEvent());
        return _events[_used++];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var e in _events) e.Dispose();
        _events.Clear();
    }
}
