namespace SparseKernels.Topology;

/// <summary>The argument checks and messages every topology op (device and CPU) shares, so both say the same thing.</summary>
internal static class TopologyChecks
{
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
