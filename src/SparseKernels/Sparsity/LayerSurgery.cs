// Shared mechanics of the sparsity methods (not a method itself): drop-and-grow of a CSR layer on either backend
// (CpuBackend topology ops on the CPU, the Topology launchers on a device), top-k pruning of a layer to an exact
// count (CSR rebuild, or a dense layer's mask), and masks of masked-dense layers (GMP/IMP keep a layer dense until it
// is sparse enough for CSR: SparsityOptions.CsrBelowDensity).
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Topology;
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

internal enum GrowRule { Gradient, Random }

internal static class LayerSurgery
{
    /// <summary>Scores per chunk of the CPU growth (16 MB of keys): the dense gradient is never formed whole.</summary>
    internal const long GrowChunkElements = 1 << 22;
    /// <summary>Layers with at least this many nonzeros (16 MB of values) are followed by a full collection after an update.</summary>
    internal const int LargeLayerNnz = 1 << 22;

    /// <summary>Philox seed of a SET growth: the run's seed mixed with the layer and the step (stateless, so resume is exact).</summary>
    public static ulong GrowSeed(ulong seed, int layer, long step)
    {
        ulong z = seed ^ (0x9E3779B97F4A7C15UL * (ulong)(layer + 1)) ^ (0xD1B54A32D192ED03UL * (ulong)(step + 1));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// Drops the <paramref name="count"/> smallest |w| of a CSR layer and grows as many absent positions (largest
    /// |dY^T X| of the captured batch, or Philox-random), rebuilding the layer with its optimizer state carried; grown
    /// weights and their state are 0; nnz is unchanged.
    /// </summary>
    /// <remarks>With <paramref name="scoreSum"/> (data-parallel RigL, Distributed) the growth scores are summed over the
    /// replicas chunk by chunk (CpuBackend.GradientGrowSummed) and the update runs on the host for any backend.</remarks>
    public static void DropGrow(ITensorBackend backend, WeightLayer layer, long count, GrowRule rule, ulong seed,
        GrowScoreSum? scoreSum = null)
    {
        if (layer.Sparse is null) throw new InvalidOperationException($"layer{layer.Index} is dense; drop-and-grow needs a CSR layer.");
        if (count <= 0) return;
        string name = $"layer{layer.Index}";
        DenseTensor? dyT = null, xT = null;
        if (rule == GrowRule.Gradient)
        {
            if (layer.LastOutput?.Grad is null || layer.LastInput is null)
                throw new InvalidOperationException($"{name}: gradient growth needs the batch's activations (set CaptureActivations before the forward pass).");
            var dy = layer.LastOutput.Grad; var x = layer.LastInput.Value;
            dyT = dy.IsOnDevice ? dy.ToHost().Transpose() : dy.Transpose();   // batch x out
            xT = x.IsOnDevice ? x.ToHost().Transpose() : x.Transpose();       // batch x in
        }
        if (backend.Device is not { } device || scoreSum is not null)
        {
            bool onDevice = backend.Device is not null;
            var w = onDevice ? layer.Sparse.ToHost() : layer.Sparse.Matrix;
            var cpu = (backend as CpuTensorBackend)?.Cpu ?? CpuBackend.Default;
            var state = layer.Weight.State.Select(s => onDevice ? s.ToArray() : s.HostData).ToArray();
            var keep = cpu.MagnitudePruneDrop([w], [name], [count])[0];
            // 64-bit positions (layers of more than 2^31 weights); chunks of 4M scores (16 MB), never out x in.
            long[] grown = rule == GrowRule.Random ? cpu.RandomGrowPositions(w, keep, count, seed, name, GrowChunkElements)
                : scoreSum is null ? cpu.GradientGrowPositions(w, keep, dyT!, xT!, count, name, GrowChunkElements)
                : cpu.GradientGrowSummed(w, keep, dyT!, xT!, count, scoreSum, name, GrowChunkElements);
            var (nw, ns) = cpu.CsrRebuild(w, state, keep, grown, name);
            layer.ReplaceWeight(backend, nw, null, ns.Select(a => ToBackend(backend, DenseTensor.FromArray(1, a.Length, a))).ToArray());
            // The old topology (values, indices, transpose, permutation, optimizer state: ~6 arrays of nnz) and the
            // update's scratch are garbage now; for a large layer collect them at once, before the next layer's update
            // or step allocates beside them (a 14M-nonzero layer frees ~1 GB here).
            if (w.Nnz >= LargeLayerNnz) GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            return;
        }
        using var dyD = dyT?.ToDevice(device);
        using var xD = xT?.ToDevice(device);
        var wd = layer.Sparse.Matrix;
        using var keepD = MagnitudePrune.Drop(device, [wd], [name], [count])[0];
        var (pos, n) = rule == GrowRule.Gradient ? GradientGrow.Run(device, wd, keepD, dyD!, xD!, count, name) : RandomGrow.Run(device, wd, keepD, count, seed, name);
        CsrMatrix newW; DeviceBuffer<float>[] newState;
        using (pos) (newW, newState) = CsrRebuild.Run(device, wd, layer.Weight.State.Select(s => s.DeviceData).ToArray(), keepD, pos, n, name);
        CsrMatrix host;
        using (newW) host = newW.ToHost();   // v1: SparseWeight builds its transpose permutation on the host
        layer.ReplaceWeight(backend, host, null, newState.Select(b => DenseTensor.FromDevice(b, 1, host.Nnz)).ToArray());
    }

    /// <summary>The positions (row * cols + col) of the k largest scores, ascending; ties go to the lower position.</summary>
    public static int[] TopK(ReadOnlySpan<float> scores, long k, string what)
    {
        if (k < 0 || k > scores.Length) throw new ArgumentOutOfRangeException(nameof(k), k, $"{what}: cannot keep {k} of {scores.Length} positions.");
        for (int i = 0; i < scores.Length; i++)
            if (float.IsNaN(scores[i])) throw new ArgumentException($"{what}: the score at position {i} is NaN.");
        var idx = new int[scores.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        var s = scores.ToArray();
        Array.Sort(idx, (a, b) => s[a] != s[b] ? s[b].CompareTo(s[a]) : a.CompareTo(b));
        var top = idx.AsSpan(0, (int)k).ToArray();
        Array.Sort(top);
        return top;
    }

    /// <summary>A host CSR (rows x cols) of the given ascending positions with values from a dense row-major array.</summary>
    public static CsrMatrix CsrOf(int rows, int cols, int[] positions, ReadOnlySpan<float> dense)
    {
        var ro = new int[rows + 1]; var ci = new int[positions.Length]; var v = new float[positions.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            int r = positions[i] / cols;
            ro[r + 1]++; ci[i] = positions[i] % cols; v[i] = dense[positions[i]];
        }
        for (int r = 0; r < rows; r++) ro[r + 1] += ro[r];
        return new CsrMatrix(rows, cols, ro, ci, v);
    }

    /// <summary>A layer's weights as a dense host array (row-major out x in; absent CSR positions are 0) and its presence mask.</summary>
    public static (float[] Dense, bool[] Present) DenseOf(WeightLayer layer, bool[]? denseMask)
    {
        var dense = new float[(long)layer.Out * layer.In];
        var present = new bool[dense.Length];
        if (layer.Sparse is { } sw)
        {
            var h = sw.ToHost();
            for (int r = 0; r < h.Rows; r++)
                for (int p = h.RowOffsets[r]; p < h.RowOffsets[r + 1]; p++) { long at = (long)r * h.Cols + h.ColumnIndices[p]; dense[at] = h.Values[p]; present[at] = true; }
        }
        else
        {
            layer.Weight.Value.ToArray().CopyTo(dense, 0);
            for (int i = 0; i < present.Length; i++) present[i] = denseMask?[i] ?? true;
        }
        return (dense, present);
    }

    /// <summary>A layer's optimizer state slots in the dense out x in layout (CSR state scattered; absent = 0).</summary>
    public static float[][] DenseStateOf(WeightLayer layer)
    {
        var slots = layer.Weight.State.Select(t => t.ToArray()).ToArray();
        if (layer.Sparse is null) return slots.Select(a => (float[])a.Clone()).ToArray();
        var h = layer.Sparse.ToHost();
        var result = new float[slots.Length][];
        for (int s = 0; s < slots.Length; s++)
        {
            var d = new float[(long)layer.Out * layer.In];
            for (int r = 0; r < h.Rows; r++)
                for (int p = h.RowOffsets[r]; p < h.RowOffsets[r + 1]; p++) d[(long)r * h.Cols + h.ColumnIndices[p]] = slots[s][p];
            result[s] = d;
        }
        return result;
    }

    /// <summary>
    /// Makes a layer hold exactly the given ascending positions with values (and optimizer state, null = restart at
    /// 0) taken from dense out x in arrays: CSR when the density is below <paramref name="csrBelowDensity"/>, else
    /// dense with a mask (returned; null for CSR or a full layer).
    /// </summary>
    public static bool[]? SetPattern(ITensorBackend backend, WeightLayer layer, int[] positions, float[] values, float[][]? state,
        double csrBelowDensity)
    {
        long weights = (long)layer.Out * layer.In;
        double density = (double)positions.Length / weights;
        if (density < csrBelowDensity)
        {
            var csr = CsrOf(layer.Out, layer.In, positions, values);
            var st = state is null ? [] : state.Select(a => ToBackend(backend, DenseTensor.FromArray(1, positions.Length, positions.Select(p => a[p]).ToArray()))).ToArray();
            layer.ReplaceWeight(backend, csr, null, st);
            return null;
        }
        var mask = new bool[weights];
        var w = new float[weights];
        foreach (int p in positions) { mask[p] = true; w[p] = values[p]; }
        var dst = state is null ? [] : state.Select(a =>
        {
            var d = new float[weights];
            foreach (int p in positions) d[p] = a[p];
            return ToBackend(backend, DenseTensor.FromArray(layer.Out, layer.In, d));
        }).ToArray();
        layer.ReplaceWeight(backend, null, DenseTensor.FromArray(layer.Out, layer.In, w), dst);
        return positions.Length == weights ? null : mask;
    }

    /// <summary>Prunes a layer to its <paramref name="count"/> largest-|w| present weights, state carried; returns its new mask (see SetPattern).</summary>
    public static bool[]? PruneTo(ITensorBackend backend, WeightLayer layer, bool[]? mask, long count, double csrBelowDensity)
    {
        var (dense, present) = DenseOf(layer, mask);
        var scores = new float[dense.Length];
        for (int i = 0; i < dense.Length; i++) scores[i] = present[i] ? Math.Abs(dense[i]) : -1f;
        long have = present.LongCount(p => p);
        if (count > have) throw new ArgumentException($"layer{layer.Index}: cannot prune to {count} weights; it holds {have}.");
        return SetPattern(backend, layer, TopK(scores, count, $"layer{layer.Index}"), dense, DenseStateOf(layer), csrBelowDensity);
    }

    private static DenseTensor ToBackend(ITensorBackend b, DenseTensor host) => b.Device is null ? host : b.Upload(host);

    /// <summary>Writes the masks of masked-dense layers (checkpoints): their count, then by layer its index and flags.</summary>
    public static void WriteMasks(BinaryWriter w, IReadOnlyDictionary<int, bool[]> masks)
    {
        w.Write(masks.Count);
        foreach (var (i, mask) in masks.OrderBy(m => m.Key))
        {
            w.Write(i); w.Write(mask.Length);
            foreach (bool b in mask) w.Write(b);
        }
    }

    /// <summary>Reads what <see cref="WriteMasks"/> wrote, each checked against the model: a dense layer, one flag per weight.</summary>
    public static Dictionary<int, bool[]> ReadMasks(BinaryReader r, Sequential model)
    {
        int count = r.ReadInt32();
        if (count < 0 || count > model.Layers.Count) throw new InvalidDataException($"{count} masks for {model.Layers.Count} layers.");
        var masks = new Dictionary<int, bool[]>();
        for (int k = 0; k < count; k++)
        {
            int i = r.ReadInt32();
            if (i < 0 || i >= model.Layers.Count || masks.ContainsKey(i)) throw new InvalidDataException($"a mask for layer {i}, which is not a layer or has one already.");
            var layer = model.Layers[i];
            if (layer.IsSparse) throw new InvalidDataException($"layer {i} has a mask but is CSR (masks belong to dense layers).");
            int n = r.ReadInt32();
            if (n != (long)layer.Out * layer.In) throw new InvalidDataException($"layer {i}'s mask has {n} flags for its {layer.Out}x{layer.In} weights.");
            var mask = new bool[n];
            for (int j = 0; j < n; j++) mask[j] = r.ReadBoolean();
            masks[i] = mask;
        }
        return masks;
    }

    /// <summary>Zeroes the masked-out weights of a dense layer and their optimizer state (after each optimizer step).</summary>
    public static void ApplyMask(WeightLayer layer, bool[] mask)
    {
        foreach (var t in new[] { layer.Weight.Value }.Concat(layer.Weight.State))
        {
            if (!t.IsOnDevice) { var d = t.HostData; for (int i = 0; i < d.Length; i++) if (!mask[i]) d[i] = 0; }
            else { var d = t.ToArray(); for (int i = 0; i < d.Length; i++) if (!mask[i]) d[i] = 0; t.DeviceData.CopyFrom(d); }
        }
    }
}
