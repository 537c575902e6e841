using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// Magnitude pruning on a device: drop the k smallest-|w| nonzeros of each layer (per layer), or of all layers
/// together with one threshold (global), i.e. keep the nnz - k largest (<see cref="TopkSelect"/>; ties: the lower
/// position is kept). <see cref="Drop"/> gives the keep flags (for a drop-and-grow update with
/// <see cref="GradientGrow"/>/<see cref="RandomGrow"/> and <see cref="CsrRebuild"/>); <see cref="Run"/> also
/// rebuilds each layer with its optimizer state carried along.
/// </summary>
public static class MagnitudePrune
{
    internal const string Op = "MagnitudePrune";

    /// <summary>Keep flags per layer (1 byte per nonzero, new buffers). drop: one count per layer, or, with
    /// <paramref name="global"/>, a single count over all layers.</summary>
    public static DeviceBuffer<byte>[] Drop(IDevice device, IReadOnlyList<CsrMatrix> layers, IReadOnlyList<string> names, IReadOnlyList<long> drop, bool global = false)
    {
        OperandChecks.Device(device, Op);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(drop);
        if (global ? drop.Count != 1 : drop.Count != layers.Count)
            throw new ArgumentException($"{Op}: {(global ? "global pruning takes one drop count" : $"{layers.Count} layers need {layers.Count} drop counts")}, got {drop.Count}.", nameof(drop));
        long total = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            OperandChecks.On(device, layers[l], Op, TopologyChecks.Name(names, l));
            if (!global) TopologyChecks.Count(Op, TopologyChecks.Name(names, l), drop[l], layers[l].Nnz, "nonzeros");
            total += layers[l].Nnz;
        }
        if (global) TopologyChecks.Count(Op, $"{layers.Count} layers together", drop[0], total, "nonzeros");
        var flags = new DeviceBuffer<byte>[layers.Count];
        for (int l = 0; l < layers.Count; l++) flags[l] = device.Allocate<byte>(Math.Max(layers[l].Nnz, 1));
        try
        {
            if (global)
            {
                TopkSelect.Run(device, layers.Select(a => a.DeviceValues).ToArray(), names, total - drop[0], flags);
            }
            else
            {
                for (int l = 0; l < layers.Count; l++)
                    if (layers[l].Nnz > 0) TopkSelect.Run(device, [layers[l].DeviceValues], [TopologyChecks.Name(names, l)], layers[l].Nnz - drop[l], [flags[l]]);
            }
            return flags;
        }
        catch
        {
            foreach (var f in flags) f.Dispose();
            throw;
        }
    }

    /// <summary>Prunes and rebuilds every layer; state[l] are layer l's per-weight optimizer arrays (carried along).</summary>
    public static (CsrMatrix Weights, DeviceBuffer<float>[] State)[] Run(IDevice device, IReadOnlyList<CsrMatrix> layers, IReadOnlyList<string> names,
        IReadOnlyList<IReadOnlyList<DeviceBuffer<float>>> state, IReadOnlyList<long> drop, bool global = false)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Count != layers.Count)
            throw new ArgumentException($"{Op}: {layers.Count} layers but {state.Count} state lists.", nameof(state));
        var flags = Drop(device, layers, names, drop, global);
        try
        {
            var result = new (CsrMatrix, DeviceBuffer<float>[])[layers.Count];
            for (int l = 0; l < layers.Count; l++)
                result[l] = CsrRebuild.Run(device, layers[l], state[l], flags[l], null, 0, TopologyChecks.Name(names, l));
            return result;
        }
        finally
        {
            foreach (var f in flags) f.Dispose();
        }
    }
}
