using BenchmarkDotNet.Attributes;
using SparseKernels.Linalg;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// GPU SDDMM (the weight gradient: out[p] = X[i,:] . Y[j,:] for each nonzero (i, j) of the pattern) on every DLMC
/// pattern and the uniform 4096x4096 sweep, K = 256 and 2048: sddmm_csr v1 and v2 against cuSPARSE SDDMM, cuBLAS
/// SGEMM (fp32 and TF32) computing the whole dense X.Y^T, and the CPU backend. Each GPU invocation queues
/// <see cref="GpuBench.Launches"/> launches and synchronizes once (OperationsPerInvoke); cuSPARSE's descriptors,
/// workspace and preprocessing are made once in GlobalSetup. L2-warm (see <see cref="SpmmCsrBenchmarks"/>).
/// Left out by Program when no CUDA device can be opened.
/// </summary>
[BenchmarkCategory(Program.GpuCategory)]
public class SddmmCsrBenchmarks
{
    public static IEnumerable<string> Problems => BenchData.DlmcFiles.Keys.Concat(BenchData.SyntheticNames);

    [ParamsSource(nameof(Problems))]
    public string Matrix { get; set; } = "";

    [Params(256, 2048)]
    public int K { get; set; } = 256;

    private IDevice _device = null!;
    private CusparseContext _cusparse = null!;
    private CublasContext _cublas = null!;
    private CsrMatrix _p = null!, _dP = null!;
    private DenseTensor _x = null!, _y = null!, _dX = null!, _dY = null!, _dDense = null!;
    private CusparseSddmmPlan _plan = null!;
    private const int R = GpuBench.Launches;

    [GlobalSetup]
    public void Setup()
    {
        _device = GpuBench.Device;   // one device (and one cuSPARSE / cuBLAS handle) for the whole run
        _cusparse = GpuBench.Cusparse;
        _cublas = GpuBench.Cublas;
        _p = BenchData.Load(Matrix);
        _x = BenchData.Dense(_p.Rows, K, 11);
        _y = BenchData.Dense(_p.Cols, K, 13);
        _dP = _p.ToDevice(_device);
        _dX = _x.ToDevice(_device);
        _dY = _y.ToDevice(_device);
        _dDense = DenseTensor.Allocate(_device, _p.Rows, _p.Cols);
        _plan = _cusparse.PrepareSddmm(_dX, _dY, _dP);
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plan.Dispose();
        _dDense.Dispose(); _dY.Dispose(); _dX.Dispose(); _dP.Dispose();
        _device.Synchronize();
    }

    private void Repeat(Action launch) { for (int i = 0; i < R; i++) launch(); _device.Synchronize(); }

    [Benchmark(OperationsPerInvoke = R)]
    public void SddmmV1() => Repeat(() => SddmmCsr.Run(_device, _dX, _dY, _dP, SddmmCsrVersion.V1));

    [Benchmark(OperationsPerInvoke = R)]
    public void SddmmV2() => Repeat(() => SddmmCsr.Run(_device, _dX, _dY, _dP, SddmmCsrVersion.V2));

    [Benchmark(OperationsPerInvoke = R)]
    public void CusparseSddmm() => Repeat(_plan.Run);

    [Benchmark(OperationsPerInvoke = R)]
    public void CublasSgemm() => Repeat(() => _cublas.Sgemm(_dX, _dY, _dDense, false, true));

    [Benchmark(OperationsPerInvoke = R)]
    public void CublasTf32() => Repeat(() => _cublas.Sgemm(_dX, _dY, _dDense, false, true, tf32: true));

    [Benchmark]
    public CsrMatrix CpuBackend() => SparseKernels.Cpu.CpuBackend.Default.SddmmCsr(_p, _x, _y);
}
