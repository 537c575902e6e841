namespace SparseKernels.Tensors;

/// <summary>The argument checks and messages every topology op (device and CPU) shares, so both say the same thing.</summary>
internal static class TopologyChecks
{
    /// <summary>The op name top-k selection reports in its errors (device and CPU).</summary>
    public const string TopkSelectOp = "TopkSelect";

    /// <summary>
    /// Magnitude pruning's keep flags, per layer (one drop count each) or global (one count over all layers), with
    /// the k-largest-|x| selection of the caller (CpuReference's or CpuBackend's: they give the same set).
    /// </summary>
    public static bool[][] MagnitudePruneDrop(IReadOnlyList<CsrMatrix> layers, IReadOnlyList<string> names, IReadOnlyList<long> drop, bool global,
        Func<IReadOnlyList<float[]>, IReadOnlyList<string>?, long, bool[][]> select)
    {
        const string op = "MagnitudePrune";
        if (global ? drop.Count != 1 : drop.Count != layers.Count)
            throw new ArgumentException($"{op}: {(global ? "global pruning takes one drop count" : $"{layers.Count} layers need {layers.Count} drop counts")}, got {drop.Count}.", nameof(drop));
        if (global)
        {
            long total = layers.Sum(l => (long)l.Nnz);
            Count(op, $"{layers.Count} layers together", drop[0], total, "nonzeros");
            return select(layers.Select(l => l.Values).ToArray(), names, total - drop[0]);
        }
        var result = new bool[layers.Count][];
        for (int l = 0; l < layers.Count; l++)
        {
            Count(op, Name(names, l), drop[l], layers[l].Nnz, "nonzeros");
            result[l] = select([layers[l].Values], [Name(names, l)], layers[l].Nnz - drop[l])[0];
        }
        return result;
    }

    /// <summary>Key of |x| (kernels/topk_select.cu): the float bits with the sign cleared.</summary>
    public static uint MagnitudeKey(float x) => BitConverter.SingleToUInt32Bits(x) & 0x7FFFFFFFu;

    public static bool IsNaNKey(uint key) => key > 0x7F800000u;

    public static void Count(string op, string layer, long k, long available, string what)
    {
        if (k < 0)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"{op}: layer '{layer}': k = {k} is negative.");
        if (k > available)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"{op}: layer '{layer}': k = {k} is more than the {available} {what}.");
    }

    public static ArgumentException NaN(string op, string layer, long index, string what)
        => new($"{op}: layer '{layer}' has a NaN {what} at position {index}; NaN is never selected.", what);

    public static void SizeFitsInt(string op, string layer, long count, string what)
    {
        if (count >= int.MaxValue)
            throw new ArgumentOutOfRangeException(what, count, $"{op}: layer '{layer}': {count} {what} do not fit in 32-bit positions (at most {int.MaxValue - 1}).");
    }

    public static string Name(IReadOnlyList<string>? names, int i) => names is not null && i < names.Count ? names[i] : $"#{i}";
}
