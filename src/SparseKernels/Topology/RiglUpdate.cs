using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// One RigL drop-and-grow update of a layer on a device: drop the <c>count</c> smallest |w|
/// (<see cref="MagnitudePrune.Drop"/>), grow as many absent positions by |dY^T.X| (<see cref="GradientGrow"/>, chunked),
/// rebuild the CSR carrying the optimizer state (<see cref="CsrRebuild"/>). nnz stays exactly the same.
/// The CPU version is <see cref="SparseKernels.Cpu.CpuBackend.RiglUpdate"/>.
/// </summary>
public static class RiglUpdate
{
    public static (CsrMatrix Weights, DeviceBuffer<float>[] State) Run(IDevice device, CsrMatrix weights, IReadOnlyList<DeviceBuffer<float>> state,
        DenseTensor dy, DenseTensor x, long count, string layer = "layer", long chunkElements = GradientGrow.DefaultChunkElements)
    {
        using var keep = MagnitudePrune.Drop(device, [weights], [layer], [count])[0];
        var (grown, n) = GradientGrow.Run(device, weights, keep, dy, x, count, layer, chunkElements);
        using (grown) return CsrRebuild.Run(device, weights, state, keep, grown, n, layer);
    }
}
