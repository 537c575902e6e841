using System.Text.RegularExpressions;
using NUnit.Framework;

namespace SparseKernels.Tests.Architecture;

/// <summary>
/// The engine's layers point one way (README, "Architecture"): each folder of src/SparseKernels (one namespace) may
/// use only the namespaces of lower layers, and inside the ops layer only Ops itself. Read off the sources: every
/// <c>using SparseKernels.X</c> and every qualified <c>X.Type</c> / <c>SparseKernels.X.Type</c> outside comments.
/// </summary>
public class LayeringTests
{
    /// <summary>The layers, lowest first; a namespace may use those of lower layers (Native is the P/Invoke project).</summary>
    private static readonly string[][] Layers =
    [
        ["Native"],
        ["Runtime"],
        ["Tensors"],
        ["Ops", "Cpu", "Linalg", "Topology"],
        ["Autograd"],
        ["Training"],
        ["Sparsity"],
        ["Runs", "Embedding"],
        ["Distributed"],
    ];

    /// <summary>Same-layer uses that are allowed: the device launchers of the ops layer build on Ops (KernelRef, checks).</summary>
    private static readonly (string From, string To)[] SameLayer = [("Topology", "Ops"), ("Linalg", "Ops")];

    private static int LayerOf(string ns) => Array.FindIndex(Layers, l => l.Contains(ns));

    [Test]
    public void EveryNamespaceUsesOnlyLowerLayers()
    {
        string src = Path.Combine(RepoRoot(), "src", "SparseKernels");
        var names = Layers.SelectMany(l => l).ToArray();
        var reference = new Regex(@"using SparseKernels\.(\w+)|\b(?:SparseKernels\.)?(" + string.Join("|", names) + @")\.[A-Z]");
        var violations = new List<string>();
        foreach (string dir in Directory.GetDirectories(src).Where(d => !Path.GetFileName(d).StartsWith('.') && Path.GetFileName(d) is not ("bin" or "obj")))
        {
            string from = Path.GetFileName(dir);
            int layer = LayerOf(from);
            Assert.That(layer, Is.GreaterThanOrEqualTo(0), $"src/SparseKernels/{from} is not in the layer table; add it where it belongs");
            foreach (string file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
            {
                int lineNo = 0;
                foreach (string line in File.ReadLines(file))
                {
                    lineNo++;
                    string code = line.TrimStart();
                    if (code.StartsWith("//", StringComparison.Ordinal)) continue;   // comments and XML docs may point anywhere
                    int comment = code.IndexOf("//", StringComparison.Ordinal);
                    if (comment >= 0 && !code[..comment].Contains('"')) code = code[..comment];
                    foreach (Match m in reference.Matches(code))
                    {
                        string to = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
                        int target = LayerOf(to);
                        if (target < 0 || to == from) continue;
                        bool ok = target < layer || SameLayer.Contains((from, to));
                        if (!ok) violations.Add($"{Path.GetRelativePath(src, file)}:{lineNo}: {from} (layer {layer}) uses {to} (layer {target}): {line.Trim()}");
                    }
                }
            }
        }
        Assert.That(violations, Is.Empty, "layers must point down:\n" + string.Join("\n", violations.Distinct()));
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SparseKernels.sln"))) return d.FullName;
        Assert.Ignore("The sources are not beside this test build (a packed run): the layering check reads them.");
        return "";
    }
}
