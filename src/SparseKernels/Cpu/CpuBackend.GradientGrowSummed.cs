using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>
/// Turns one chunk of a layer's local dense gradient (rows r0.. of dY^T X, row-major, signed) into the sum over all
/// data-parallel replicas, in place (Distributed: each rank weights its chunk by its share of the batch, then
/// all-reduces it), so that every replica selects the same grown positions.
/// </summary>
internal delegate void GrowScoreSum(Span<float> chunk);

public sealed partial class CpuBackend
{
    /// <summary>
    /// RigL growth for data-parallel training: as <see cref="GradientGrow"/>, but each chunk of the local gradient
    /// dY^T X (computed with the same fp32 FMA chain in batch order) is handed to <paramref name="sum"/> before its
    /// magnitudes are ranked, so the top-k runs on the gradient of the whole global batch, chunk by chunk (never the
    /// whole dense gradient). Every replica passes the same chunks in the same order and gets the same sums, hence the
    /// same positions.
    /// </summary>
    internal long[] GradientGrowSummed(CsrMatrix pattern, bool[]? keep, DenseTensor dy, DenseTensor x, long k, GrowScoreSum sum,
        string layer = "layer", long chunkElements = 1 << 20)
    {
        const string op = "GradientGrow";
        int m = pattern.Rows, n = pattern.Cols;
        if (dy.Cols != m || x.Cols != n || dy.Rows != x.Rows)
            throw new ArgumentException($"{op}: layer '{layer}' is {m}x{n}; dY is {dy.Rows}x{dy.Cols} and X is {x.Rows}x{x.Cols}, "
                + $"but they must be batch x {m} and batch x {n} with the same batch.", nameof(dy));
        int batch = dy.Rows;
        float[] dyd = dy.HostData, xd = x.HostData;
        float[]? raw = null;
        return GrowChunked(op, pattern, keep, k, layer, chunkElements, (r0, rows, keys) =>
        {
            raw ??= new float[(long)rows * n];
            Parallel.For(0, rows, Options, li =>
            {
                int i = r0 + li;
                var acc = raw.AsSpan(li * n, n);
                acc.Clear();
                for (int b = 0; b < batch; b++)
                {
                    float a = dyd[(long)b * m + i];
                    var xr = xd.AsSpan(b * n, n);
                    int j = 0;
                    if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
                    {
                        var va = Vector256.Create(a);
                        for (; j + 8 <= n; j += 8)
                        {
                            var vx = Vector256.Create<float>(xr.Slice(j, 8));
                            Fma.MultiplyAdd(va, vx, Vector256.Create<float>(acc.Slice(j, 8))).CopyTo(acc.Slice(j, 8));
                        }
                    }
                    for (; j < n; j++) acc[j] = MathF.FusedMultiplyAdd(a, xr[j], acc[j]);
                }
            });
            var chunk = raw.AsSpan(0, rows * n);
            sum(chunk);
            long nanAt = long.MaxValue;
            for (int li = 0; li < rows; li++)
            {
                int i = r0 + li;
                for (int j = 0; j < n; j++)
                {
                    uint bits = TopologyChecks.MagnitudeKey(chunk[li * n + j]);
                    if (TopologyChecks.IsNaNKey(bits)) { nanAt = Math.Min(nanAt, (long)i * n + j); bits = 0; } else bits += 1;
                    keys[li * n + j] = bits;
                }
            }
            return nanAt;
        });
    }
}
