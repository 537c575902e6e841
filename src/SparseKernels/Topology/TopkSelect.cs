using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;

using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>The variant of the radix-select histogram kernel (kernels/topk_select.cu lists what each assumes); the selection is the same.</summary>
public enum TopkSelectVersion
{
    /// <summary><c>topk_select_histogram_v1</c>: one shared-memory atomicAdd per counted element.</summary>
    V1 = 1,

    /// <summary>
    /// <c>topk_select_histogram_v2</c>: lanes of a warp with the same bin are grouped with <c>__match_any_sync</c> and
    /// one lane per group adds the group's count (fewer shared atomics on the few hot bins of the first pass). The
    /// histograms, hence the selection, are exactly V1's. The default; its speed-up is not yet measured on a GPU.
    /// </summary>
    V2 = 2,
}

/// <summary>
/// The k largest |x| of one array, or of many arrays at once (global selection across layers), on a device:
/// radix selection on the float bits (kernels/topk_select.cu: four 8-bit histogram passes over the keys, then up
/// to four over the positions of the ties), no sort. Exactly k are selected; ties go to the lower position (for
/// many arrays: the position in their concatenation, array 0 first). NaN is found by the key kernel and reported,
/// never selected. <see cref="SparseKernels.Cpu.CpuReference.TopkSelect(float[], long, string)"/> gives the same set.
/// v1 is host-driven: each pass reads its 256-bin histogram back (a synchronisation per pass).
/// </summary>
public static class TopkSelect
{
    private static readonly KernelRef s_topkSelectTileCountsV1 = new("topk_select_tile_counts_v1");
    private static readonly KernelRef s_topkSelectCompactV1 = new("topk_select_compact_v1");
    private static readonly KernelRef s_topkSelectKeysV1 = new("topk_select_keys_v1");
    private static readonly KernelRef s_topkSelectMarkV1 = new("topk_select_mark_v1");
    private static readonly KernelRef s_topkSelectHistogramV1 = new("topk_select_histogram_v1");
    private static readonly KernelRef s_topkSelectHistogramV2 = new("topk_select_histogram_v2");

    internal const string Op = TopologyChecks.TopkSelectOp;
    private const int Threads = 256;
    private const int MaxBlocks = 1024;
    internal const int Tile = 1024;

    /// <summary>
    /// Sets flags[i] = 1 for the k largest |values[i]| (exactly k), 0 elsewhere. <paramref name="version"/> picks
    /// the histogram kernel (the result does not depend on it).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">k is negative or more than the array holds (the message names the layer).</exception>
    /// <exception cref="ArgumentException">values hold a NaN (named with its layer and position), or flags is too short.</exception>
    public static void Run(IDevice device, DeviceBuffer<float> values, long k, DeviceBuffer<byte> flags, string layer = "values",
                           TopkSelectVersion version = TopkSelectVersion.V2)
        => Run(device, [values], [layer], k, [flags], version);

    /// <summary>
    /// Global selection: the k largest |x| over all arrays together; flags[a][i] = 1 for the selected.
    /// <paramref name="version"/> picks the histogram kernel (the result does not depend on it).
    /// </summary>
    public static void Run(IDevice device, IReadOnlyList<DeviceBuffer<float>> arrays, IReadOnlyList<string>? names, long k, IReadOnlyList<DeviceBuffer<byte>> flags,
                           TopkSelectVersion version = TopkSelectVersion.V2)
    {
        OperandChecks.Device(device, Op);
        ArgumentNullException.ThrowIfNull(arrays);
        ArgumentNullException.ThrowIfNull(flags);
        if (flags.Count != arrays.Count)
            throw new ArgumentException($"{Op}: {arrays.Count} arrays but {flags.Count} flag buffers.", nameof(flags));
        long total = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            OperandChecks.On(device, arrays[a], Op, $"arrays[{a}]");
            OperandChecks.On(device, flags[a], Op, $"flags[{a}]");
            if (flags[a].Length < arrays[a].Length)
                throw new ArgumentException($"{Op}: layer '{TopologyChecks.Name(names, a)}': {arrays[a].Length} values but only {flags[a].Length} flags.", nameof(flags));
            total += arrays[a].Length;
        }
        string label = arrays.Count == 1 ? TopologyChecks.Name(names, 0) : $"{arrays.Count} layers together";
        TopologyChecks.Count(Op, label, k, total, "values");
        TopologyChecks.SizeFitsInt(Op, label, total, "values");
        CheckVersion(version);
        if (total == 0) return;

        using var keys = device.Allocate<uint>(total);
        MagnitudeKeys(device, arrays, names, keys);
        if (arrays.Count == 1)
        {
            SelectKeys(device, keys, total, k, flags[0], version);
            return;
        }
        using var all = device.Allocate<byte>(total);
        SelectKeys(device, keys, total, k, all, version);
        long at = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            if (arrays[a].Length > 0) device.CopyDeviceToDevice(all, at, flags[a], 0, arrays[a].Length);
            at += arrays[a].Length;
        }
    }

    /// <summary>keys = bits(|x|) of the arrays, concatenated; throws naming the layer and position of the first NaN.</summary>
    internal static void MagnitudeKeys(IDevice device, IReadOnlyList<DeviceBuffer<float>> arrays, IReadOnlyList<string>? names, DeviceBuffer<uint> keys)
    {
        using var nanFirst = device.Allocate<ulong>(Math.Max(arrays.Count, 1));
        device.Fill32(nanFirst, 0xFFFFFFFFu);
        long at = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            long n = arrays[a].Length;
            if (n > 0)
            {
                var args = new KernelArgs();
                args.Add(n);
                args.Add(arrays[a].Pointer.Address);
                args.Add(keys.Pointer.Address);
                args.Add(at);
                args.Add(nanFirst.PointerAt(a).Address);
                Launch(device, s_topkSelectKeysV1, n, ref args);
            }
            at += n;
        }
        var first = nanFirst.ToArray();
        for (int a = 0; a < arrays.Count; a++)
            if (first[a] != ulong.MaxValue)
                throw TopologyChecks.NaN(Op, TopologyChecks.Name(names, a), (long)first[a], "value");
    }

    /// <summary>flags[i] = 1 for the k largest keys[0..n) (ties: lower i), by radix selection.</summary>
    internal static void SelectKeys(IDevice device, DeviceBuffer<uint> keys, long n, long k, DeviceBuffer<byte> flags,
                                    TopkSelectVersion version = TopkSelectVersion.V2)
    {
        var (threshold, lastTie) = FindCut(device, keys, n, k, version);
        var args = new KernelArgs();
        args.Add(n);
        args.Add(keys.Pointer.Address);
        args.Add(threshold);
        args.Add(lastTie);
        args.Add(flags.Pointer.Address);
        Launch(device, s_topkSelectMarkV1, n, ref args);
    }

    /// <summary>The selection as (threshold key, last selected position among the keys equal to it).</summary>
    internal static (uint Threshold, long LastTie) FindCut(IDevice device, DeviceBuffer<uint> keys, long n, long k,
                                                           TopkSelectVersion version = TopkSelectVersion.V2)
    {
        CheckVersion(version);
        if (k <= 0) return (uint.MaxValue, -1);
        if (k >= n) return (0u, n - 1);
        using var hist = device.Allocate<uint>(256);
        var h = new uint[256];
        uint prefix = 0, mask = 0;
        long remaining = k, tieCount = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            Histogram(device, keys, n, false, 0, prefix, mask, shift, hist, h, version);
            int d = 255;
            for (; d > 0; d--)
            {
                if (h[d] >= remaining) break;
                remaining -= h[d];
            }
            prefix |= (uint)d << shift;
            mask |= 0xFFu << shift;
            tieCount = h[d];
        }
        if (remaining == tieCount) return (prefix, n - 1);
        // The `remaining` lowest positions among the keys equal to the threshold.
        uint tie = prefix;
        uint ip = 0, im = 0;
        long rem = remaining;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            im |= 0xFFu << shift;
            if (shift > 0 && ((n - 1) >> shift) == 0) continue; // every index has digit 0 here
            Histogram(device, keys, n, true, tie, ip, im & ~(0xFFu << shift), shift, hist, h, version);
            int d = 0;
            for (; d < 255; d++)
            {
                if (h[d] >= rem) break;
                rem -= h[d];
            }
            ip |= (uint)d << shift;
        }
        return (tie, ip);
    }

    /// <summary>One radix pass into <paramref name="h"/> (256 counts) through <paramref name="hist"/> (see topk_select_histogram_*).</summary>
    internal static void Histogram(IDevice device, DeviceBuffer<uint> keys, long n, bool byIndex, uint tieKey, uint prefix, uint mask, int shift,
                                   DeviceBuffer<uint> hist, uint[] h, TopkSelectVersion version)
    {
        device.Fill32(hist, 0u);
        var args = new KernelArgs();
        args.Add(n);
        args.Add(keys.Pointer.Address);
        args.Add(byIndex ? 1 : 0);
        args.Add(tieKey);
        args.Add(prefix);
        args.Add(mask);
        args.Add(shift);
        args.Add(hist.Pointer.Address);
        // Both versions: the same arguments, 256 threads (whole warps, as v2 needs), 1024 bytes of shared memory.
        Launch(device, version == TopkSelectVersion.V1 ? s_topkSelectHistogramV1 : s_topkSelectHistogramV2, n, ref args, 256 * sizeof(uint));
        hist.CopyTo(h);
    }

    /// <summary>
    /// The positions i with flags[i] != 0, ascending, in a new buffer (at least one element long) and their count.
    /// </summary>
    public static (DeviceBuffer<int> Indices, int Count) Compact(IDevice device, DeviceBuffer<byte> flags, long n)
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, flags, Op, nameof(flags));
        if (n < 0 || n > flags.Length) throw new ArgumentOutOfRangeException(nameof(n), n, $"{Op}: n = {n} but the flags hold {flags.Length}.");
        TopologyChecks.SizeFitsInt(Op, "flags", n, "flags");
        if (n == 0) return (device.Allocate<int>(1), 0);
        int tiles = (int)((n + Tile - 1) / Tile);
        using var counts = device.Allocate<uint>(tiles);
        var args = new KernelArgs();
        args.Add(n);
        args.Add(flags.Pointer.Address);
        args.Add(counts.Pointer.Address);
        s_topkSelectTileCountsV1.Launch(device, new LaunchConfig(new Dim3((uint)tiles), new Dim3(Threads), sizeof(uint)), ref args);
        var c = counts.ToArray();
        var offsets = new long[tiles];
        long total = 0;
        for (int t = 0; t < tiles; t++) { offsets[t] = total; total += c[t]; }
        using var dOffsets = device.Allocate<long>(tiles);
        dOffsets.CopyFrom(offsets);
        var indices = device.Allocate<int>(Math.Max(total, 1));
        var args2 = new KernelArgs();
        args2.Add(n);
        args2.Add(flags.Pointer.Address);
        args2.Add(dOffsets.Pointer.Address);
        args2.Add(indices.Pointer.Address);
        s_topkSelectCompactV1.Launch(device, new LaunchConfig(new Dim3((uint)tiles), new Dim3(Threads), 2 * Threads * sizeof(uint)), ref args2);
        return (indices, (int)total);
    }

    private static void CheckVersion(TopkSelectVersion version)
    {
        if (version is not (TopkSelectVersion.V1 or TopkSelectVersion.V2))
            throw new ArgumentOutOfRangeException(nameof(version), version, $"{Op}: unknown histogram kernel version {version}; available: V1, V2.");
    }

    internal static void Launch(IDevice device, KernelRef id, long n, ref KernelArgs args, int sharedBytes = 0)
    {
        uint blocks = (uint)Math.Clamp((n + Threads - 1) / Threads, 1, MaxBlocks);
        device.Launch(id.Get(device), new LaunchConfig(new Dim3(blocks), new Dim3(Threads), sharedBytes), ref args);
    }
}
