using BenchmarkDotNet.Attributes;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Topology;

namespace SparseKernels.Bench;

/// <summary>
/// Select the k largest |x| of N floats on the CPU backend (radix selection, multithreaded) at N = 1M and 16M,
/// k = 1 / 10 / 50 %. The GPU versions are in <see cref="TopkSelectGpuBenchmarks"/>.
/// </summary>
[MemoryDiagnoser(false)]
public class TopkSelectBenchmarks
{
    [Params(1 << 20, 1 << 24)]
    public int N { get; set; } = 1 << 20;

    [Params(1, 10, 50)]
    public int Percent { get; set; } = 10;

    private float[] _values = null!;

    [GlobalSetup]
    public void Setup() => _values = TopologyBenchSupport.Values(N, 11);

    [Benchmark(Baseline = true)]
    public bool[] Backend() => SparseKernels.Cpu.CpuBackend.Default.TopkSelect(_values, (long)N * Percent / 100);
}

/// <summary>
/// Select on a CUDA device at N = 1M, 16M, 100M floats and k = 1 / 10 / 50 %, against a full sort of the same
/// array on the device (<see cref="DeviceSort"/>, the baseline) and one device-to-device copy of it (the
/// "one read of the array" of the target: select within 2x). R calls per invocation and one synchronization
/// (OperationsPerInvoke); L2-warm. No cases (nothing runs) without a CUDA device.
/// </summary>
public class TopkSelectGpuBenchmarks
{
    public static IEnumerable<int> Sizes() => TopologyBenchSupport.Cuda is null ? [] : [1 << 20, 1 << 24, 100_000_000];

    [ParamsSource(nameof(Sizes))]
    public int N { get; set; } = 1 << 20;

    [Params(1, 10, 50)]
    public int Percent { get; set; } = 10;

    private IDevice _device = null!;
    private DeviceBuffer<float> _values = null!, _copy = null!;
    private DeviceBuffer<byte> _flags = null!;

    [GlobalSetup]
    public void Setup()
    {
        _device = TopologyBenchSupport.Cuda ?? throw new InvalidOperationException("no CUDA device");
        _values = _device.Allocate<float>(N);
        _values.CopyFrom(TopologyBenchSupport.Values(N, 11));
        _copy = _device.Allocate<float>(N);
        _flags = _device.Allocate<byte>(N);
    }

    [GlobalCleanup]
    public void Cleanup() { _values.Dispose(); _copy.Dispose(); _flags.Dispose(); }

    private const int R = GpuBench.Launches;

    [Benchmark(OperationsPerInvoke = R)]
    public void Select()
    {
        for (int i = 0; i < R; i++) TopkSelect.Run(_device, _values, (long)N * Percent / 100, _flags);
        _device.Synchronize();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = R)]
    public void FullSort()
    {
        for (int i = 0; i < R; i++) { using var sorted = DeviceSort.SortMagnitudes(_device, _values); }
        _device.Synchronize();
    }

    [Benchmark(OperationsPerInvoke = R)]
    public void ReadArrayOnce()
    {
        for (int i = 0; i < R; i++) _device.CopyDeviceToDevice(_values, 0, _copy, 0, N);
        _device.Synchronize();
    }
}
