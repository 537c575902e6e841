using BenchmarkDotNet.Attributes;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Topology;

namespace SparseKernels.Bench;

/// <summary>
/// One full RigL update of a 4096 x 4096 layer (drop 30 % of the nonzeros by magnitude, grow as many by |dY^T.X|
/// over batch 256 with the chunked dense gradient, rebuild the CSR carrying two optimizer-state arrays) at 80 / 90 /
/// 98 % sparsity: the CPU backend here; the device version in <see cref="RiglUpdateGpuBenchmarks"/>.
/// Device memory of the grow step (besides inputs and outputs) is <see cref="GradientGrow.BytesNeeded"/>: about
/// 29 / 19 / 11 MiB at 80 / 90 / 98 % (k + 2^20 candidates), never the 64 MiB dense gradient.
/// </summary>
[MemoryDiagnoser(false)]
public class RiglUpdateBenchmarks
{
    public const int Size = 4096, Batch = 256;
    public const double DropFraction = 0.3;

    [Params(0.8, 0.9, 0.98)]
    public double Sparsity { get; set; } = 0.9;

    private CsrMatrix _w = null!;
    private float[][] _state = null!;
    private DenseTensor _dy = null!, _x = null!;
    private long _drop;

    [GlobalSetup]
    public void Setup()
    {
        _w = TopologyBenchSupport.Layer(Size, Sparsity, 5);
        _state = [TopologyBenchSupport.Values(_w.Nnz, 6), TopologyBenchSupport.Values(_w.Nnz, 7)];
        _dy = TopologyBenchSupport.Dense(Batch, Size, 8);
        _x = TopologyBenchSupport.Dense(Batch, Size, 9);
        _drop = (long)(_w.Nnz * DropFraction);
    }

    [Benchmark(Baseline = true)]
    public CsrMatrix Backend() => SparseKernels.Cpu.CpuBackend.Default.RiglUpdate(_w, _state, _dy, _x, _drop, "w").Weights;
}

/// <summary>
/// The same RigL update on a CUDA device (target: under 1 ms at 90 %). R updates per invocation, one synchronization
/// (OperationsPerInvoke); L2-warm. No cases without a CUDA device.
/// </summary>
public class RiglUpdateGpuBenchmarks
{
    public static IEnumerable<double> Sparsities() => TopologyBenchSupport.Cuda is null ? [] : [0.8, 0.9, 0.98];

    [ParamsSource(nameof(Sparsities))]
    public double Sparsity { get; set; } = 0.9;

    private IDevice _device = null!;
    private CsrMatrix _w = null!;
    private DeviceBuffer<float>[] _state = null!;
    private DenseTensor _dy = null!, _x = null!;
    private long _drop;

    [GlobalSetup]
    public void Setup()
    {
        _device = TopologyBenchSupport.Cuda ?? throw new InvalidOperationException("no CUDA device");
        var w = TopologyBenchSupport.Layer(RiglUpdateBenchmarks.Size, Sparsity, 5);
        _w = w.ToDevice(_device);
        _state = [_device.Allocate<float>(w.Nnz), _device.Allocate<float>(w.Nnz)];
        _state[0].CopyFrom(TopologyBenchSupport.Values(w.Nnz, 6));
        _state[1].CopyFrom(TopologyBenchSupport.Values(w.Nnz, 7));
        _dy = TopologyBenchSupport.Dense(RiglUpdateBenchmarks.Batch, RiglUpdateBenchmarks.Size, 8).ToDevice(_device);
        _x = TopologyBenchSupport.Dense(RiglUpdateBenchmarks.Batch, RiglUpdateBenchmarks.Size, 9).ToDevice(_device);
        _drop = (long)(w.Nnz * RiglUpdateBenchmarks.DropFraction);
    }

    private const int R = GpuBench.Launches;

    [Benchmark(OperationsPerInvoke = R)]
    public void Device()
    {
        for (int i = 0; i < R; i++)
        {
            var (nw, ns) = RiglUpdate.Run(_device, _w, _state, _dy, _x, _drop, "w");
            nw.Dispose();
            foreach (var s in ns) s.Dispose();
        }
        _device.Synchronize();
    }
}
