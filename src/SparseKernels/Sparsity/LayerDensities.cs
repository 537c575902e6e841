// Layer densities: how a global sparsity S is spread over the layers.
// Reference: RigL (Evci et al. 2020, "Rigging the Lottery: Making All Tickets Winners"), google-research/rigl
// rigl/sparse_utils.py get_sparsities / get_sparsities_uniform / get_sparsities_erdos_renyi.
//  - uniform: every layer keeps floor((1 - S) * n_in * n_out) weights (get_sparsities_uniform).
//  - Erdos-Renyi (Mocanu et al. 2018, as used by RigL): layer l's density is eps * (n_in + n_out) / (n_in * n_out),
//    eps chosen so that the nonzeros equal (1 - S) x the weights of the layers not kept dense; a layer whose density
//    would exceed 1 becomes dense, stays inside that budget, and eps is recomputed over the others
//    (get_sparsities_erdos_renyi's is_eps_valid loop: `rhs -= n_zeros` for its dense_layers).
//  - Erdos-Renyi-Kernel: raw density sum(shape) / prod(shape) over the weight's full shape (n_in, n_out, k_h, k_w).
//    A fully connected layer has no kernel dimensions, so for an MLP ERK equals ER (as in RigL's code, whose
//    dense-layer shape is [n_in, n_out]); the kernel size is accepted for other shapes.
// Layers kept dense by option (--first-dense, --last-dense) are left out of the computation, as RigL's
// custom_sparsity_map layers are ("We ignore custom_sparsities in erdos-renyi calculations"): for uniform, ER and ERK
// alike, S is the fraction of zero weights over the layers NOT kept dense (with no layer kept dense, over the whole
// model). The kept-dense layers come on top, so the whole model's fraction of zeros is lower than S.
// Counts are exact (floor of density x weights, at least 1), never Bernoulli draws.
// Departs from RigL: RigL caps every layer tied at the largest raw density in one pass; here one layer per pass, and
// a tied layer is capped on the next pass only if it still exceeds 1 (a difference only for equal raw densities).
namespace SparseKernels.Sparsity;

/// <summary>How a global sparsity is spread over the layers (RigL's conventions).</summary>
public enum DensityDistribution
{
    /// <summary>Every layer keeps floor((1 - S) n_in n_out) weights.</summary>
    Uniform,
    /// <summary>Erdos-Renyi: density proportional to (n_in + n_out) / (n_in n_out), layers that would exceed 1 made dense.</summary>
    ErdosRenyi,
    /// <summary>Erdos-Renyi-Kernel: density proportional to sum(shape) / prod(shape) over the full weight shape; equals <see cref="ErdosRenyi"/> for an MLP.</summary>
    ErdosRenyiKernel,
}

/// <summary>Shape of one layer's weight: n_in x n_out and, for a convolution, its kernel (1 x 1 for a dense layer).</summary>
public readonly record struct LayerShape(int In, int Out, int KernelH = 1, int KernelW = 1)
{
    /// <summary>The number of weights: In x Out x KernelH x KernelW.</summary>
    public long Weights => (long)In * Out * KernelH * KernelW;
}

/// <summary>Exact per-layer nonzero counts for a global sparsity under a <see cref="DensityDistribution"/>.</summary>
public static class LayerDensities
{
    /// <summary>The distribution named <c>uniform</c>, <c>er</c> (<c>erdos-renyi</c>) or <c>erk</c> (<c>erdos-renyi-kernel</c>), case-insensitive; throws <see cref="ArgumentException"/> for any other name.</summary>
    public static DensityDistribution Parse(string name) => name.ToLowerInvariant() switch
    {
        "uniform" => DensityDistribution.Uniform,
        "er" or "erdos-renyi" => DensityDistribution.ErdosRenyi,
        "erk" or "erdos-renyi-kernel" => DensityDistribution.ErdosRenyiKernel,
        _ => throw new ArgumentException($"Unknown layer distribution '{name}'; use uniform, er or erk."),
    };

    /// <summary>Nonzeros per layer of an MLP with layer sizes <paramref name="sizes"/> (inputs, hidden..., classes).</summary>
    public static long[] Counts(IReadOnlyList<int> sizes, double sparsity, DensityDistribution distribution, bool firstDense = false, bool lastDense = false)
        => Counts(Shapes(sizes), sparsity, distribution, firstDense, lastDense);

    /// <summary>The layer shapes of an MLP with layer sizes <paramref name="sizes"/>.</summary>
    public static LayerShape[] Shapes(IReadOnlyList<int> sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Count < 2) throw new ArgumentException($"Layer densities need at least two layer sizes; got {sizes.Count}.", nameof(sizes));
        var shapes = new LayerShape[sizes.Count - 1];
        for (int i = 0; i < shapes.Length; i++) shapes[i] = new LayerShape(sizes[i], sizes[i + 1]);
        return shapes;
    }

    /// <summary>The weight layers' shapes of a model: (n_in, n_out) for a fully connected layer, (in_channels, out_channels, kh, kw) for a
    /// convolution.</summary>
    public static LayerShape[] Shapes(Training.ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Layers.Where(l => l.Kind is Training.LayerKind.Linear or Training.LayerKind.Conv2d)
            .Select(l => l.Conv is { } g ? new LayerShape(g.InChannels, g.OutChannels, g.KernelH,
                g.KernelW) : new LayerShape(l.Input.Features, l.Output.Features))
            .ToArray();
    }

    /// <summary>Nonzeros per layer (exact; dense layers keep all their weights).</summary>
    public static long[] Counts(IReadOnlyList<LayerShape> layers, double sparsity, DensityDistribution distribution, bool firstDense = false, bool lastDense = false)
    {
        var d = Densities(layers, sparsity, distribution, firstDense, lastDense);
        var counts = new long[d.Length];
        for (int i = 0; i < d.Length; i++)
            counts[i] = d[i] >= 1 ? layers[i].Weights : Math.Clamp((long)Math.Floor(d[i] * layers[i].Weights), 1, layers[i].Weights);
        return counts;
    }

    /// <summary>Each layer's density before flooring (1 = dense).</summary>
    public static double[] Densities(IReadOnlyList<LayerShape> layers, double sparsity, DensityDistribution distribution, bool firstDense = false, bool lastDense = false)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (!(sparsity >= 0 && sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "The sparsity must lie in [0, 1).");
        int n = layers.Count;
        for (int i = 0; i < n; i++)
            if (layers[i].In <= 0 || layers[i].Out <= 0 || layers[i].KernelH <= 0 || layers[i].KernelW <= 0)
                throw new ArgumentException($"Layer {i} has shape {layers[i]}; every dimension must be positive.", nameof(layers));
        // kept: the layers kept dense by option (first / last), left out of the budget as RigL's custom_sparsity_map
        // layers are; dense: those plus the ER layers capped at density 1, which stay inside the budget.
        var kept = new bool[n];
        if (n > 0) { kept[0] |= firstDense; kept[n - 1] |= lastDense; }
        var dense = (bool[])kept.Clone();
        var density = new double[n];
        if (sparsity == 0) { Array.Fill(density, 1.0); return density; }
        if (distribution == DensityDistribution.Uniform)
        {
            for (int i = 0; i < n; i++) density[i] = kept[i] ? 1 : 1 - sparsity;
            return density;
        }
        double total = Enumerable.Range(0, n).Where(i => !kept[i]).Sum(i => (double)layers[i].Weights);
        double budget = (1 - sparsity) * total;
        var raw = new double[n];
        for (int i = 0; i < n; i++)
        {
            var l = layers[i];
            raw[i] = distribution == DensityDistribution.ErdosRenyi
                ? ((double)l.In + l.Out) / ((double)l.In * l.Out)
                : ((double)l.In + l.Out + (l.KernelH * l.KernelW > 1 ? l.KernelH + l.KernelW : 0)) / l.Weights;
        }
        double eps;
        while (true)
        {
            double denseWeights = 0, scaled = 0;
            for (int i = 0; i < n; i++)
                if (kept[i]) continue;
                else if (dense[i]) denseWeights += layers[i].Weights;
                else scaled += raw[i] * layers[i].Weights;
            if (scaled == 0) { eps = 0; break; }
            eps = (budget - denseWeights) / scaled;
            int worst = -1;
            for (int i = 0; i < n; i++)
                if (!dense[i] && eps * raw[i] > 1 && (worst < 0 || raw[i] > raw[worst])) worst = i;
            if (worst < 0) break;
            dense[worst] = true;
        }
        for (int i = 0; i < n; i++) density[i] = dense[i] ? 1 : eps * raw[i];
        return density;
    }

    /// <summary>
    /// Throws when a layer that is not kept dense would keep no weight at all at this sparsity (floor(density x
    /// weights) = 0; Counts clamps it to 1, so the target could not be reached), or when the counts cannot be formed.
    /// The message names the layer, its shape, its weights, the sparsity and the count; <paramref name="what"/> says
    /// who asks (e.g. "GMP at its final sparsity").
    /// </summary>
    public static void CheckFeasible(IReadOnlyList<int> sizes, double sparsity, DensityDistribution distribution, bool firstDense, bool lastDense, string what)
        => CheckFeasible(Shapes(sizes), sparsity, distribution, firstDense, lastDense, what);

    /// <summary>As the overload with layer sizes, for any weight layers' shapes (convolutions included).</summary>
    public static void CheckFeasible(IReadOnlyList<LayerShape> shapes, double sparsity, DensityDistribution distribution,
        bool firstDense, bool lastDense, string what)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        long[] counts;
        try { counts = Counts(shapes, sparsity, distribution, firstDense, lastDense); }
        catch (ArgumentException e) { throw new ArgumentException($"{what}: {e.Message}", nameof(sparsity), e); }
        int n = shapes.Count;
        if (sparsity > 0 && Enumerable.Range(0, n).All(i => (i == 0 && firstDense) || (i == n - 1 && lastDense)))
            throw new ArgumentException($"{what}: sparsity {sparsity} asks for zero weights but every layer (0..{n - 1}) is kept dense.", nameof(sparsity));
        var raw = Densities(shapes, sparsity, distribution, firstDense, lastDense);
        for (int i = 0; i < n; i++)
        {
            long weights = shapes[i].Weights;
            double exact = raw[i] * weights;
            string dims = shapes[i].KernelH * shapes[i].KernelW > 1 ? $"{shapes[i].In}x{shapes[i].Out}x{shapes[i].KernelH}x{shapes[i].KernelW}" : $"{shapes[i].In}x{shapes[i].Out}";
            if (counts[i] < weights && Math.Floor(exact) < 1)
                throw new ArgumentException($"{what}: layer {i} ({dims} = {weights:N0} weights) would keep floor({raw[i]:G4} x {weights:N0}) = {Math.Floor(exact):N0} weights at sparsity {sparsity}; a layer must keep at least 1. Lower the sparsity, widen the layer, keep it dense or prune globally.", nameof(sparsity));
        }
    }

    /// <summary>The counts as per-layer sparsities (1 - count / weights; 0 = dense layer) for <see cref="Training.Mlp.Create"/>,
    /// which draws exactly round((1 - s) x weights) = count nonzeros.</summary>
    public static double[] ToSparsity(IReadOnlyList<int> sizes, IReadOnlyList<long> counts) => ToSparsity(Shapes(sizes), counts);

    /// <summary>As the overload with layer sizes, for any weight layers' shapes.</summary>
    public static double[] ToSparsity(IReadOnlyList<LayerShape> shapes, IReadOnlyList<long> counts)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        ArgumentNullException.ThrowIfNull(counts);
        var s = new double[counts.Count];
        for (int i = 0; i < s.Length; i++)
        {
            long w = shapes[i].Weights;
            s[i] = counts[i] >= w ? 0 : 1 - (double)counts[i] / w;
        }
        return s;
    }
}
