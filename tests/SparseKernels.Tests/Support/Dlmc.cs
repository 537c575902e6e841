using NUnit.Framework;
using SparseKernels.Tensors;

namespace SparseKernels.Tests.Support;

/// <summary>
/// The DLMC sparsity patterns (Deep Learning Matrix Collection, <c>.smtx</c> files) the tests run on: where they are,
/// which there are, and one loader, the engine's <see cref="SmtxFile"/> reader.
/// </summary>
public static class Dlmc
{
    /// <summary>The DLMC folder: $SPARSEKERNELS_DATA/dlmc on the GPU machine, else ../shared/dlmc beside the repository; null when neither exists.</summary>
    public static string? Root()
    {
        string? data = Environment.GetEnvironmentVariable("SPARSEKERNELS_DATA");
        if (data is not null && Directory.Exists(Path.Combine(data, "dlmc"))) return Path.Combine(data, "dlmc");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "..", "shared", "dlmc");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "SparseKernels.sln")))
                return Path.GetFullPath(candidate);
        }
        return null;
    }

    /// <summary>Every .smtx file of the DLMC subset, relative to its root (for test case names); one placeholder when there is no DLMC data, which <see cref="Load"/> then ignores.</summary>
    public static IEnumerable<string> Files()
    {
        string? root = Root();
        if (root is null) return ["(no DLMC data found)"];
        return Directory.EnumerateFiles(root, "*.smtx", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f)).OrderBy(f => f, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The smallest DLMC matrices (kept small: the emulated device is slow).</summary>
    public static readonly string[] SmallFiles =
    [
        "transformer/magnitude_pruning/0.98/body_encoder_layer_0_self_attention_multihead_attention_q_fully_connected.smtx",
        "transformer/magnitude_pruning/0.95/body_encoder_layer_0_self_attention_multihead_attention_q_fully_connected.smtx",
        "rn50/magnitude_pruning/0.98/bottleneck_2_block_group3_1_1.smtx",
        "transformer/magnitude_pruning/0.98/body_encoder_layer_0_ffn_conv2_fully_connected.smtx",
    ];

    /// <summary>
    /// The absolute path of a DLMC file; ignores the test when there is no DLMC data, fails it when the file is missing.
    /// </summary>
    public static string PathOf(string relativePath)
    {
        string? root = Root();
        if (root is null) Assert.Ignore("No DLMC data found (set SPARSEKERNELS_DATA or put shared/dlmc beside the repository).");
        string path = Path.Combine(root!, relativePath);
        Assert.That(File.Exists(path), Is.True, $"DLMC file {path} is missing.");
        return path;
    }

    /// <summary>
    /// Reads a DLMC pattern with <see cref="SmtxFile.Read"/>, its values drawn from <paramref name="rng"/> (never zero), and
    /// writes its shape to the test output; ignores the test when there is no DLMC data, fails it when the file is missing.
    /// </summary>
    public static CsrMatrix Load(string relativePath, Random rng)
    {
        var a = SmtxFile.Read(PathOf(relativePath), rng);
        TestContext.Out.WriteLine($"{relativePath}: {a}");
        return a;
    }
}
