using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Distributed;

/// <summary>
/// Gradients summed on the GPU with NCCL: one communicator per replica (ncclCommInitRank; rank 0's ncclUniqueId is
/// broadcast over MPI), the gradients packed into one flat device buffer (device-to-device copies), scaled by the
/// replica's share of the batch, summed by one ncclAllReduce on the device's stream, and copied back; the host never
/// sees them. One GPU per rank: a rank opens device (local rank mod device count). Built and reviewed here; not run
/// here (no GPU, no NCCL on the development machine): unverified on a real GPU.
/// </summary>
internal sealed class NcclGradientSum : IDeviceGradientSum, IDisposable
{
    private readonly CudaDevice _device;
    private readonly NcclCommHandle _comm;
    private DeviceBuffer<float>? _flat;

    private NcclGradientSum(CudaDevice device, NcclCommHandle comm, int version) { _device = device; _comm = comm; Version = version; }

    /// <summary>NCCL's version code (e.g. 21805).</summary>
    public int Version { get; }

    /// <inheritdoc/>
    public string Description => $"device (NCCL {Version / 10000}.{Version / 100 % 100}.{Version % 100} all-reduce)";

    /// <summary>
    /// Creates the communicator of this replica over <paramref name="group"/> (collective: every rank calls it). Throws
    /// <see cref="NcclException"/> when libnccl.so.2 cannot be loaded or an NCCL call fails.
    /// </summary>
    public static NcclGradientSum Create(ICollectives group, CudaDevice device)
    {
        // Every rank learns whether NCCL loads before any rank waits in a collective that the others would skip.
        Exception? loadError = null;
        int version = 0;
        try { version = NcclNative.Version(); }
        catch (NcclException e) { loadError = e; }
        Span<long> failed = [loadError is null ? 0 : 1];
        group.AllReduceMax(failed);
        if (loadError is not null) throw loadError;
        if (failed[0] != 0)
            throw new NcclException("load", -1, "NCCL could not be loaded on another rank (its message names the folders searched).");
        var id = group.Rank == 0 ? NcclNative.NewUniqueId() : new byte[NcclNative.UniqueIdBytes];
        group.Broadcast(id, 0);
        using var scope = device.Context.Enter();
        var comm = NcclCommHandle.InitRank(group.Size, id, group.Rank);
        return new NcclGradientSum(device, comm, version);
    }

    /// <summary>The GPU of this rank: device (local rank mod device count), the local rank from
    /// OMPI_COMM_WORLD_LOCAL_RANK (0 when unset).</summary>
    public static CudaDevice OpenLocalGpu()
    {
        var (_, count) = CudaDriver.Initialize();
        if (count == 0) throw new CudaUnavailableException("The CUDA driver found no device.");
        int local = int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK"), out int l) ? l : 0;
        return CudaDevice.Open(local % count);
    }

    /// <inheritdoc/>
    public void SumScaled(IReadOnlyList<DenseTensor> gradients, long totalValues, float weight)
    {
        if (_flat is null || _flat.Length != totalValues)
        {
            _flat?.Dispose();
            _flat = _device.Allocate<float>(totalValues);
        }
        long at = 0;
        foreach (var g in gradients) { _device.CopyDeviceToDevice(g.DeviceData, 0, _flat, at, g.Length); at += g.Length; }
        int rows = (int)Math.Min(totalValues, int.MaxValue);
        if (weight != 1 && totalValues <= int.MaxValue)
        {
            var flatT = DenseTensor.FromDevice(_flat, 1, rows);   // a view: never disposed (the buffer is ours)
            Elementwise.Scale(_device, weight, flatT, flatT);
        }
        else if (weight != 1)
            throw new NotSupportedException($"NCCL gradient sum: {totalValues} values exceed one tensor's {int.MaxValue}.");
        var stream = (CudaStream)_device.Stream;
        using (_device.Context.Enter())
        {
            ulong flat = _flat.Pointer.Address;
            int rc = NcclNative.ncclAllReduce(flat, flat, (nuint)totalValues, NcclNative.ncclFloat32, NcclNative.ncclSum,
                _comm.DangerousGetHandle(), stream.Raw);
            NcclNative.Check(rc, nameof(NcclNative.ncclAllReduce));
        }
        at = 0;
        foreach (var g in gradients) { _device.CopyDeviceToDevice(_flat, at, g.DeviceData, 0, g.Length); at += g.Length; }
    }

    /// <summary>Broadcasts <paramref name="buffer"/> of rank <paramref name="root"/> to every rank (ncclBroadcast on the
    /// device's stream).</summary>
    public void Broadcast(DeviceBuffer<float> buffer, int root)
    {
        var stream = (CudaStream)_device.Stream;
        using (_device.Context.Enter())
        {
            ulong p = buffer.Pointer.Address;
            int rc = NcclNative.ncclBroadcast(p, p, (nuint)buffer.Length, NcclNative.ncclFloat32, root, _comm.DangerousGetHandle(),
                stream.Raw);
            NcclNative.Check(rc, nameof(NcclNative.ncclBroadcast));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _flat?.Dispose();
        _comm.Dispose();
    }
}
