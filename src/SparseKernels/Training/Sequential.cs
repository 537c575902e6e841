using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>
/// A sequential model: layers applied in order, each an <see cref="ILayer"/>, built from a <see cref="ModelSpec"/>
/// on one backend. The weight layers (<see cref="Layers"/>: fully connected and convolution, dense or CSR) are what
/// the optimizers, the sparsity methods and checkpoints act on; <see cref="Modules"/> holds every layer. The input is
/// a feature-major batch (features x batch); the output is the logits (classes x batch).
/// </summary>
public sealed class Sequential : IDisposable
{
    private readonly List<ILayer> _modules = [];
    private readonly List<WeightLayer> _layers = [];

    private Sequential(ITensorBackend backend, ModelSpec spec) { Backend = backend; Spec = spec; }

    /// <summary>The backend the model lives on.</summary>
    public ITensorBackend Backend { get; }
    /// <summary>The architecture (checkpoints store its <see cref="ModelSpec.Text"/>).</summary>
    public ModelSpec Spec { get; }
    /// <summary>Every layer, input first.</summary>
    public IReadOnlyList<ILayer> Modules => _modules;
    /// <summary>The weight layers, input first (<see cref="WeightLayer.Index"/> is the position here).</summary>
    public IReadOnlyList<WeightLayer> Layers => _layers;
    /// <summary>Every weight layer's weight and bias, in layer order.</summary>
    public IEnumerable<Parameter> Parameters => _layers.SelectMany(l => new[] { l.Weight, l.Bias });
    /// <summary>Features per input sample.</summary>
    public int InputFeatures => Spec.Input.Features;
    /// <summary>Outputs (classes).</summary>
    public int Classes => Spec.Classes;
    /// <summary>The layer sizes of an MLP (<see cref="ModelSpec.MlpSizes"/>), inputs first and outputs last; throws <see
    /// cref="InvalidOperationException"/> for another model.</summary>
    public int[] Sizes => Spec.MlpSizes
        ?? throw new InvalidOperationException($"The model {Spec.Text} is not an MLP; it has no layer sizes.");

    /// <summary>
    /// A new model of architecture <paramref name="spec"/>. <paramref name="sparsity"/>[i] in [0, 1) is weight layer
    /// i's fraction of zero weights (0 = dense layer). The pattern (exactly round((1 - s) * weights) nonzeros,
    /// uniformly at random) and the weights come from <paramref name="rng"/>, layer after layer; biases start at 0.
    /// </summary>
    public static Sequential Create(ITensorBackend backend, ModelSpec spec, IReadOnlyList<double> sparsity, IWeightInitializer init,
        TrainRng rng)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var shapes = spec.WeightMatrices;
        if (sparsity.Count != shapes.Count) throw new ArgumentException($"{shapes.Count} layers but {sparsity.Count} sparsity values.",
            nameof(sparsity));
        var hostLayers = new List<(DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias)>();
        for (int i = 0; i < shapes.Count; i++)
        {
            var (outF, inF) = shapes[i];
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
                var pattern = Mlp.RandomPattern(outF, inF, 1 - s, rng);
                init.Initialize(pattern.Values, new LayerInitContext(inF, outF, pattern), rng);
                hostLayers.Add((null, pattern, DenseTensor.Zeros(outF, 1)));
            }
        }
        return FromHost(backend, spec, hostLayers);
    }

    /// <summary>Builds the model on <paramref name="backend"/> from the weight layers' host weights (checkpoints, copies); throws <see
    /// cref="ArgumentException"/> when they do not fit <paramref name="spec"/>.</summary>
    public static Sequential FromHost(ITensorBackend backend, ModelSpec spec,
        IReadOnlyList<(DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias)> layers)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(layers);
        var shapes = spec.WeightMatrices;
        if (layers.Count != shapes.Count) throw new ArgumentException($"The model {spec.Text} has {shapes.Count} weight layers but {layers.Count} were given.", nameof(layers));
        var m = new Sequential(backend, spec);
        try
        {
            int k = 0;
            if (!spec.Input.IsFlat) m._modules.Add(new FlattenLayer(spec.Input, toImages: true));
            foreach (var ls in spec.Layers)
            {
                if (ls.Kind != LayerKind.Linear && ls.Kind != LayerKind.Conv2d) { m._modules.Add(spec.CreateModule(ls)); continue; }
                var (dense, csr, bias) = layers[k];
                int inF = dense?.Cols ?? csr!.Cols, outF = dense?.Rows ?? csr!.Rows;
                if (outF != shapes[k].Rows || inF != shapes[k].Cols)
                    throw new ArgumentException($"Layer {k} ({ls.Token}) is {shapes[k].Rows}x{shapes[k].Cols} in {spec.Text} but the weight given is {outF}x{inF}.", nameof(layers));
                if (bias.Length != outF) throw new ArgumentException($"Layer {k}: bias has {bias.Length} values for {outF} outputs.",
                    nameof(layers));
                var b = backend.Device is null ? bias : backend.Upload(bias);
                var layer = csr is not null
                    ? new WeightLayer(inF, outF, null, new SparseWeight(csr, backend), b, k, ls.Conv)
                    : new WeightLayer(inF, outF, backend.Device is null ? dense : backend.Upload(dense!), null, b, k, ls.Conv);
                m._layers.Add(layer);
                m._modules.Add(layer);
                k++;
            }
        }
        catch { m.Dispose(); throw; }
        return m;
    }

    /// <summary>The logits (classes x batch) for a feature-major batch (features x batch).</summary>
    public Var Forward(Tape t, Var x)
    {
        var h = x;
        foreach (var module in _modules) h = module.Forward(t, h);
        return h;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var l in _modules) l.Dispose();
        _modules.Clear();
        _layers.Clear();
    }
}
