using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>Shared helpers of the kernel tests: seeds, tolerances, DLMC cases.</summary>
internal static class OpsTestSupport
{
    /// <summary>A fresh seed, written to the test output so a failure can be replayed.</summary>
    public static Random FreshRandom()
    {
        // SPARSEKERNELS_TEST_SEED replays a failing run's seed (printed in its output).
        int seed = int.TryParse(Environment.GetEnvironmentVariable("SPARSEKERNELS_TEST_SEED"), out int fixedSeed) ? fixedSeed : Random.Shared.Next();
        TestContext.Out.WriteLine($"seed: {seed}");
        return new Random(seed);
    }

    /// <summary>
    /// Tolerance for an fp32 dot product of <paramref name="terms"/> products of values in [-1, 1],
    /// against a double reference: rounding errors grow like sqrt(terms) * eps * |partial sums|, so
    /// atol = 1e-5 * (1 + sqrt(terms)), rtol = 1e-4 (3000 terms: atol 5.6e-4; a wrong or missing
    /// term is off by at least 0.0025 and NaN poison never passes).
    /// </summary>
    public static (double Atol, double Rtol) DotTolerance(int terms) => (1e-5 * (1 + Math.Sqrt(Math.Max(terms, 0))), 1e-4);

    public static int MaxRowLength(CsrMatrix a)
    {
        int max = 0;
        for (int r = 0; r < a.Rows; r++) max = Math.Max(max, a.RowLength(r));
        return max;
    }

    /// <summary>The smallest DLMC matrices (kept small: the emulated device is slow).</summary>
    public static readonly string[] SmallDlmcFiles =
    [
        "transformer/magnitude_pruning/0.98/body_encoder_layer_0_self_attention_multihead_attention_q_fully_connected.smtx",
        "transformer/magnitude_pruning/0.95/body_encoder_layer_0_self_attention_multihead_attention_q_fully_connected.smtx",
        "rn50/magnitude_pruning/0.98/bottleneck_2_block_group3_1_1.smtx",
        "transformer/magnitude_pruning/0.98/body_encoder_layer_0_ffn_conv2_fully_connected.smtx",
    ];

    /// <summary>Reads a DLMC pattern with fresh non-zero values; ignores the test when there is no DLMC data, fails when the file is missing.</summary>
    public static CsrMatrix LoadDlmc(string relativePath, Random rng)
    {
        string? root = TestData.DlmcRoot();
        if (root is null) Assert.Ignore("No DLMC data (set SPARSEKERNELS_DATA or put shared/dlmc beside the repository).");
        string path = Path.Combine(root!, relativePath);
        Assert.That(File.Exists(path), Is.True, $"DLMC file {path} is missing.");
        var a = SmtxFile.Read(path, rng);
        TestContext.Out.WriteLine($"{relativePath}: {a}");
        return a;
    }
}
