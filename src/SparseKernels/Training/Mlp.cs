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

/// <summary>One layer of an <see cref="Mlp"/>: y = W x + b, W dense or CSR.</summary>
public sealed class MlpLayer : IDisposable
{
    internal MlpLayer(int inF, int outF, DenseTensor? dense, SparseWeight? sparse, DenseTensor bias, int index)
    {
        In = inF; Out = outF; Sparse = sparse; DenseWeightTensor = dense; Index = index;
        Weight = sparse is not null ? new Parameter($"layer{index}.weight(csr)", sparse.Values) : new Parameter($"layer{index}.weight", Var.Parameter(dense!));
        Bias = new Parameter($"layer{index}.bias", Var.Parameter(bias));
    }

    /// <summary>The layer's 0-based position in the model.</summary>
    public int Index { get; }
    /// <summary>Input features.</summary>
    public int In { get; }
    /// <summary>Output features.</summary>
    public int Out { get; }
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
        var y = Sparse is not null ? Fn.SparseLinear(t, x, Sparse) : Fn.Linear(t, x, Weight.Var);
        if (CaptureActivations) { LastInput = x; LastOutput = y; }
        return Fn.BiasAdd(t, y, Bias.Var);
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

/// <summary>
/// A multilayer perceptron of any sizes, ReLU between layers, each layer dense or sparse (uniform sparsity,
/// pattern drawn from the seed). Activations are feature-major (features x batch); the output is the logits.
/// </summary>
public sealed class Mlp : IDisposable
{
    private readonly List<MlpLayer> _layers = [];

    private Mlp(ITensorBackend backend) { Backend = backend; }

    /// <summary>The backend the model lives on.</summary>
    public ITensorBackend Backend { get; }
    /// <summary>The layers, input first.</summary>
    public IReadOnlyList<MlpLayer> Layers => _layers;
    /// <summary>Every layer's weight and bias, in layer order.</summary>
    public IEnumerable<Parameter> Parameters => _layers.SelectMany(l => new[] { l.Weight, l.Bias });
    /// <summary>The layer sizes, inputs first and outputs last.</summary>
    public int[] Sizes => [_layers[0].In, .. _layers.Select(l => l.Out)];

    /// <summary>
    /// A new MLP. <paramref name="sparsity"/>[i] in [0, 1) is layer i's fraction of zero weights (0 = dense layer).
    /// The pattern (exactly round((1 - s) * in * out) nonzeros, uniformly at random) and the weights come from
    /// <paramref name="rng"/>; biases start at 0.
    /// </summary>
    public static Mlp Create(ITensorBackend backend, IReadOnlyList<int> sizes, IReadOnlyList<double> sparsity, IWeightInitializer init, TrainRng rng)
    {
        if (sizes.Count < 2) throw new ArgumentException($"An MLP needs at least an input and an output size; got {sizes.Count} size(s).", nameof(sizes));
        for (int i = 0; i < sizes.Count; i++)
            if (sizes[i] <= 0) throw new ArgumentException($"Layer size {i} is {sizes[i]}; sizes must be positive.", nameof(sizes));
        if (sparsity.Count != sizes.Count - 1) throw new ArgumentException($"{sizes.Count - 1} layers but {sparsity.Count} sparsity values.", nameof(sparsity));
        var hostLayers = new List<(DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias)>();
        for (int i = 0; i + 1 < sizes.Count; i++)
        {
            int inF = sizes[i], outF = sizes[i + 1];
            double s = sparsity[i];
            if (!(s >= 0 && s < 1)) throw new ArgumentException($"Layer {i}: sparsity {s} must lie in [0, 1).", nameof(sparsity));
            if (s == 0)
            {
                var w = DenseTensor.Zeros(outF, inF);
                init.Initialize(w.HostData, new LayerInitContext(inF, outF, null), rng);
                hostLayers.Add((w, null, DenseTensor.Zeros(outF, 1)));
            }
            else
            {
                var pattern = RandomPattern(outF, inF, 1 - s, rng);
                init.Initialize(pattern.Values, new LayerInitContext(inF, outF, pattern), rng);
                hostLayers.Add((null, pattern, DenseTensor.Zeros(outF, 1)));
            }
        }
        return FromHost(backend, hostLayers);
    }

    /// <summary>Builds the model on <paramref name="backend"/> from host weights (used by checkpoints).</summary>
    public static Mlp FromHost(ITensorBackend backend, IReadOnlyList<(DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias)> layers)
    {
        var m = new Mlp(backend);
        try
        {
            for (int i = 0; i < layers.Count; i++)
            {
                var (dense, csr, bias) = layers[i];
                int inF = dense?.Cols ?? csr!.Cols, outF = dense?.Rows ?? csr!.Rows;
                if (bias.Length != outF) throw new ArgumentException($"Layer {i}: bias has {bias.Length} values for {outF} outputs.");
                if (i > 0 && inF != m._layers[i - 1].Out) throw new ArgumentException($"Layer {i} takes {inF} inputs but layer {i - 1} gives {m._layers[i - 1].Out}.");
                var b = backend.Device is null ? bias : backend.Upload(bias);
                if (csr is not null) m._layers.Add(new MlpLayer(inF, outF, null, new SparseWeight(csr, backend), b, i));
                else m._layers.Add(new MlpLayer(inF, outF, backend.Device is null ? dense : backend.Upload(dense!), null, b, i));
            }
        }
        catch { m.Dispose(); throw; }
        return m;
    }

    /// <summary>A uniformly random out x in pattern with exactly round(density * in * out) nonzeros (selection sampling), values 0.</summary>
    public static CsrMatrix RandomPattern(int rows, int cols, double density, TrainRng rng)
    {
        long total = (long)rows * cols;
        long need = Math.Max(1, (long)Math.Round(density * total));
        var offsets = new int[rows + 1];
        var ci = new List<int>((int)need);
        long left = total;
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++, left--)
                if (rng.NextDouble() * left < need) { ci.Add(c); need--; }
            offsets[r + 1] = ci.Count;
        }
        return new CsrMatrix(rows, cols, offsets, ci.ToArray(), new float[ci.Count]);
    }

    /// <summary>The logits (classes x batch) for a feature-major batch.</summary>
    public Var Forward(Tape t, Var x)
    {
        var h = x;
        for (int i = 0; i < _layers.Count; i++)
        {
            h = _layers[i].Forward(t, h);
            if (i + 1 < _layers.Count) h = Fn.Relu(t, h);
        }
        return h;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        _layers.Clear();
    }
}
