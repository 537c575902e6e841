using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>
/// A trainable array: a dense weight (out x in), a bias (out x 1) or a sparse layer's CSR values (1 x nnz),
/// with the optimizer's per-element state (<see cref="State"/>: one tensor per slot, same length; for a
/// sparse layer one entry per nonzero, so a topology update can carry or zero it).
/// </summary>
public sealed class Parameter(string name, Var var)
{
    /// <summary>The parameter's name, e.g. <c>layer0.weight</c> or <c>layer1.bias</c>.</summary>
    public string Name { get; } = name;
    /// <summary>The autograd leaf holding the value and, after backward, the gradient.</summary>
    public Var Var { get; } = var;
    /// <summary>The value (dense weight out x in, bias out x 1, or CSR values 1 x nnz).</summary>
    public DenseTensor Value => Var.Value;
    /// <summary>The gradient, same shape as <see cref="Value"/>, or null when none was computed.</summary>
    public DenseTensor? Grad => Var.Grad;
    /// <summary>Optimizer state slots (SGD: velocity; Adam: m, v), allocated by the optimizer on first use.</summary>
    public DenseTensor[] State { get; set; } = [];
}
