using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace SparseKernels.Runtime;

/// <summary>
/// The kernel images embedded in this assembly by the build: "kernels/&lt;name&gt;.fatbin" and
/// "kernels/&lt;name&gt;.compute_XY.ptx", made by CMake from kernels/&lt;name&gt;.cu (absent when nvcc was
/// not found). Kernel names are read from the PTX text (<c>.entry name(</c>).
/// </summary>
internal static partial class KernelImages
{
    public const string ResourcePrefix = "kernels/";

    /// <summary>What GetKernel says when the engine was built without any kernel images.</summary>
    public const string NoImagesMessage = "no kernel images were built into this engine (nvcc was not found when it was built; see README)";

    /// <summary>One module: its fatbin and/or PTX per virtual architecture, and the kernels it defines.</summary>
    public sealed record ModuleImage(string Name, byte[]? Fatbin, IReadOnlyDictionary<int, byte[]> PtxByArch, IReadOnlyList<string> KernelNames)
    {
        /// <summary>The resource names, for reporting.</summary>
        public IEnumerable<string> Images =>
            (Fatbin is null ? [] : new[] { $"{Name}.fatbin" }).Concat(PtxByArch.Keys.OrderBy(a => a).Select(a => $"{Name}.compute_{a}.ptx"));
    }

    private static readonly Lazy<IReadOnlyList<ModuleImage>> s_modules = new(() => ReadModules(typeof(KernelImages).Assembly));

    /// <summary>The embedded modules (empty when none were built).</summary>
    public static IReadOnlyList<ModuleImage> Modules => s_modules.Value;

    /// <summary>The names of the embedded modules (e.g. "spmm_csr"); empty when none were built.</summary>
    public static IReadOnlyList<string> Available => Modules.Select(m => m.Name).ToArray();

    /// <summary>Every kernel name found in the embedded PTX.</summary>
    public static IReadOnlyList<string> KernelNames => Modules.SelectMany(m => m.KernelNames).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToArray();

    [GeneratedRegex(@"\.entry\s+([A-Za-z_$%][A-Za-z0-9_$]*)\s*\(")]
    private static partial Regex EntryRegex();

    [GeneratedRegex(@"^(?<name>.+)\.compute_(?<arch>\d+)\.ptx$")]
    private static partial Regex PtxNameRegex();

    [GeneratedRegex(@"\.entry\s+([A-Za-z_$%][A-Za-z0-9_$]*)\s*\(([^)]*)\)")]
    private static partial Regex EntryWithParamsRegex();

    /// <summary>The number of <c>.param</c> entries of each <c>.entry</c> in a PTX text.</summary>
    public static IReadOnlyDictionary<string, int> ParseParameterCounts(string ptx)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in EntryWithParamsRegex().Matches(ptx))
            counts[m.Groups[1].Value] = Regex.Count(m.Groups[2].Value, @"\.param\b");
        return counts;
    }

    private static readonly Lazy<IReadOnlyDictionary<string, int>> s_parameterCounts = new(() =>
    {
        var all = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var module in Modules)
            foreach (var ptx in module.PtxByArch.Values)
                foreach (var (name, count) in ParseParameterCounts(System.Text.Encoding.UTF8.GetString(ptx).TrimEnd('\0')))
                    all[name] = count;
        return all;
    });

    /// <summary>How many parameters the kernel <paramref name="name"/> takes, read from the embedded PTX; -1 when unknown.</summary>
    public static int ParameterCount(string name) => s_parameterCounts.Value.TryGetValue(name, out int n) ? n : -1;

    /// <summary>The <c>.entry</c> names in a PTX text, in order.</summary>
    public static IReadOnlyList<string> ParseEntryNames(string ptx)
        => EntryRegex().Matches(ptx).Select(m => m.Groups[1].Value).Distinct().ToArray();

    /// <summary>The highest PTX architecture not above the device's compute capability (major*10+minor), or null.</summary>
    public static int? SelectPtxArch(IEnumerable<int> archs, int deviceArch)
    {
        int best = -1;
        foreach (int a in archs) if (a <= deviceArch && a > best) best = a;
        return best < 0 ? null : best;
    }

    internal static IReadOnlyList<ModuleImage> ReadModules(Assembly assembly)
    {
        var fatbins = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var ptx = new Dictionary<string, Dictionary<int, byte[]>>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            string file = resource[ResourcePrefix.Length..];
            if (file.EndsWith(".fatbin", StringComparison.Ordinal))
                fatbins[file[..^".fatbin".Length]] = ReadResource(assembly, resource);
            else if (PtxNameRegex().Match(file) is { Success: true } m)
            {
                string name = m.Groups["name"].Value;
                if (!ptx.TryGetValue(name, out var byArch)) ptx[name] = byArch = [];
                byArch[int.Parse(m.Groups["arch"].Value, System.Globalization.CultureInfo.InvariantCulture)] = ReadResource(assembly, resource);
            }
        }
        var modules = new List<ModuleImage>();
        foreach (string name in fatbins.Keys.Union(ptx.Keys).OrderBy(n => n, StringComparer.Ordinal))
        {
            var byArch = ptx.GetValueOrDefault(name) ?? [];
            var names = byArch.Values.SelectMany(p => ParseEntryNames(Encoding.UTF8.GetString(p))).Distinct().ToArray();
            modules.Add(new ModuleImage(name, fatbins.GetValueOrDefault(name), byArch, names));
        }
        return modules;
    }

    private static byte[] ReadResource(Assembly assembly, string resource)
    {
        using var s = assembly.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"Embedded resource '{resource}' cannot be opened.");
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>PTX as the driver wants it: NUL-terminated.</summary>
    internal static byte[] NulTerminated(byte[] ptx)
    {
        if (ptx.Length > 0 && ptx[^1] == 0) return ptx;
        var copy = new byte[ptx.Length + 1];
        ptx.CopyTo(copy, 0);
        return copy;
    }
}
