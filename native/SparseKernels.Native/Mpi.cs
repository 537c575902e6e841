using System.Runtime.InteropServices;
using System.Text;

namespace SparseKernels.Native;

/// <summary>
/// Open MPI bindings (mpi.h of Open MPI 4.1, libmpi.so.40; the calls are MPI-3 and unchanged in Open MPI 5). In Open
/// MPI's ABI a handle (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler) is the address of a predefined object that the
/// library exports (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>), so the handles are resolved once with
/// <see cref="NativeLibrary.GetExport"/>. MPICH-family libraries (integer handles) are not bound. MPI.NET 1.4.0 (NuGet)
/// binds MS-MPI's msmpi.dll and its integer handles, so it cannot run on Linux with Open MPI: hence these bindings.
/// </summary>
internal static unsafe partial class MpiNative
{
    private const string Lib = NativeLibraries.Mpi;

    public const int MPI_SUCCESS = 0;
    public const int MPI_THREAD_SERIALIZED = 2;          // enum { SINGLE, FUNNELED, SERIALIZED, MULTIPLE }
    public const int MPI_MAX_ERROR_STRING = 256;         // OPAL_MAX_ERROR_STRING
    public const int MPI_MAX_LIBRARY_VERSION_STRING = 256;
    public static readonly void* MPI_IN_PLACE = (void*)1; // #define MPI_IN_PLACE ((void *) 1)

    [LibraryImport(Lib)] internal static partial int MPI_Initialized(out int flag);
    [LibraryImport(Lib)] internal static partial int MPI_Finalized(out int flag);
    [LibraryImport(Lib)] internal static partial int MPI_Init_thread(int* argc, byte*** argv, int required, out int provided);
    [LibraryImport(Lib)] internal static partial int MPI_Finalize();
    [LibraryImport(Lib)] internal static partial int MPI_Comm_rank(IntPtr comm, out int rank);
    [LibraryImport(Lib)] internal static partial int MPI_Comm_size(IntPtr comm, out int size);
    [LibraryImport(Lib)] internal static partial int MPI_Comm_set_errhandler(IntPtr comm, IntPtr errhandler);
    [LibraryImport(Lib)]
    internal static partial int MPI_Allreduce(void* sendbuf, void* recvbuf, int count, IntPtr datatype, IntPtr op, IntPtr comm);
    [LibraryImport(Lib)] internal static partial int MPI_Bcast(void* buffer, int count, IntPtr datatype, int root, IntPtr comm);
    [LibraryImport(Lib)] internal static partial int MPI_Barrier(IntPtr comm);
    [LibraryImport(Lib)] internal static partial int MPI_Abort(IntPtr comm, int errorcode);
    [LibraryImport(Lib)] internal static partial int MPI_Error_string(int errorcode, byte* text, out int length);
    [LibraryImport(Lib)] internal static partial int MPI_Get_library_version(byte* version, out int length);

    /// <summary>The one check for MPI results (errors are returned, not fatal: the world's handler is MPI_ERRORS_RETURN).</summary>
    public static void Check(int code, string call)
    {
        if (code != MPI_SUCCESS) throw new MpiException(call, code, ErrorString(code));
    }

    public static string ErrorString(int code)
    {
        byte* text = stackalloc byte[MPI_MAX_ERROR_STRING + 1];
        if (MPI_Error_string(code, text, out int length) != MPI_SUCCESS) return "(MPI_Error_string failed)";
        return Encoding.UTF8.GetString(text, Math.Clamp(length, 0, MPI_MAX_ERROR_STRING));
    }
}

/// <summary>
/// MPI_COMM_WORLD of a job started by mpirun: initialisation (MPI_Init_thread, MPI_THREAD_SERIALIZED: the engine calls
/// MPI from one thread at a time), rank and size, the collectives the data-parallel trainer needs (all-reduce of fp32,
/// fp64 and int64 arrays, broadcast of bytes, barrier) and abort. Errors are returned by MPI and thrown as
/// <see cref="MpiException"/>. One per process (MPI initialises once); <see cref="Dispose"/> finalises.
/// </summary>
internal sealed unsafe class MpiWorld : IDisposable
{
    /// <summary>Elements per MPI call (MPI counts are int): larger arrays go in pieces of this size.</summary>
    internal const int MaxCount = 1 << 28;
    private static readonly object s_lock = new();
    private static MpiWorld? s_world;
    private readonly IntPtr _comm, _float, _double, _int64, _byte, _sum, _min, _max;
    private bool _finalized;

    private MpiWorld(IntPtr library)
    {
        IntPtr H(string symbol) => NativeLibrary.TryGetExport(library, symbol, out IntPtr p) ? p
            : throw new MpiException("load", -1,
                $"The MPI library does not export '{symbol}': it is not Open MPI (only Open MPI's ABI is bound; MPICH's is not).");
        _comm = H("ompi_mpi_comm_world");
        _float = H("ompi_mpi_float");
        _double = H("ompi_mpi_double");
        _int64 = H("ompi_mpi_int64_t");
        _byte = H("ompi_mpi_byte");
        _sum = H("ompi_mpi_op_sum");
        _min = H("ompi_mpi_op_min");
        _max = H("ompi_mpi_op_max");
        IntPtr errorsReturn = H("ompi_mpi_errors_return");
        MpiNative.Check(MpiNative.MPI_Initialized(out int initialized), nameof(MpiNative.MPI_Initialized));
        if (initialized == 0)
        {
            int rc = MpiNative.MPI_Init_thread(null, null, MpiNative.MPI_THREAD_SERIALIZED, out int provided);
            MpiNative.Check(rc, nameof(MpiNative.MPI_Init_thread));
            ThreadLevel = provided;
        }
        MpiNative.Check(MpiNative.MPI_Comm_set_errhandler(_comm, errorsReturn), nameof(MpiNative.MPI_Comm_set_errhandler));
        MpiNative.Check(MpiNative.MPI_Comm_rank(_comm, out int rank), nameof(MpiNative.MPI_Comm_rank));
        MpiNative.Check(MpiNative.MPI_Comm_size(_comm, out int size), nameof(MpiNative.MPI_Comm_size));
        Rank = rank; Size = size;
        byte* text = stackalloc byte[MpiNative.MPI_MAX_LIBRARY_VERSION_STRING + 1];
        LibraryVersion = MpiNative.MPI_Get_library_version(text, out int length) == MpiNative.MPI_SUCCESS
            ? Encoding.UTF8.GetString(text, Math.Clamp(length, 0, MpiNative.MPI_MAX_LIBRARY_VERSION_STRING)).Split('\n', ',')[0].Trim()
            : "unknown";
    }

    /// <summary>This process's rank in MPI_COMM_WORLD.</summary>
    public int Rank { get; }
    /// <summary>The number of processes in MPI_COMM_WORLD.</summary>
    public int Size { get; }
    /// <summary>The thread level MPI provided (2 = MPI_THREAD_SERIALIZED asked for).</summary>
    public int ThreadLevel { get; }
    /// <summary>The first line of MPI_Get_library_version (e.g. "Open MPI v4.1.4, package: Debian OpenMPI").</summary>
    public string LibraryVersion { get; }
    /// <summary>The file the MPI library was loaded from.</summary>
    public static string? LibraryFile => NativeLibraries.ResolvedFile(NativeLibraries.Mpi);

    /// <summary>
    /// The environment variables a launcher sets for each process (Open MPI's mpirun, PMIx, PMI-2 / Slurm's srun);
    /// <see cref="Launched"/> reads them to tell a process started by mpirun from one started alone.
    /// </summary>
    internal static readonly string[] LaunchVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"];

    /// <summary>Whether the process was started by an MPI launcher (one of <see cref="LaunchVariables"/> is set).</summary>
    public static bool Launched => LaunchVariables.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)));

    /// <summary>The number of processes the launcher started (OMPI_COMM_WORLD_SIZE), or null when it does not say.</summary>
    public static int? LaunchedSize => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int n) ? n : null;

    /// <summary>
    /// Initialises MPI (once per process) and returns the world. Throws <see cref="MpiException"/> when the process
    /// was not started by mpirun (Open MPI would otherwise start a one-process "singleton" job silently), when
    /// libmpi.so.40 cannot be loaded or is not Open MPI, or when MPI_Init_thread fails.
    /// </summary>
    public static MpiWorld Initialize()
    {
        lock (s_lock)
        {
            if (s_world is { _finalized: false }) return s_world;
            if (s_world is not null)
                throw new MpiException("launch", -1, "MPI was finalised in this process; it cannot be initialised again.");
            if (!Launched)
                throw new MpiException("launch", -1, "This process was not started by an MPI launcher (none of "
                    + string.Join(", ", LaunchVariables)
                    + " is set). Start a distributed run with mpirun, e.g. mpirun -np 2 sparsekernels train --distributed ...");
            return s_world = new MpiWorld(NativeLibraries.Require(NativeLibraries.Mpi));
        }
    }

    /// <summary>Sums <paramref name="data"/> element-wise over all ranks, in place (every rank gets the same sums).</summary>
    public void AllReduceSum(Span<float> data) => AllReduce(data, _float, _sum);
    /// <summary>Sums <paramref name="data"/> element-wise over all ranks, in place.</summary>
    public void AllReduceSum(Span<double> data) => AllReduce(data, _double, _sum);
    /// <summary>The element-wise minimum over all ranks, in place.</summary>
    public void AllReduceMin(Span<long> data) => AllReduce(data, _int64, _min);
    /// <summary>The element-wise maximum over all ranks, in place.</summary>
    public void AllReduceMax(Span<long> data) => AllReduce(data, _int64, _max);

    private void AllReduce<T>(Span<T> data, IntPtr type, IntPtr op) where T : unmanaged
    {
        ThrowIfFinalized();
        fixed (T* p = data)
        {
            for (long at = 0; at < data.Length; at += MaxCount)
            {
                int count = (int)Math.Min(MaxCount, data.Length - at);
                int rc = MpiNative.MPI_Allreduce(MpiNative.MPI_IN_PLACE, p + at, count, type, op, _comm);
                MpiNative.Check(rc, nameof(MpiNative.MPI_Allreduce));
            }
        }
    }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into every rank's <paramref name="data"/>
    /// (same length on every rank).</summary>
    public void Broadcast(Span<byte> data, int root)
    {
        ThrowIfFinalized();
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"The root must be a rank in [0, {Size}).");
        fixed (byte* p = data)
        {
            for (long at = 0; at < data.Length; at += MaxCount)
            {
                int count = (int)Math.Min(MaxCount, data.Length - at);
                MpiNative.Check(MpiNative.MPI_Bcast(p + at, count, _byte, root, _comm), nameof(MpiNative.MPI_Bcast));
            }
        }
    }

    /// <summary>Waits until every rank has called it.</summary>
    public void Barrier()
    {
        ThrowIfFinalized();
        MpiNative.Check(MpiNative.MPI_Barrier(_comm), nameof(MpiNative.MPI_Barrier));
    }

    /// <summary>Ends every process of the job (MPI_Abort on MPI_COMM_WORLD) with <paramref name="exitCode"/>; does not return.</summary>
    public void Abort(int exitCode)
    {
        _ = MpiNative.MPI_Abort(_comm, exitCode);
        Environment.Exit(exitCode);   // MPI_Abort does not return; in case an implementation does
    }

    private void ThrowIfFinalized()
    {
        if (_finalized) throw new ObjectDisposedException(nameof(MpiWorld), "MPI was finalised.");
    }

    /// <summary>Finalises MPI (every rank must call it; MPI_Finalize is collective).</summary>
    public void Dispose()
    {
        lock (s_lock)
        {
            if (_finalized) return;
            _finalized = true;
            if (MpiNative.MPI_Finalized(out int done) == MpiNative.MPI_SUCCESS && done == 0) _ = MpiNative.MPI_Finalize();
        }
    }
}
