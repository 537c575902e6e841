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
/// Each GPU invocation queues <see cref="GpuBench.Launches"/> launches back to back and synchronizes once at the end
/// (OperationsPerInvoke: the reported time is per launch); cuSPARSE's descriptors and workspaces are made once in
/// GlobalSetup. Operands stay in L2 between launches where they fit: the reports are labelled L2-warm (the lean harness,
/// <c>verify spmm</c>, flushes L2 between repetitions). Left out by Program when no CUDA device can be opened.
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
    private CusparseSpmmPlan?[] _plans = [];
    private const int R = GpuBench.Launches;

    [GlobalSetup]
    public void Setup()
    {
        _device = GpuBench.Device;   // one device (and one cuSPARSE / cuBLAS handle) for the whole run
        _cusparse = GpuBench.Cusparse;
        _cublas = GpuBench.Cublas;
        _a = BenchData.Load(Matrix);
        _b = BenchData.Dense(_a.Cols, N, 7);
        _dA = _a.ToDevice(_device);
        _dB = _b.ToDevice(_device);
        _dC = DenseTensor.Allocate(_device, _a.Rows, N);
        _dDenseA = _a.ToDense().ToDevice(_device);
        _plans = [.. new[] { CusparseSpmmAlgorithm.CsrAlg1, CusparseSpmmAlgorithm.CsrAlg2, CusparseSpmmAlgorithm.CsrAlg3 }.Select(Plan)];
        _device.Synchronize();
    }

    private CusparseSpmmPlan? Plan(CusparseSpmmAlgorithm alg)
    {
        try { return _cusparse.PrepareSpmm(_dA, _dB, _dC, algorithm: alg); }
        catch (Exception e) when (e is SparseKernels.Native.CusparseException or EntryPointNotFoundException)
        {
            Console.WriteLine($"// cuSPARSE {alg} cannot run on {Matrix} N={N}: {e.Message}");
            return null;
        }
    }

    private void Repeat(Action launch) { for (int i = 0; i < R; i++) launch(); _device.Synchronize(); }

    private void Repeat(CusparseSpmmPlan? plan)
    {
        if (plan is null) throw new NotSupportedException("this cuSPARSE algorithm could not be prepared for this case (see the log)");
        for (int i = 0; i < R; i++) plan.Run();
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var p in _plans) p?.Dispose();
        _dDenseA.Dispose(); _dC.Dispose(); _dB.Dispose(); _dA.Dispose();
        _device.Synchronize();
    }

    [Benchmark(OperationsPerInvoke = R)]
    public void SpmmV1() => Repeat(() => SpmmCsr.Run(_device, _dA, _dB, _dC, SpmmCsrVersion.V1));

    [Benchmark(OperationsPerInvoke = R)]
    public void SpmmV2() => Repeat(() => SpmmCsr.Run(_device, _dA, _dB, _dC, SpmmCsrVersion.V2));

    [Benchmark(OperationsPerInvoke = R)]
    public void CusparseAlg1() => Repeat(_plans[0]);

    [Benchmark(OperationsPerInvoke = R)]
    public void CusparseAlg2() => Repeat(_plans[1]);

    [Benchmark(OperationsPerInvoke = R)]
    public void CusparseAlg3() => Repeat(_plans[2]);

    [Benchmark(OperationsPerInvoke = R)]
    public void CublasSgemm() => Repeat(() => _cublas.Sgemm(_dDenseA, _dB, _dC, false, false));

    [Benchmark(OperationsPerInvoke = R)]
    public void CublasTf32() => Repeat(() => _cublas.Sgemm(_dDenseA, _dB, _dC, false, false, tf32: true));

    [Benchmark]
    public DenseTensor CpuBackend() => SparseKernels.Cpu.CpuBackend.Default.SpmmCsr(_a, _b);
}
