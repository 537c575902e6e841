using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>
/// A layer with a weight matrix, the layers the sparsity methods act on: a fully connected layer (y = W x + b, W out x
/// in) or, in the layer stack, a convolution whose weight is the out_channels x (in_channels * kh * kw) matrix. W is
/// dense or CSR; <see cref="In"/> and <see cref="Out"/> are the matrix's columns and rows.
/// </summary>
public sealed class WeightLayer : ILayer
{
    internal WeightLayer(int inF, int outF, DenseTensor? dense, SparseWeight? sparse, DenseTensor bias, int index,
        Conv2dGeometry? conv = null)
    {
        In = inF; Out = outF; Sparse = sparse; DenseWeightTensor = dense; Index = index; Conv = conv;
        Weight = sparse is not null ? new Parameter($"layer{index}.weight(csr)", sparse.Values) : new Parameter($"layer{index}.weight",
            Var.Parameter(dense!));
        Bias = new Parameter($"layer{index}.bias", Var.Parameter(bias));
    }

    /// <summary>The layer's 0-based position among the model's weight layers (<see cref="Sequential.Layers"/>).</summary>
    public int Index { get; }
    /// <summary>Input features (columns of the weight matrix).</summary>
    public int In { get; }
    /// <summary>Output features (rows of the weight matrix).</summary>
    public int Out { get; }
    /// <summary>The convolution's geometry, or null for a fully connected layer.</summary>
    public Conv2dGeometry? Conv { get; }
    /// <inheritdoc/>
    public string Name => $"layer{Index}";
    /// <inheritdoc/>
    public IEnumerable<Parameter> Parameters => [Weight, Bias];
    /// <summary>Whether the weight is CSR (<see cref="Sparse"/>) rather than dense.</summary>
    public bool IsSparse => Sparse is not null;
    /// <summary>The CSR weight of a sparse layer, or null for a dense one.</summary>
    public SparseWeight? Sparse { get; private set; }
    internal DenseTensor? DenseWeightTensor { get; private set; }
    /// <summary>The weight parameter (dense out x in, or the CSR values 1 x nnz).</summary>
    public Parameter Weight { get; private set; }
    /// <summary>When set, <see cref="Forward"/> keeps the layer's input and its pre-bias output (whose gradient is dY
    /// after backward) in <see cref="LastInput"/>/<see cref="LastOutput"/>, for gradient-based growth (RigL, SNIP).</summary>
    public bool CaptureActivations { get; set; }
    /// <summary>The input of the last forward pass when <see cref="CaptureActivations"/> is set (in x batch).</summary>
    public Var? LastInput { get; private set; }
    /// <summary>The pre-bias output of the last forward pass when <see cref="CaptureActivations"/> is set (out x batch).</summary>
    public Var? LastOutput { get; private set; }

    /// <summary>
    /// Replaces the weight (a new CSR pattern, or dense to CSR and back: sparsity methods) and its optimizer state
    /// (one tensor per slot, as long as the new weight; empty = fresh). The weight is given on the host and moved to
    /// the model's backend; the old weight, its gradient and its state are disposed.
    /// </summary>
    public void ReplaceWeight(ITensorBackend backend, CsrMatrix? hostCsr, DenseTensor? hostDense, DenseTensor[] state)
    {
        if ((hostCsr is null) == (hostDense is null)) throw new ArgumentException($"layer{Index}: give either a CSR or a dense weight.");
        int rows = hostCsr?.Rows ?? hostDense!.Rows, cols = hostCsr?.Cols ?? hostDense!.Cols;
        if (rows != Out || cols != In) throw new ArgumentException($"layer{Index} is {Out}x{In} but the new weight is {rows}x{cols}.");
        var oldSparse = Sparse; var oldDense = DenseWeightTensor; var oldWeight = Weight;
        if (hostCsr is not null)
        {
            Sparse = new SparseWeight(hostCsr, backend);
            DenseWeightTensor = null;
            Weight = new Parameter($"layer{Index}.weight(csr)", Sparse.Values);
        }
        else
        {
            var d = backend.Device is null ? hostDense! : backend.Upload(hostDense!);
            Sparse = null;
            DenseWeightTensor = d;
            Weight = new Parameter($"layer{Index}.weight", Var.Parameter(d));
        }
        foreach (var s in state)
            if (s.Length != Weight.Value.Length) throw new ArgumentException($"layer{Index}: optimizer state of {s.Length} values for {Weight.Value.Length} weights.");
        Weight.State = state;
        oldWeight.Var.ZeroGrad();
        foreach (var s in oldWeight.State) s.Dispose();
        oldSparse?.Dispose();
        if (oldSparse is null && oldDense is not null && oldDense.IsOnDevice) oldDense.Dispose();
    }
    /// <summary>The bias parameter (out x 1).</summary>
    public Parameter Bias { get; }
    /// <summary>Stored weights (nnz for a sparse layer, in*out for a dense one).</summary>
    public long WeightCount => Sparse?.Nnz ?? (long)In * Out;

    /// <summary>Records y = W x + b on the tape for <paramref name="x"/> (in x batch); returns out x batch.</summary>
    public Var Forward(Tape t, Var x)
    {
        if (Conv is { } g) return ConvForward(t, x, g);
        var y = Sparse is not null ? Fn.SparseLinear(t, x, Sparse) : Fn.Linear(t, x, Weight.Var);
        if (CaptureActivations) { LastInput = x; LastOutput = y; }
        return Fn.BiasAdd(t, y, Bias.Var);
    }

    /// <summary>
    /// A convolution's bound on its im2col matrix, in floats (default 2^23 = 32 MiB): a batch whose columns
    /// ((C * kh * kw) x (batch * Ho * Wo)) fit is one im2col kept from the forward to the backward pass (and captured for
    /// RigL's gradient growth); a larger one is convolved in chunks of samples whose columns fit, one chunk at a time,
    /// recomputed in the backward pass (<see cref="Fn.Conv2dChunked"/>; no gradient growth on such a batch).
    /// </summary>
    public long MaxColumnFloats { get; set; } = 1L << 23;

    private Var ConvForward(Tape t, Var x, Conv2dGeometry g)
    {
        int plane = g.OutHeight * g.OutWidth;
        long perSample = (long)g.ColumnRows * plane;
        int batch = x.Value.Cols / (g.Height * g.Width);
        Var y;
        if (perSample * batch <= MaxColumnFloats)
        {
            var col = Fn.Im2Col(t, x, g);
            y = Sparse is not null ? Fn.SparseLinear(t, col, Sparse) : Fn.Linear(t, col, Weight.Var);
            if (CaptureActivations) { LastInput = col; LastOutput = y; }
        }
        else
        {
            int chunk = (int)Math.Clamp(MaxColumnFloats / perSample, 1, batch);
            y = Fn.Conv2dChunked(t, x, g, Sparse, Sparse is null ? Weight.Var : null, chunk);
            if (CaptureActivations) { LastInput = null; LastOutput = null; }
        }
        return Fn.BiasAdd(t, y, Bias.Var);
    }

    /// <inheritdoc/>
    public ActivationShape OutputShape(ActivationShape input)
    {
        if (Conv is { } g)
        {
            if (input != new ActivationShape(g.InChannels, g.Height, g.Width))
                throw new ArgumentException($"{Name} takes {g.InChannels}x{g.Height}x{g.Width} inputs but gets {input}.", nameof(input));
            return new ActivationShape(g.OutChannels, g.OutHeight, g.OutWidth);
        }
        if (input.Features != In) throw new ArgumentException($"{Name} takes {In} inputs but gets {input}.", nameof(input));
        return ActivationShape.Flat(Out);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Sparse?.Dispose();
        if (Weight.Value.IsOnDevice && Sparse is null) Weight.Value.Dispose();
        if (Bias.Value.IsOnDevice) Bias.Value.Dispose();
        foreach (var p in new[] { Weight, Bias }) { p.Var.ZeroGrad(); foreach (var s in p.State) s.Dispose(); }
    }
}
