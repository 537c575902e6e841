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
    /// <summary>Open MPI's library (Mpi.cs); only Open MPI's ABI is bound (its handles are exported objects).</summary>
    public const string Mpi = "mpi";
    /// <summary>NVIDIA's collective library (Nccl.cs), loaded only when a distributed run on a GPU asks for it.</summary>
    public const string Nccl = "nccl";

    /// <summary>The MPI library to load instead of libmpi.so.40 (a full path: a cluster's own Open MPI build).</summary>
    public const string MpiLibraryEnvironmentVariable = "SPARSEKERNELS_MPI_LIB";

    /// <summary>
    /// Folders searched for CUDA libraries before the standard CUDA install folders: a list separated by
    /// <see cref="Path.PathSeparator"/> (':' on Linux), searched in order.
    /// </summary>
    public const string LibraryDirEnvironmentVariable = "SPARSEKERNELS_CUDA_LIB_DIR";

    private static readonly ConcurrentDictionary<string, Lazy<Result>> s_results = new(StringComparer.Ordinal);

    /// <summary>The outcome of loading one logical name: a handle and the file, or the exception saying why not.</summary>
    internal sealed record Result(string LogicalName, IntPtr Handle, string? File, Exception? Error);

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
            // Open MPI 3.0-5.x keep the soname libmpi.so.40; MPICH's libmpi.so.12 has another ABI (integer handles).
            Mpi => Environment.GetEnvironmentVariable(MpiLibraryEnvironmentVariable) is { Length: > 0 } own ? [own] : ["libmpi.so.40"],
            Nccl => ["libnccl.so.2"],
            _ => null,
        };
    }

    /// <summary>The folders searched after the default search path, in order (existing or not, except the globbed ones).</summary>
    public static IReadOnlyList<string> SearchFolders()
        => SearchFolders(Environment.GetEnvironmentVariable(LibraryDirEnvironmentVariable), Environment.GetEnvironmentVariable("CUDA_HOME"),
            Environment.GetEnvironmentVariable("VIRTUAL_ENV"), Environment.GetEnvironmentVariable("CONDA_PREFIX"), Environment.GetEnvironmentVariable("HOME"), "/");

    /// <summary>
    /// The search folders for the given environment, with the Linux globs expanded under <paramref name="fileSystemRoot"/>
    /// (tests pass a fake root): each folder of <see cref="LibraryDirEnvironmentVariable"/>, CUDA_HOME's lib64 (and
    /// targets/x86_64-linux/lib), /usr/local/cuda's, every versioned /usr/local/cuda-X.Y's (newest first), then the
    /// <c>nvidia/*/lib</c> folders of Python's site-packages / dist-packages (a virtualenv's, conda's, the user's and
    /// the system's; PyTorch's pip wheels put cuBLAS and cuSPARSE there).
    /// </summary>
    internal static IReadOnlyList<string> SearchFolders(string? libDirs, string? cudaHome, string? virtualEnv, string? condaPrefix, string? home, string fileSystemRoot)
    {
        var folders = new List<string>();
        void AddIf(string? dir) { if (!string.IsNullOrWhiteSpace(dir) && !folders.Contains(dir)) folders.Add(dir); }
        if (!string.IsNullOrWhiteSpace(libDirs))
            foreach (string dir in libDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                AddIf(dir);
        if (!string.IsNullOrWhiteSpace(cudaHome))
        {
            AddIf(Path.Combine(cudaHome, "lib64"));
            if (OperatingSystem.IsWindows()) AddIf(Path.Combine(cudaHome, "bin"));
            else AddIf(Path.Combine(cudaHome, "targets", "x86_64-linux", "lib"));
        }
        if (!OperatingSystem.IsWindows())
        {
            // Globs are expanded under fileSystemRoot and reported as absolute paths of the real machine.
            IEnumerable<string> G(string pattern) => Glob(fileSystemRoot, pattern)
                .Select(p => "/" + Path.GetRelativePath(fileSystemRoot, p).Replace('\\', '/'));
            AddIf("/usr/local/cuda/lib64");
            AddIf("/usr/local/cuda/targets/x86_64-linux/lib");
            foreach (string cuda in NewestFirst(G("/usr/local/cuda-*")))
            {
                AddIf(cuda + "/lib64");
                AddIf(cuda + "/targets/x86_64-linux/lib");
            }
            var sitePackages = new List<string>();
            foreach (string? prefix in new[] { virtualEnv, condaPrefix })
                if (!string.IsNullOrWhiteSpace(prefix))
                    sitePackages.AddRange(NewestFirst(G(prefix.TrimEnd('/') + "/lib/python3*/site-packages")));
            if (!string.IsNullOrWhiteSpace(home))
                sitePackages.AddRange(NewestFirst(G(home.TrimEnd('/') + "/.local/lib/python3*/site-packages")));
            foreach (string pattern in new[] { "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
                                               "/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages", "/opt/conda/lib/python3*/site-packages" })
                sitePackages.AddRange(NewestFirst(G(pattern)));
            foreach (string site in sitePackages)
                foreach (string lib in G(site + "/nvidia/*/lib").Order(StringComparer.Ordinal))
                    AddIf(lib);
        }
        return folders;
    }

    /// <summary>The existing directories matching an absolute pattern whose segments may hold '*' (under <paramref name="root"/>).</summary>
    internal static IEnumerable<string> Glob(string root, string pattern)
    {
        IEnumerable<string> current = [root];
        foreach (string segment in pattern.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!segment.Contains('*'))
            {
                current = current.Select(d => Path.Combine(d, segment)).Where(Directory.Exists).ToList();
                continue;
            }
            current = current.SelectMany(d =>
            {
                try { return Directory.EnumerateDirectories(d, segment); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
            }).ToList();
        }
        return current;
    }

    /// <summary>Versioned folders (cuda-12.4, python3.11) newest first: by the numbers in the name, then by name.</summary>
    private static IEnumerable<string> NewestFirst(IEnumerable<string> folders)
        => folders.OrderByDescending(f => VersionKey(Path.GetFileName(f)), Comparer<long[]>.Create(CompareVersions)).ThenBy(f => f, StringComparer.Ordinal);

    private static long[] VersionKey(string name)
        => System.Text.RegularExpressions.Regex.Matches(name, "[0-9]+").Select(m => long.TryParse(m.Value, out long v) ? v : 0).ToArray();

    private static int CompareVersions(long[] a, long[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            if (a[i] != b[i]) return a[i].CompareTo(b[i]);
        return a.Length.CompareTo(b.Length);
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
            ?? throw new ArgumentException($"'{logicalName}' is not a library name this resolver knows (cuda, cublas, cusparse, mpi, nccl).",
                nameof(logicalName));
        // MPI is found where the loader finds it (Debian's /usr/lib/x86_64-linux-gnu, a cluster module's LD_LIBRARY_PATH).
        return s_results.GetOrAdd(logicalName, n => new Lazy<Result>(() => TryLoad(n, candidates, n == Mpi ? [] : SearchFolders()))).Value;
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
                    PreloadCompanions(file, folder, folders);
                    return new Result(logicalName, NativeLibrary.Load(path), path, null);
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    failures.Add($"{path} ({e.Message})");
                }
            }
        }
        if (logicalName == Mpi)
            return new Result(logicalName, IntPtr.Zero, null, new MpiException("load", -1,
                $"Open MPI's library could not be loaded: tried {string.Join(", ", candidates)} on the loader's search path. "
                + "A distributed run needs Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev; a cluster: its Open MPI module, "
                + $"or {MpiLibraryEnvironmentVariable}=/path/to/libmpi.so.40) "
                + "and a launch by mpirun."));
        string message = $"The CUDA library '{logicalName}' could not be loaded: tried {string.Join(", ", candidates)} on the default library search path"
            + $" and in {(folders.Count == 0 ? "no other folders" : string.Join(", ", folders))}"
            + (failures.Count > candidates.Count ? $"; failed loads: {string.Join("; ", failures.Skip(candidates.Count))}" : "")
            + $". Install the NVIDIA driver / CUDA toolkit or point {LibraryDirEnvironmentVariable} at the folder holding it.";
        return new Result(logicalName, IntPtr.Zero, null, new CudaUnavailableException(message));
    }

    /// <summary>
    /// The libraries a CUDA library needs that may sit in another folder off the loader's path: cuBLAS needs cuBLASLt
    /// of its major version; cuSPARSE 12+ needs nvJitLink (PyTorch's wheels keep it in nvidia/nvjitlink/lib).
    /// </summary>
    internal static IReadOnlyList<string> CompanionsOf(string file)
    {
        if (file.StartsWith("libcublas.so.", StringComparison.Ordinal)) return ["libcublasLt.so." + file["libcublas.so.".Length..]];
        if (file.StartsWith("libcusparse.so.", StringComparison.Ordinal)) return ["libnvJitLink.so.13", "libnvJitLink.so.12"];
        return [];
    }

    /// <summary>
    /// Loads each companion of <paramref name="file"/> found beside it or in another search folder, unless the loader
    /// finds it on its own path: once loaded, the loader resolves the library's dependency by its soname. Best effort.
    /// </summary>
    private static void PreloadCompanions(string file, string folder, IReadOnlyList<string> folders)
    {
        foreach (string companion in CompanionsOf(file))
        {
            if (NativeLibrary.TryLoad(companion, out _)) return;
            foreach (string dir in folders.Prepend(folder))
            {
                string path = Path.Combine(dir, companion);
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out _)) return;
            }
        }
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
