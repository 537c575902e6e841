using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>
/// A node of the autograd graph (micrograd-sized): a value, its gradient once backward has reached it,
/// the nodes it was computed from and the closure that pushes its gradient to them. Values and gradients
/// are <see cref="DenseTensor"/>s on the tape's backend (host or device).
/// </summary>
public sealed class Var
{
    internal Var(DenseTensor value, Var[] parents, Action<Var>? backward, bool requiresGrad, bool owned)
    {
        Value = value; Parents = parents; BackwardFn = backward; RequiresGrad = requiresGrad; Owned = owned;
    }

    /// <summary>The node's value, on the tape's backend.</summary>
    public DenseTensor Value { get; }
    /// <summary>The accumulated gradient (same shape as <see cref="Value"/>), or null if none reached this node.</summary>
    public DenseTensor? Grad { get; internal set; }
    /// <summary>Whether backward computes a gradient for this node (false for constants and for nodes computed only from them).</summary>
    public bool RequiresGrad { get; }
    internal Var[] Parents { get; }
    internal Action<Var>? BackwardFn { get; }
    /// <summary>Whether the tape owns (and disposes) the value; parameters and inputs are owned by their holders.</summary>
    internal bool Owned { get; }

    /// <summary>A leaf that persists across tapes (a parameter): its value is not disposed with a tape.</summary>
    public static Var Parameter(DenseTensor value) => new(value, [], null, true, owned: false);

    /// <summary>Drops (and disposes) the gradient, e.g. after an optimizer step.</summary>
    public void ZeroGrad() { Grad?.Dispose(); Grad = null; }
}

/// <summary>
/// Records the nodes of one forward pass on a backend; <see cref="Backward"/> sorts them topologically and
/// runs their closures in reverse; gradients accumulate (a node used twice receives the sum). Disposing
/// the tape frees the values and gradients of the nodes it created (not those of parameters or inputs).
/// </summary>
public sealed class Tape(ITensorBackend backend) : IDisposable
{
    private readonly List<Var> _created = [];

    /// <summary>The backend the recorded ops run on.</summary>
    public ITensorBackend Backend { get; } = backend;

    /// <summary>An input that needs no gradient (not owned: the caller disposes it).</summary>
    public Var Constant(DenseTensor value) => new(value, [], null, false, owned: false);

    /// <summary>An input whose gradient is wanted (not owned).</summary>
    public Var Input(DenseTensor value) => new(value, [], null, true, owned: false);

    /// <summary>A node computed by an op; owned by the tape.</summary>
    public Var Record(DenseTensor value, Var[] parents, Action<Var> backward)
    {
        bool requires = parents.Any(p => p.RequiresGrad);
        var v = new Var(value, parents, requires ? backward : null, requires, owned: true);
        _created.Add(v);
        return v;
    }

    /// <summary>Adds <paramref name="g"/> to <paramref name="v"/>'s gradient, taking ownership of <paramref name="g"/>.</summary>
    public void Accumulate(Var v, DenseTensor g)
    {
        if (!v.RequiresGrad) { g.Dispose(); return; }
        if (v.Grad is null) { v.Grad = g; return; }
        Backend.AddInPlace(v.Grad, g);
        g.Dispose();
    }

    /// <summary>Backpropagates from <paramref name="root"/> with seed gradient <paramref name="seed"/> (copied; default: ones).</summary>
    public void Backward(Var root, DenseTensor? seed = null)
    {
        var order = new List<Var>();
        var seen = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Var Node, bool Expanded)>();
        stack.Push((root, false));
        while (stack.Count > 0)   // iterative post-order DFS: parents before children in `order`
        {
            var (node, expanded) = stack.Pop();
            if (expanded) { order.Add(node); continue; }
            if (!seen.Add(node)) continue;
            stack.Push((node, true));
            foreach (var p in node.Parents) if (p.RequiresGrad && !seen.Contains(p)) stack.Push((p, false));
        }
        Accumulate(root, seed is null ? Backend.Full(root.Value.Rows, root.Value.Cols, 1f) : Backend.Copy(seed));
        for (int i = order.Count - 1; i >= 0; i--)
            if (order[i].Grad is not null) order[i].BackwardFn?.Invoke(order[i]);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var v in _created) { v.Value.Dispose(); v.Grad?.Dispose(); }
        _created.Clear();
    }
}
