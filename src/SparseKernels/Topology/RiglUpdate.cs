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
    /// <summary>Drops the <paramref name="count"/> smallest |w| of <paramref name="weights"/> (a CSR layer, out x in, on the device) and grows as many absent positions with the largest |dY^T X| (<paramref name="dy"/>: out x batch, <paramref name="x"/>: in x batch), chunked by <paramref name="chunkElements"/>; returns the new CSR and the optimizer state carried over (grown entries 0). The inputs are left as they are; the caller owns and disposes the results.</summary>
    /// <exception cref="ArgumentException">Operands not on the device, shapes that do not match, <paramref name="count"/> larger than the nonzeros or the absent positions, or a NaN weight or score; the message names <paramref name="layer"/>.</exception>
    public static (CsrMatrix Weights, DeviceBuffer<float>[] State) Run(IDevice device, CsrMatrix weights, IReadOnlyList<DeviceBuffer<float>> state,
        DenseTensor dy, DenseTensor x, long count, string layer = "layer", long chunkElements = GradientGrow.DefaultChunkElements)
    {
        using var keep = MagnitudePrune.Drop(device, [weights], [layer], [count])[0];
        var (grown, n) = GradientGrow.Run(device, weights, keep, dy, x, count, layer, chunkElements);
        using (grown) return CsrRebuild.Run(device, weights, state, keep, grown, n, layer);
    }
}
