using BenchmarkDotNet.Attributes;
using SparseKernels.Cpu;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// The CPU target: CpuBackend SpMM C = A.B (A a DLMC matrix, B dense K x 256) with 2 threads, on every DLMC
/// matrix. GFLOP/s counts 2*nnz*N; the geometric mean over the set is the target figure (>= 25 GFLOP/s), set
/// beside PyTorch's CPU CSR matmul by bench/torch_spmm_cpu.py on the same matrices.
/// </summary>
[MemoryDiagnoser(false)]
public class SpmmCsrCpuBenchmarks
{
    private static readonly CpuBackend s_cpu = new(2);   // the 2-thread target

    public static IEnumerable<string> Problems => BenchData.DlmcFiles.Keys;

    [ParamsSource(nameof(Problems))]
    public string Matrix { get; set; } = "";

    [Params(256)]
    public int N { get; set; } = 256;

    private CsrMatrix _a = null!;
    private DenseTensor _b = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = BenchData.Load(Matrix);
        _b = BenchData.Dense(_a.Cols, N, 7);
    }

    [Benchmark]
    public DenseTensor Backend() => s_cpu.SpmmCsr(_a, _b);
}

/// <summary>
/// CpuBackend against the double-accumulating CpuReference (the baseline) on a subset: two DLMC matrices and a
/// synthetic 4096x4096 at 90 % sparsity, N = 256, 2 threads for the backend.
/// </summary>
[MemoryDiagnoser(false)]
public class SpmmCsrCpuVsReferenceBenchmarks
{
    private static readonly CpuBackend s_cpu = new(2);

    [Params("tf 0.9 ffn1", "rn50 0.8 b3g4", "uniform 4096 0.9")]
    public string Matrix { get; set; } = "uniform 4096 0.9";

    [Params(256)]
    public int N { get; set; } = 256;

    private CsrMatrix _a = null!;
    private DenseTensor _b = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = BenchData.Load(Matrix);
        _b = BenchData.Dense(_a.Cols, N, 7);
    }

    [Benchmark(Baseline = true)]
    public DenseTensor Reference() => CpuReference.SpmmCsr(_a, _b);

    [Benchmark]
    public DenseTensor Backend() => s_cpu.SpmmCsr(_a, _b);
}
