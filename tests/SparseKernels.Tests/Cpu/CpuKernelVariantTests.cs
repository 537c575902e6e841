using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Cpu;

/// <summary>
/// Every numbered CPU kernel (V1; V2 with Vector512 and with Vector256) through the Into forms against
/// <see cref="CpuReference"/>: outputs poisoned with NaN first (so an element the kernel skips shows), N = 1, 3, 64,
/// 256 and widths that are no multiple of a vector, empty and long rows, power-law rows, DLMC patterns, 1, 2 and
/// 7 threads; the transposed SpMM's cached pattern after an in-place pattern change; zero allocation after warm-up.
/// </summary>
public class CpuKernelVariantTests
{
    private const double Atol = 1e-4, Rtol = 1e-4, DlmcAtol = 5e-4;

    /// <summary>A kernel version and, for V2, whether it may use Vector512.</summary>
    public sealed record Variant(string Name, int Version, bool Vector512)
    {
        internal CpuKernel Kernel => (CpuKernel)Version;
        public override string ToString() => Name;
    }

    private static readonly Variant[] s_variants =
    [
        new("V1", 1, false),
        new("V2-512", 2, true),
        new("V2-256", 2, false),
    ];

    private static readonly int[] s_widths = [1, 3, 64, 256, 67, 130];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var v in s_variants)
        {
            foreach (var sc in CpuCasesSparse())
                yield return new TestCaseData(v, sc.Name, sc.Make, sc.N).SetName($"{v} {sc.Name}");
            foreach (int n in s_widths)
            {
                yield return new TestCaseData(v, "powerlaw 300x500", (Func<Random, CsrMatrix>)(r => PowerLaw(r, 300, 500, 0.004)), n)
                    .SetName($"{v} powerlaw 300x500 N{n}");
                Func<Random, CsrMatrix> longRows = r => TestData.Csr(r, 41, 2100, 0.02, emptyRows: 9, longRow: true);
                yield return new TestCaseData(v, "longrows 41x2100", longRows, n)
                    .SetName($"{v} longrows 41x2100 N{n}");
            }
        }
    }

    private static IEnumerable<CpuCases.SparseCase> CpuCasesSparse()
        => CpuCases.Sparse().Select(t => (CpuCases.SparseCase)t.Arguments[0]!);

    /// <summary>Power-law row lengths (a few very long rows, many empty), about <paramref name="density"/> on average.</summary>
    internal static CsrMatrix PowerLaw(Random rng, int rows, int cols, double density)
    {
        var offsets = new int[rows + 1];
        var ci = new List<int>();
        double mean = density * cols;
        for (int r = 0; r < rows; r++)
        {
            // Pareto(alpha = 1.2) row lengths scaled to the mean; about a third of the rows empty.
            int len = rng.Next(3) == 0 ? 0 : (int)Math.Min(cols, mean * 0.3 / Math.Pow(1 - rng.NextDouble(), 1 / 1.2));
            if (r == rows / 2) len = cols;   // one full row
            var picked = new SortedSet<int>();
            while (picked.Count < len) picked.Add(rng.Next(cols));
            ci.AddRange(picked);
            offsets[r + 1] = ci.Count;
        }
        return new CsrMatrix(rows, cols, offsets, [.. ci], TestData.NonZeroArray(rng, ci.Count));
    }

    private static void With(Variant v, Action body)
    {
        bool saved = CpuBackend.UseVector512;
        CpuBackend.UseVector512 = v.Vector512 && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        try { body(); }
        finally { CpuBackend.UseVector512 = saved; }
    }

    private static DenseTensor Poisoned(int rows, int cols)
    {
        var t = DenseTensor.Zeros(rows, cols);
        t.HostData.AsSpan().Fill(float.NaN);
        return t;
    }

    [TestCaseSource(nameof(Cases))]
    public void AllThreeOpsMatchTheReference(Variant v, string name, Func<Random, CsrMatrix> make, int n)
    {
        var rng = TestRng.Fresh();
        var a = make(rng);
        TestContext.Out.WriteLine($"{name}: {a}, N = {n}");
        With(v, () => CheckAll(new CpuBackend(2), v.Kernel, a, n, rng, Atol));
    }

    private static void CheckAll(CpuBackend cpu, CpuKernel kernel, CsrMatrix a, int n, Random rng, double atol)
    {
        var b = TestData.Dense(rng, a.Cols, n);
        var c = Poisoned(a.Rows, n);
        cpu.SpmmCsrInto(a, b, c, kernel);
        Approx.AssertAllClose(c.HostData, CpuReference.SpmmCsr(a, b).HostData, atol, Rtol, "SpmmCsrInto", n);

        var bt = TestData.Dense(rng, a.Rows, n);
        var ct = Poisoned(a.Cols, n);
        cpu.SpmmCsrTransposedInto(a, bt, ct, kernel);
        Approx.AssertAllClose(ct.HostData, CpuReference.SpmmCsrTransposed(a, bt).HostData, atol, Rtol, "SpmmCsrTransposedInto", n);

        var x = TestData.Dense(rng, a.Rows, n);
        var y = TestData.Dense(rng, a.Cols, n);
        var values = new float[a.Nnz];
        values.AsSpan().Fill(float.NaN);
        cpu.SddmmCsrInto(a, x, y, values, kernel);
        Approx.AssertAllClose(values, CpuReference.SddmmCsr(a, x, y).Values, atol, Rtol, "SddmmCsrInto");
    }

    /// <summary>DLMC patterns at the benchmark widths N = 64 and 256 (a handful of files, to keep the suite fast).</summary>
    public static IEnumerable<TestCaseData> DlmcCases()
    {
        string[] files =
        [
            "rn50/magnitude_pruning/0.8/bottleneck_2_block_group3_1_1.smtx",
            "transformer/magnitude_pruning/0.9/body_encoder_layer_0_ffn_conv2_fully_connected.smtx",
            "rn50/magnitude_pruning/0.98/final_dense.smtx",
        ];
        foreach (var v in s_variants)
            foreach (string f in files)
                foreach (int n in new[] { 64, 256 })
                    yield return new TestCaseData(v, f, n).SetName($"{v} {f} N{n}");
    }

    [TestCaseSource(nameof(DlmcCases))]
    public void DlmcPatterns(Variant v, string file, int n)
    {
        var rng = TestRng.Fresh();
        var a = Dlmc.Load(file, rng);
        With(v, () => CheckAll(new CpuBackend(2), v.Kernel, a, n, rng, DlmcAtol));
    }

    [Test]
    public void ThreadCountsOneTwoSeven([Values(1, 2, 7)] int threads)
    {
        var rng = TestRng.Fresh();
        var a = PowerLaw(rng, 700, 900, 0.01);
        CheckAll(new CpuBackend(threads), CpuKernel.V2, a, 96, rng, Atol);
    }

    [Test]
    public void TransposedCacheFollowsAnInPlacePatternChange()
    {
        var rng = TestRng.Fresh();
        var a = TestData.CsrExact(rng, 300, 400, 6000);
        var b = TestData.Dense(rng, 300, 64);
        var c = Poisoned(400, 64);
        CpuBackend.Default.SpmmCsrTransposedInto(a, b, c);
        Approx.AssertAllClose(c.HostData, CpuReference.SpmmCsrTransposed(a, b).HostData, Atol, Rtol, "before");
        // Move one nonzero to another free column of its row (the arrays stay valid CSR), and change values.
        int row = Enumerable.Range(0, a.Rows).First(r => a.RowLength(r) > 0 && a.RowLength(r) < a.Cols);
        var cols = a.ColumnIndices.AsSpan(a.RowOffsets[row], a.RowLength(row)).ToArray().ToHashSet();
        int free = Enumerable.Range(0, a.Cols).First(col => !cols.Contains(col));
        var newCols = cols.Skip(1).Append(free).Order().ToArray();
        newCols.CopyTo(a.ColumnIndices, a.RowOffsets[row]);
        a.Values[0] = 0.75f;
        CsrMatrix.Validate(a.Rows, a.Cols, a.RowOffsets, a.ColumnIndices, a.Nnz);
        c.HostData.AsSpan().Fill(float.NaN);
        CpuBackend.Default.SpmmCsrTransposedInto(a, b, c);
        Approx.AssertAllClose(c.HostData, CpuReference.SpmmCsrTransposed(a, b).HostData, Atol, Rtol, "after the pattern changed in place");
    }

    [Test]
    public void NoAllocationPerCallAfterWarmUp()
    {
        var rng = TestRng.Fresh();
        var cpu = new CpuBackend(2);
        var a = PowerLaw(rng, 512, 512, 0.05);
        var b = TestData.Dense(rng, 512, 64);
        var c = DenseTensor.Zeros(512, 64);
        var values = new float[a.Nnz];
        var small = TestData.CsrExact(rng, 8, 512, 20);
        var cs = DenseTensor.Zeros(8, 64);
        void Calls()
        {
            cpu.SpmmCsrInto(a, b, c);
            cpu.SpmmCsrTransposedInto(a, b, c);
            cpu.SddmmCsrInto(a, b, b, values);
            cpu.SpmmCsrInto(small, b, cs);
        }
        for (int i = 0; i < 3; i++) Calls();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Calls();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, "bytes allocated by 80 Into calls after warm-up");
    }

    public static IEnumerable<TestCaseData> BadOutputs()
    {
        var rng = new Random(3);
        var a = TestData.Csr(rng, 7, 96, 0.3);
        var b = TestData.Dense(rng, 96, 4);
        var bt = TestData.Dense(rng, 7, 4);
        var square = TestData.Csr(rng, 96, 96, 0.1);
        var cpu = CpuBackend.Default;
        TestCaseData Case(string name, TestDelegate call, params string[] words) => new TestCaseData(call, words).SetName(name);
        yield return Case("SpmmCsrInto wrong c", () => cpu.SpmmCsrInto(a, b, DenseTensor.Zeros(7, 5)), "SpmmCsrInto", "7x5", "7x4");
        yield return Case("SpmmCsrInto c is b", () => cpu.SpmmCsrInto(square, b, b), "SpmmCsrInto", "96x4", "shares");
        yield return Case("SpmmCsrTransposedInto wrong c", () => cpu.SpmmCsrTransposedInto(a, bt, DenseTensor.Zeros(7, 4)),
            "SpmmCsrTransposedInto", "7x4", "96x4");
        yield return Case("SddmmCsrInto wrong values length", () => cpu.SddmmCsrInto(a, bt, b, new float[a.Nnz + 1]),
            "SddmmCsrInto", $"{a.Nnz + 1}", $"{a.Nnz} nonzeros");
    }

    [TestCaseSource(nameof(BadOutputs))]
    public void BadOutputsAreRejectedNamingTheShapes(TestDelegate call, string[] words)
    {
        var e = Assert.Throws<ArgumentException>(call)!;
        TestContext.Out.WriteLine(e.Message);
        foreach (var w in words) Assert.That(e.Message, Does.Contain(w));
    }

    [Test]
    public void CorruptedColumnIndexIsCaughtByTheParallelPathToo()
    {
        var rng = TestRng.Fresh();
        var a = TestData.CsrExact(rng, 400, 512, 40_000);
        var b = TestData.Dense(rng, 512, 64);
        a.ColumnIndices[30_000] = 9999;
        var e = Assert.Throws<CsrFormatException>(() => new CpuBackend(2).SpmmCsrInto(a, b, DenseTensor.Zeros(400, 64)))!;
        Assert.That(e.Message, Does.Contain("9999").And.Contain("position 30000"));
        Assert.Throws<CsrFormatException>(() => new CpuBackend(2).SddmmCsrInto(a, TestData.Dense(rng, 400, 64), b, new float[a.Nnz]));
        var bt = TestData.Dense(rng, 400, 64);
        Assert.Throws<CsrFormatException>(() => new CpuBackend(2).SpmmCsrTransposedInto(a, bt, DenseTensor.Zeros(512, 64)));
    }
}
