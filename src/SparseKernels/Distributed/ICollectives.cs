using SparseKernels.Native;

namespace SparseKernels.Distributed;

/// <summary>
/// The collectives data-parallel training needs from a group of replicas (MPI_COMM_WORLD under mpirun). Every call is
/// collective: all ranks make the same calls in the same order, with arrays of the same lengths.
/// </summary>
internal interface ICollectives
{
    /// <summary>This replica's rank, 0 .. <see cref="Size"/> - 1.</summary>
    int Rank { get; }
    /// <summary>The number of replicas.</summary>
    int Size { get; }
    /// <summary>A short description (library, version) for logs.</summary>
    string Description { get; }
    /// <summary>Element-wise sum over the ranks, in place; every rank gets the same result.</summary>
    void AllReduceSum(Span<float> data);
    /// <summary>Element-wise sum over the ranks, in place.</summary>
    void AllReduceSum(Span<double> data);
    /// <summary>Element-wise minimum over the ranks, in place.</summary>
    void AllReduceMin(Span<long> data);
    /// <summary>Element-wise maximum over the ranks, in place.</summary>
    void AllReduceMax(Span<long> data);
    /// <summary>Rank <paramref name="root"/>'s bytes into every rank's <paramref name="data"/>.</summary>
    void Broadcast(Span<byte> data, int root);
    /// <summary>Ends every replica of the job with <paramref name="exitCode"/> (does not return).</summary>
    void Abort(int exitCode);
}

/// <summary>The collectives of an MPI job (MPI_COMM_WORLD; see native/Mpi.cs).</summary>
internal sealed class MpiCollectives(MpiWorld world) : ICollectives, IDisposable
{
    /// <summary>Initialises MPI (the process must have been started by mpirun; see <see cref="MpiWorld.Initialize"/>).</summary>
    public static MpiCollectives Initialize() => new(MpiWorld.Initialize());

    /// <summary>The MPI world.</summary>
    public MpiWorld World { get; } = world;
    /// <inheritdoc/>
    public int Rank => World.Rank;
    /// <inheritdoc/>
    public int Size => World.Size;
    /// <inheritdoc/>
    public string Description => $"MPI ({World.LibraryVersion}; {MpiWorld.LibraryFile})";
    /// <inheritdoc/>
    public void AllReduceSum(Span<float> data) => World.AllReduceSum(data);
    /// <inheritdoc/>
    public void AllReduceSum(Span<double> data) => World.AllReduceSum(data);
    /// <inheritdoc/>
    public void AllReduceMin(Span<long> data) => World.AllReduceMin(data);
    /// <inheritdoc/>
    public void AllReduceMax(Span<long> data) => World.AllReduceMax(data);
    /// <inheritdoc/>
    public void Broadcast(Span<byte> data, int root) => World.Broadcast(data, root);
    /// <inheritdoc/>
    public void Abort(int exitCode) => World.Abort(exitCode);
    /// <summary>Finalises MPI (collective: every rank calls it at the end).</summary>
    public void Dispose() => World.Dispose();
    /// <summary>The number of processes mpirun started (null when the process was not started by Open MPI's mpirun).</summary>
    public static int? LaunchedSize => MpiWorld.LaunchedSize;
}
