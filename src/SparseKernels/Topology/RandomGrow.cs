using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// SET growth on a device: k positions absent from a layer's pattern (or from its kept part), uniformly at random
/// without replacement: every position gets the Philox4x32-10 key of (position; seed) (kernels/random_grow.cu,
/// <see cref="SparseKernels.Cpu.Philox.GrowKey"/>) and the k largest keys win (ties: lower position). Same seed, same positions, on
/// the CPU and on any device. Chunked like <see cref="GradientGrow"/> (same memory bound).
/// </summary>
public static class RandomGrow
{
    private static readonly KernelRef s_randomGrowScoresV1 = new("random_grow_scores_v1");

    internal const string Op = "RandomGrow";

    /// <summary>The k grown positions (row * n + col), ascending, in a new buffer, and k.</summary>
    public static (DeviceBuffer<int> Positions, int Count) Run(IDevice device, CsrMatrix pattern, DeviceBuffer<byte>? keep, long k, ulong seed,
        string layer = "layer", long chunkElements = GradientGrow.DefaultChunkElements)
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, pattern, Op, nameof(pattern));
        int n = pattern.Cols;
        return GrowCandidates.Run(device, Op, layer, pattern, keep, k, chunkElements, (r0, rows, keys, positions, at, _) =>
        {
            var args = new KernelArgs();
            args.Add(n);
            args.Add(r0);
            args.Add(rows);
            args.Add((uint)seed);
            args.Add((uint)(seed >> 32));
            args.Add(keys.Pointer.Address);
            args.Add(positions.Pointer.Address);
            args.Add(at);
            TopkSelect.Launch(device, s_randomGrowScoresV1, (long)rows * n, ref args);
        });
    }
}
