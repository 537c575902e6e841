using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>
/// The one place that maps the logical library names used by the bindings ("cuda", "cublas", "cusparse")
/// to files. Installed as the DllImport resolver of this assembly by a module initializer; names it does
/// not know (e.g. "sparsekernels_emu") fall through to the runtime's default probing. Remembers which
/// file each name resolved to (for <c>info</c>) and why a name could not be loaded.
/// </summary>
internal static class NativeLibraries
{
    public const string Cuda = "cuda";
    public const string Cublas = "cublas";
    public const string Cusparse = "cusparse";

    /// <summary>Extra folder searched for CUDA libraries, before the standard CUDA install folders.</summary>
    public const string LibraryDirEnvironmentVariable = "SPARSEKERNELS_CUDA_LIB_DIR";

    private static readonly ConcurrentDictionary<string, Lazy<Result>> s_results = new(StringComparer.Ordinal);

    /// <summary>The outcome of loading one logical name: a handle and the file, or the exception saying why not.</summary>
    internal sealed record Result(string LogicalName, IntPtr Handle, string? File, CudaUnavailableException? Error);

#pragma warning disable CA2255 // ModuleInitializer in a library: this is exactly the intended use (install the resolver before any P/Invoke)
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        try { NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve); }
        catch (InvalidOperationException) { /* already installed (the module initializer runs once; defensive) */ }
    }

    /// <summary>The file names tried for a logical name, newest first; null for names this resolver does not handle.</summary>
    public static IReadOnlyList<string>? CandidatesFor(string logicalName)
    {
        bool windows = OperatingSystem.IsWindows();
        return logicalName switch
        {
            Cuda => windows ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"],
            Cublas => windows ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"] : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"],
            Cusparse => windows ? ["cusparse64_12.dll", "cusparse64_11.dll"] : ["libcusparse.so.12", "libcusparse.so.11"],
            _ => null,
        };
    }

    /// <summary>The folders searched after the default search path, in order (existing or not).</summary>
    public static IReadOnlyList<string> SearchFolders()
    {
        var folders = new List<string>();
        void AddIf(string? dir) { if (!string.IsNullOrWhiteSpace(dir) && !folders.Contains(dir)) folders.Add(dir); }
        AddIf(Environment.GetEnvironmentVariable(LibraryDirEnvironmentVariable));
        string? cudaHome = Environment.GetEnvironmentVariable("CUDA_HOME");
        if (!string.IsNullOrWhiteSpace(cudaHome))
        {
            AddIf(Path.Combine(cudaHome, "lib64"));
            if (OperatingSystem.IsWindows()) AddIf(Path.Combine(cudaHome, "bin"));
        }
        if (!OperatingSystem.IsWindows())
        {
            AddIf("/usr/local/cuda/lib64");
            AddIf("/usr/local/cuda/targets/x86_64-linux/lib");
        }
        return folders;
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (CandidatesFor(libraryName) is null) return IntPtr.Zero; // not ours: default probing
        var result = Load(libraryName);
        if (result.Error is not null) throw result.Error;
        return result.Handle;
    }

    /// <summary>Loads a logical name once (thread-safe); never throws: the result carries the error.</summary>
    public static Result Load(string logicalName)
    {
        var candidates = CandidatesFor(logicalName)
            ?? throw new ArgumentException($"'{logicalName}' is not a CUDA library name this resolver knows (cuda, cublas, cusparse).", nameof(logicalName));
        return s_results.GetOrAdd(logicalName, n => new Lazy<Result>(() => TryLoad(n, candidates, SearchFolders()))).Value;
    }

    /// <summary>Loads the logical name or throws <see cref="CudaUnavailableException"/> listing the files and folders tried.</summary>
    public static IntPtr Require(string logicalName)
    {
        var result = Load(logicalName);
        return result.Error is null ? result.Handle : throw result.Error;
    }

    /// <summary>The file a logical name resolved to (null when not loaded, or it failed).</summary>
    public static string? ResolvedFile(string logicalName)
        => s_results.TryGetValue(logicalName, out var lazy) && lazy.IsValueCreated ? lazy.Value.File : null;

    /// <summary>Every name resolved so far with its file, or the error.</summary>
    public static IReadOnlyList<Result> Resolved => s_results.Values.Where(l => l.IsValueCreated).Select(l => l.Value).ToArray();

    /// <summary>Tries each candidate on the default search path, then in each folder. Never throws.</summary>
    internal static Result TryLoad(string logicalName, IReadOnlyList<string> candidates, IReadOnlyList<string> folders)
    {
        var failures = new List<string>();
        foreach (string file in candidates)
        {
            if (NativeLibrary.TryLoad(file, out IntPtr handle))
                return new Result(logicalName, handle, LoadedPath(file) ?? file + " (default search path)", null);
            failures.Add(file);
        }
        foreach (string folder in folders)
        {
            foreach (string file in candidates)
            {
                string path = Path.Combine(folder, file);
                if (!File.Exists(path)) continue;
                try
                {
                    return new Result(logicalName, NativeLibrary.Load(path), path, null);
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    failures.Add($"{path} ({e.Message})");
                }
            }
        }
        string message = $"The CUDA library '{logicalName}' could not be loaded: tried {string.Join(", ", candidates)} on the default library search path"
            + $" and in {(folders.Count == 0 ? "no other folders" : string.Join(", ", folders))}"
            + (failures.Count > candidates.Count ? $"; failed loads: {string.Join("; ", failures.Skip(candidates.Count))}" : "")
            + $". Install the NVIDIA driver / CUDA toolkit or point {LibraryDirEnvironmentVariable} at the folder holding it.";
        return new Result(logicalName, IntPtr.Zero, null, new CudaUnavailableException(message));
    }

    /// <summary>The full path of a library the loader found by bare name, from /proc/self/maps (Linux); null elsewhere.</summary>
    private static string? LoadedPath(string fileName)
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/proc/self/maps")) return null;
            int so = fileName.IndexOf(".so", StringComparison.Ordinal);
            string stem = so < 0 ? fileName : fileName[..(so + 3)]; // libcuda.so.1 may be a link to libcuda.so.535.x
            string? best = null;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                string path = line[slash..].Trim();
                if (path.EndsWith("/" + fileName, StringComparison.Ordinal)) return path;
                if (best is null && Path.GetFileName(path).StartsWith(stem, StringComparison.Ordinal)) best = path;
            }
            return best;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
