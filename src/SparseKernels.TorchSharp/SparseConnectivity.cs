using SparseKernels.Sparsity;
using SparseKernels.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SparseKernels.TorchSharp;

/// <summary>How a <see cref="SparseConnectivity"/> grows the weights it drops.</summary>
public enum GrowthRule
{
    /// <summary>RigL: the largest |dY^T X| of the last batch among the absent positions (the engine's GradientGrow).</summary>
    Gradient,
    /// <summary>SET: uniformly random absent positions (the engine's Philox RandomGrow).</summary>
    Random,
}

/// <summary>
/// Dynamic sparse training (RigL, SET) for the <see cref="SparseLinear"/> layers of any TorchSharp model, driven from
/// the user's own loop:
/// <code>
/// var rigl = new SparseConnectivity(GrowthRule.Gradient);
/// rigl.Attach(model);                       // the layers keep their last batch's x and dY (for the growth scores)
/// ... loss.backward();
/// if (!rigl.Step(model, step, totalSteps, optimizer)) optimizer.step();   // RigL skips the weight update on a mask update
/// </code>
/// The schedule is the engine's (<see cref="DropSchedule"/>): every <c>updateEvery</c> steps from step 0 to
/// endFraction x totalSteps, each layer drops floor(a_t nnz) weights of smallest |w| (a_t = alpha/2 (1 + cos(pi t / T_end)))
/// and grows as many (engine: MagnitudePruneDrop, GradientGrow / RandomGrow, CsrRebuild): nnz stays constant; kept
/// weights keep their value, gradient and optimizer state, grown weights start at 0 with zero gradient and zero state.
/// Fully dense layers (density 1, e.g. capped by ERK) are left alone, as in the engine's RigL.
/// <para>Optimizer state: for TorchSharp's SGD (momentum_buffer) and Adam (exp_avg, exp_avg_sq, max_exp_avg_sq) the
/// state arrays of the layer's <c>values</c> Parameter are permuted with the pattern in place (reached through
/// <c>optimizer.state_dict().State</c>, whose entries are the optimizer's live state objects, in the order of
/// <c>optimizer.parameters()</c>). Adam's per-parameter <c>step</c> (bias correction) is shared by all nonzeros of a
/// layer and is left as is, so a grown weight's moments restart at zero under the layer's current bias correction, as
/// in the RigL reference (reset_momentum). Other optimizers: their state is refused with an exception (their state
/// classes are not handled); pass no optimizer only if it keeps no per-weight state.</para>
/// </summary>
public sealed class SparseConnectivity(
    GrowthRule rule = GrowthRule.Gradient, double alpha = 0.3, int updateEvery = 100, double endFraction = 0.75, ulong seed = 0)
{
    public GrowthRule Rule { get; } = rule;
    public double Alpha { get; } = alpha is > 0 and <= 1
        ? alpha
        : throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must lie in (0, 1].");
    public int UpdateEvery { get; } = updateEvery > 0
        ? updateEvery
        : throw new ArgumentOutOfRangeException(nameof(updateEvery), updateEvery, "updateEvery must be positive.");
    public double EndFraction { get; } = endFraction is >= 0 and <= 1
        ? endFraction
        : throw new ArgumentOutOfRangeException(nameof(endFraction), endFraction, "endFraction must lie in [0, 1].");
    public ulong Seed { get; } = seed;
    /// <summary>Weights dropped (= grown) per layer at the last update, in the order of <see cref="Layers"/>.</summary>
    public long[] LastCounts { get; private set; } = [];

    /// <summary>The SparseLinear layers of <paramref name="model"/> (itself included), in module order.</summary>
    public static IReadOnlyList<SparseLinear> Layers(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var list = new List<SparseLinear>();
        if (model is SparseLinear self) list.Add(self);
        foreach (var m in model.modules())
            if (m is SparseLinear l && !list.Contains(l)) list.Add(l);
        return list;
    }

    /// <summary>Makes the model's SparseLinear layers keep their last batch's x and dY (RigL's growth scores need them).</summary>
    public void Attach(nn.Module model)
    {
        foreach (var l in Layers(model)) l.CaptureForGrowth = Rule == GrowthRule.Gradient;
    }

    /// <summary>Whether <paramref name="step"/> updates the topology.</summary>
    public bool IsUpdateStep(long step, long totalSteps)
        => DropSchedule.IsUpdateStep(step, UpdateEvery, DropSchedule.EndStep(EndFraction, totalSteps));

    /// <summary>
    /// Call after backward(). On an update step, drops and grows in every SparseLinear layer of the model and
    /// returns true (then skip the optimizer step, as RigL does); otherwise does nothing and returns false.
    /// </summary>
    public bool Step(nn.Module model, long step, long totalSteps, optim.Optimizer? optimizer = null)
    {
        long tEnd = DropSchedule.EndStep(EndFraction, totalSteps);
        if (!DropSchedule.IsUpdateStep(step, UpdateEvery, tEnd)) return false;
        var layers = Layers(model);
        var states = optimizer is null ? null : OptimizerStates(optimizer);
        var counts = new long[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i];
            string name = $"SparseLinear[{i}] {l.OutFeatures}x{l.InFeatures}";
            if (l.Nnz == (long)l.InFeatures * l.OutFeatures) continue;   // a dense layer (e.g. ERK-capped) stays dense
            long count = DropSchedule.Count(Alpha, step, tEnd, l.Nnz);
            counts[i] = count;
            if (count == 0) continue;
            var w = l.ToCsr();
            var keep = l.Backend.MagnitudePruneDrop([w], [name], [count])[0];
            int[] grown;
            if (Rule == GrowthRule.Gradient)
            {
                if (l.LastX is null || l.LastDy is null)
                    throw new InvalidOperationException($"SparseConnectivity.Step: {name} has no captured batch (x and dY); call " +
                        $"Attach(model) before the training loop, and Step after backward().");
                int b = l.LastBatch;
                var dy = DenseTensor.FromArray(b, l.OutFeatures, l.LastDy);
                var x = DenseTensor.FromArray(b, l.InFeatures, l.LastX);
                grown = l.Backend.GradientGrow(w, keep, dy, x, count, name);
            }
            else grown = l.Backend.RandomGrow(w, keep, count, LayerSurgery.GrowSeed(Seed, i, step), name);

            // state arrays carried through the rebuild: the gradient, then the optimizer's per-weight tensors
            var tensors = new List<Tensor>();
            if (l.Values.grad is { } g && !g.IsInvalid) tensors.Add(g);
            if (states is not null && states.TryGetValue(l.Values.Handle, out var st)) tensors.AddRange(st);
            var arrays = new List<float[]>();
            foreach (var t in tensors)
            {
                if (t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.numel() != l.Nnz || t.device_type != DeviceType.CPU)
                    throw new InvalidOperationException($"SparseConnectivity.Step: {name}: a gradient or optimizer state tensor is " +
                        $"{t.dtype} [{string.Join(", ", t.shape)}] on {t.device}; expected float32 [{l.Nnz}] on the CPU.");
                arrays.Add(TensorMemory.Floats(t).ToArray());
            }
            var (rebuilt, newState) = l.Backend.CsrRebuild(w, arrays, keep, grown, name);
            l.SetPattern(rebuilt);
            using (no_grad())
                for (int k = 0; k < tensors.Count; k++) newState[k].AsSpan().CopyTo(TensorMemory.Floats(tensors[k]));
        }
        LastCounts = counts;
        return true;
    }

    /// <summary>The per-weight state tensors of each parameter (by handle) of TorchSharp's SGD and Adam.</summary>
    private static Dictionary<IntPtr, List<Tensor>> OptimizerStates(optim.Optimizer optimizer)
    {
        var result = new Dictionary<IntPtr, List<Tensor>>();
        if (optimizer is not OptimizerHelper helper)
            throw new NotSupportedException($"SparseConnectivity.Step: optimizer {optimizer.GetType().Name} is not one of TorchSharp's " +
                $"(SGD, Adam); its per-weight state cannot be reached.");
        var parameters = helper.parameters().ToList();
        var states = helper.state_dict().State;   // the live state objects, in parameter order
        if (states.Count != parameters.Count)
            throw new NotSupportedException($"SparseConnectivity.Step: optimizer {optimizer.GetType().Name} has {states.Count} states " +
                $"for {parameters.Count} parameters.");
        for (int i = 0; i < states.Count; i++)
        {
            var list = new List<Tensor>();
            switch (states[i])
            {
                case SGD.State s:
                    if (s.momentum_buffer is { } mb && !mb.IsInvalid) list.Add(mb);
                    break;
                case Adam.State a:
                    foreach (var t in new[] { a.exp_avg, a.exp_avg_sq, a.max_exp_avg_sq })
                        if (t is not null && !t.IsInvalid) list.Add(t);
                    break;
                default:
                    throw new NotSupportedException($"SparseConnectivity.Step: optimizer state {states[i].GetType().FullName} is not " +
                        $"handled (SGD and Adam are); zero the state of grown weights yourself or use SGD/Adam.");
            }
            foreach (var t in list)
                if (!t.shape.SequenceEqual(parameters[i].shape))
                    throw new InvalidOperationException($"SparseConnectivity.Step: optimizer state [{string.Join(", ", t.shape)}] does " +
                        $"not match parameter {i} [{string.Join(", ", parameters[i].shape)}] (states not in parameter order).");
            result[parameters[i].Handle] = list;
        }
        return result;
    }
}
