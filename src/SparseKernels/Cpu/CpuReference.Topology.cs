using SparseKernels.Tensors;
using SparseKernels.Topology;

namespace SparseKernels.Cpu;

// The topology operations (kernels/topk_select.cu, gradient_grow.cu, random_grow.cu, csr_rebuild.cu): plain,
// obviously correct versions that sort instead of radix-selecting. The device and the CPU backend must give
// exactly the same sets (not merely close ones).
public static partial class CpuReference
{
    /// <summary>The k largest |values| (exactly k; ties: lower position), by a full sort. True = selected.</summary>
    public static bool[] TopkSelect(float[] values, long k, string layer = "values") => TopkSelect([values], [layer], k)[0];

    /// <summary>Global selection over several arrays (positions in their concatenation break ties).</summary>
    public static bool[][] TopkSelect(IReadOnlyList<float[]> arrays, IReadOnlyList<string>? names, long k)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        long total = 0;
        foreach (var a in arrays) total += a.Length;
        string label = arrays.Count == 1 ? TopologyChecks.Name(names, 0) : $"{arrays.Count} layers together";
        TopologyChecks.Count(SparseKernels.Topology.TopkSelect.Op, label, k, total, "values");
        var keys = new uint[total];
        long at = 0;
        for (int a = 0; a < arrays.Count; a++)
            for (int i = 0; i < arrays[a].Length; i++)
            {
                uint key = TopologyChecks.MagnitudeKey(arrays[a][i]);
                if (TopologyChecks.IsNaNKey(key)) throw TopologyChecks.NaN(SparseKernels.Topology.TopkSelect.Op, TopologyChecks.Name(names, a), i, "value");
                keys[at++] = key;
            }
        var selected = SelectKeysBySort(keys, k);
        var result = new bool[arrays.Count][];
        at = 0;
        for (int a = 0; a < arrays.Count; a++)
        {
            result[a] = new bool[arrays[a].Length];
            for (int i = 0; i < result[a].Length; i++) result[a][i] = selected[at++];
        }
        return result;
    }

    /// <summary>The k largest keys, ties by lower position, by sorting all positions.</summary>
    internal static bool[] SelectKeysBySort(uint[] keys, long k)
    {
        var order = new int[keys.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => keys[a] != keys[b] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
        var selected = new bool[keys.Length];
        for (long j = 0; j < k; j++) selected[order[j]] = true;
        return selected;
    }
}
