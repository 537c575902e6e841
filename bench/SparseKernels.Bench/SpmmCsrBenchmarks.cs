using BenchmarkDotNet.Attributes;
using SparseKernels.Cpu;
using SparseKernels.Linalg;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// GPU SpMM C = A.B on every DLMC matrix and on uniform-random 4096x4096 at 50 ... 99 % sparsity, N = 256 and 2048:
/// our spmm_csr v1 and v2 against cuSPARSE (each CSR algorithm; the "x cuSPARSE" column takes the fastest),
/// cuBLAS SGEMM on the dense equivalent (fp32, and TF32 as a second line) and the CPU backend, in one run.
/// Every GPU method synchronizes the device before returning, so the time is the kernel's, not the launch's.
/// Left out by Program when no CUDA device can be opened.
/// </summary>
[BenchmarkCategory(Program.GpuCategory)]
public class SpmmCsrBenchmarks
{
    public static IEnumerable<string> Problems => BenchData.DlmcFiles.Keys.Concat(BenchData.SyntheticNames);

    [ParamsSource(nameof(Problems))]
    public string Matrix { get; set; } = "";

    [Params(256, 2048)]
    public int N { get; set; } = 256;

    private IDevice _device = null!;
    private CusparseContext _cusparse = null!;
    private CublasContext _cublas = null!;
    private CsrMatrix _a = null!, _dA = null!;
    private DenseTensor _b = null!, _dB = null!, _dC = null!, _dDenseA = null!;

    [GlobalSetup]
    public void Setup()
    {
        _device = Devices.Open(DevicePreference.Cuda);
        _cusparse = new CusparseContext(_device);
        _cublas = new CublasContext(_device);
        _a = BenchData.Load(Matrix);
        _b = BenchData.Dense(_a.Cols, N, 7);
        _dA = _a.ToDevice(_device);
        _dB = _b.ToDevice(_device);
        _dC = DenseTensor.Allocate(_device, _a.Rows, N);
        _dDenseA = _a.ToDense().ToDevice(_device);
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dDenseA.Dispose(); _dC.Dispose(); _dB.Dispose(); _dA.Dispose();
        _cublas.Dispose(); _cusparse.Dispose(); _device.Dispose();
    }

    [Benchmark]
    public void SpmmV1() { SpmmCsr.Run(_device, _dA, _dB, _dC, SpmmCsrVersion.V1); _device.Synchronize(); }

    [Benchmark]
    public void SpmmV2() { SpmmCsr.Run(_device, _dA, _dB, _dC, SpmmCsrVersion.V2); _device.Synchronize(); }

    [Benchmark]
    public void CusparseAlg1() { _cusparse.Spmm(_dA, _dB, _dC, algorithm: CusparseSpmmAlgorithm.CsrAlg1); _device.Synchronize(); }

    [Benchmark]
    public void CusparseAlg2() { _cusparse.Spmm(_dA, _dB, _dC, algorithm: CusparseSpmmAlgorithm.CsrAlg2); _device.Synchronize(); }

    [Benchmark]
    public void CusparseAlg3() { _cusparse.Spmm(_dA, _dB, _dC, algorithm: CusparseSpmmAlgorithm.CsrAlg3); _device.Synchronize(); }

    [Benchmark]
    public void CublasSgemm() { _cublas.Sgemm(_dDenseA, _dB, _dC, false, false); _device.Synchronize(); }

    [Benchmark]
    public void CublasTf32() { _cublas.Sgemm(_dDenseA, _dB, _dC, false, false, tf32: true); _device.Synchronize(); }

    [Benchmark]
    public DenseTensor CpuBackend() => SparseKernels.Cpu.CpuBackend.SpmmCsr(_a, _b);
}
