using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>
/// NCCL bindings (nccl.h of NCCL 2.x, libnccl.so.2; types and values checked against NCCL 2.18's header: ncclUniqueId
/// is 128 bytes passed by value, ncclFloat32 = 7, ncclSum = 0). Loaded lazily by the resolver (only a distributed run
/// on a GPU calls it), found where cuBLAS is found (the loader's path, CUDA folders, PyTorch's nvidia/nccl/lib).
/// Built and reviewed; not run here (no GPU and no NCCL on the development machine).
/// </summary>
internal static unsafe partial class NcclNative
{
    private const string Lib = NativeLibraries.Nccl;

    public const int ncclSuccess = 0;
    public const int ncclFloat32 = 7;
    public const int ncclSum = 0;
    public const int UniqueIdBytes = 128;   // NCCL_UNIQUE_ID_BYTES

    /// <summary>ncclUniqueId: <c>typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;</c></summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct UniqueId
    {
        public fixed byte Internal[UniqueIdBytes];
    }

    [LibraryImport(Lib)] internal static partial int ncclGetVersion(out int version);
    [LibraryImport(Lib)] internal static partial int ncclGetUniqueId(UniqueId* uniqueId);
    [LibraryImport(Lib)] internal static partial int ncclCommInitRank(out IntPtr comm, int nranks, UniqueId commId, int rank);
    [LibraryImport(Lib)] internal static partial int ncclCommDestroy(IntPtr comm);
    [LibraryImport(Lib)] internal static partial int ncclCommAbort(IntPtr comm);
    [LibraryImport(Lib)] internal static partial int ncclCommGetAsyncError(IntPtr comm, out int asyncError);
    [LibraryImport(Lib)]
    internal static partial int ncclAllReduce(ulong sendbuff, ulong recvbuff, nuint count, int datatype, int op, IntPtr comm,
        IntPtr stream);
    [LibraryImport(Lib)]
    internal static partial int ncclBroadcast(ulong sendbuff, ulong recvbuff, nuint count, int datatype, int root, IntPtr comm,
        IntPtr stream);
    [LibraryImport(Lib)] internal static partial IntPtr ncclGetErrorString(int result);

    /// <summary>Loads libnccl.so.2 or throws <see cref="NcclException"/> saying where it was looked for.</summary>
    public static void Require()
    {
        var result = NativeLibraries.Load(NativeLibraries.Nccl);
        if (result.Error is not null)
            throw new NcclException("load", -1,
                result.Error.Message.Replace("The CUDA library 'nccl'", "NCCL (libnccl.so.2)", StringComparison.Ordinal)
                + " NCCL comes with NVIDIA's HPC SDK, the libnccl2 package of NVIDIA's CUDA repository,"
                + " or PyTorch's nvidia-nccl-cu* wheel.");
    }

    /// <summary>The loaded NCCL's version code (e.g. 21805 for 2.18.5).</summary>
    public static int Version()
    {
        Require();
        Check(ncclGetVersion(out int v), nameof(ncclGetVersion));
        return v;
    }

    /// <summary>A new ncclUniqueId (rank 0 makes it; the others receive its bytes), as bytes.</summary>
    public static byte[] NewUniqueId()
    {
        var id = new UniqueId();
        Check(ncclGetUniqueId(&id), nameof(ncclGetUniqueId));
        return new ReadOnlySpan<byte>(id.Internal, UniqueIdBytes).ToArray();
    }

    /// <summary>The one check for NCCL results.</summary>
    public static void Check(int result, string call)
    {
        if (result == ncclSuccess) return;
        IntPtr text = ncclGetErrorString(result);
        string description = text == IntPtr.Zero ? "(no description)" : Marshal.PtrToStringUTF8(text) ?? "(no description)";
        throw new NcclException(call, result, description);
    }
}

/// <summary>An NCCL communicator (ncclComm_t); destroyed with ncclCommDestroy when released.</summary>
internal sealed class NcclCommHandle : SafeHandle
{
    public NcclCommHandle() : base(IntPtr.Zero, true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>ncclCommInitRank with the context of the device current (the caller enters it).</summary>
    public static unsafe NcclCommHandle InitRank(int ranks, ReadOnlySpan<byte> uniqueId, int rank)
    {
        if (uniqueId.Length != NcclNative.UniqueIdBytes)
            throw new ArgumentException($"An ncclUniqueId has {NcclNative.UniqueIdBytes} bytes, not {uniqueId.Length}.", nameof(uniqueId));
        var id = new NcclNative.UniqueId();
        uniqueId.CopyTo(new Span<byte>(id.Internal, NcclNative.UniqueIdBytes));
        var h = new NcclCommHandle();
        NcclNative.Check(NcclNative.ncclCommInitRank(out IntPtr comm, ranks, id, rank), nameof(NcclNative.ncclCommInitRank));
        h.SetHandle(comm);
        return h;
    }

    /// <summary>Aborts the communicator's pending operations (after a peer failed) and frees it; the handle is then closed.</summary>
    public void Abort()
    {
        if (IsInvalid || IsClosed) return;
        _ = NcclNative.ncclCommAbort(handle);
        SetHandleAsInvalid();
    }

    protected override bool ReleaseHandle() => NcclNative.ncclCommDestroy(handle) == NcclNative.ncclSuccess;
}
