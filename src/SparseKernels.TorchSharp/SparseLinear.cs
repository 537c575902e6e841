using SparseKernels.Cpu;
using SparseKernels.Sparsity;
using SparseKernels.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Mlp = SparseKernels.Training.Mlp;
using TrainRng = SparseKernels.Training.TrainRng;

namespace SparseKernels.TorchSharp;

/// <summary>
/// A linear layer y = x W^T + b whose weight W (out x in) is sparse, held in CSR form: its nonzero values are the
/// Parameter <c>values</c> (length nnz), so TorchSharp's optimizers, <c>parameters()</c>, <c>state_dict</c> and
/// <c>save</c>/<c>load</c> see only them; the pattern is held in the int32 buffers <c>row_offsets</c> and
/// <c>column_indices</c> (saved and loaded with the state dict). Forward and backward run the engine's CPU SpMM,
/// transposed SpMM and SDDMM (see <see cref="SparseLinearFunction"/>); no dense weight or dense weight gradient is formed.
/// Inputs: contiguous float32 CPU tensors of shape (batch x in).
/// </summary>
public sealed class SparseLinear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter _values;
    private readonly Parameter? _bias;
    private readonly Tensor _rowOffsets, _columnIndices;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    /// <summary>The CPU backend that runs this layer's ops (thread count); settable.</summary>
    public CpuBackend Backend { get; set; } = CpuBackend.Default;

    /// <summary>The nonzero values of W in CSR order (a Parameter of length nnz).</summary>
    public Parameter Values => _values;
    public Parameter? Bias => _bias;
    /// <summary>The CSR row offsets (int32, out + 1) of W: the pattern, a buffer of the module.</summary>
    public Tensor RowOffsets => _rowOffsets;
    /// <summary>The CSR column indices (int32, nnz) of W: the pattern, a buffer of the module.</summary>
    public Tensor ColumnIndices => _columnIndices;
    public int Nnz => (int)_values.shape[0];

    /// <summary>When set (by <see cref="SparseConnectivity.Attach"/>), each forward keeps a copy of x and each backward of dY
    /// (batch-major), for RigL's growth scores.</summary>
    public bool CaptureForGrowth { get; set; }
    internal float[]? LastX { get; set; }
    internal float[]? LastDy { get; set; }
    internal int LastBatch { get; set; }
    public double Density => (double)Nnz / ((double)InFeatures * OutFeatures);

    private SparseLinear(string name, int inFeatures, int outFeatures, int[] rowOffsets, int[] columnIndices, float[] values, float[]? bias)
        : base(name)
    {
        // validates the pattern (ordered, in-range column indices; offsets consistent)
        _ = new CsrMatrix(outFeatures, inFeatures, rowOffsets, columnIndices, values);
        InFeatures = inFeatures; OutFeatures = outFeatures;
        _values = new Parameter(tensor(values, ScalarType.Float32));
        _bias = bias is null ? null : new Parameter(tensor(bias, ScalarType.Float32));
        _rowOffsets = tensor(rowOffsets, ScalarType.Int32);
        _columnIndices = tensor(columnIndices, ScalarType.Int32);
        register_parameter("values", _values);
        if (_bias is not null) register_parameter("bias", _bias);
        register_buffer("row_offsets", _rowOffsets);
        register_buffer("column_indices", _columnIndices);
    }

    /// <summary>
    /// A random pattern with exactly round(density * in * out) nonzeros (uniform over the positions, drawn with the
    /// engine's <see cref="Mlp.RandomPattern"/>), values uniform in +-1/sqrt(fan-in) with fan-in = density * in (the
    /// nonzeros per row on average), bias likewise.
    /// </summary>
    public SparseLinear(int inFeatures, int outFeatures, double density, bool hasBias = true, ulong seed = 0, string name = "SparseLinear")
        : this(name, inFeatures, outFeatures, RandomInit(inFeatures, outFeatures, density, hasBias, seed))
    {
    }

    private SparseLinear(string name, int inFeatures, int outFeatures, (int[] ro, int[] ci, float[] v, float[]? b) init)
        : this(name, inFeatures, outFeatures, init.ro, init.ci, init.v, init.b) { }

    private static (int[], int[], float[], float[]?) RandomInit(int inF, int outF, double density, bool hasBias, ulong seed)
    {
        if (inF <= 0 || outF <= 0) throw new ArgumentOutOfRangeException(nameof(inF), $"SparseLinear needs positive sizes; got in = " +
            $"{inF}, out = {outF}.");
        if (!(density > 0 && density <= 1))
            throw new ArgumentOutOfRangeException(nameof(density), density, "The density must lie in (0, 1].");
        var rng = new TrainRng(seed);
        var p = Mlp.RandomPattern(outF, inF, density, rng);
        double bound = 1.0 / Math.Sqrt(Math.Max(1.0, density * inF));
        var v = new float[p.Nnz];
        for (int i = 0; i < v.Length; i++) v[i] = (float)((2 * rng.NextDouble() - 1) * bound);
        float[]? b = null;
        if (hasBias)
        {
            b = new float[outF];
            for (int i = 0; i < b.Length; i++) b[i] = (float)((2 * rng.NextDouble() - 1) * bound);
        }
        return (p.RowOffsets, p.ColumnIndices, v, b);
    }

    /// <summary>
    /// The layers of an MLP with layer sizes <paramref name="sizes"/> (e.g. 784, 300, 100, 10) at an overall
    /// <paramref name="sparsity"/>, spread over the layers by the engine's <see cref="LayerDensities"/>
    /// (uniform, Erdos-Renyi or ERK), each layer with exactly its count of nonzeros.
    /// </summary>
    public static SparseLinear[] Create(
        IReadOnlyList<int> sizes, double sparsity, DensityDistribution distribution, bool hasBias = true, ulong seed = 0)
    {
        var counts = LayerDensities.Counts(sizes, sparsity, distribution);
        var layers = new SparseLinear[counts.Length];
        for (int i = 0; i < counts.Length; i++)
        {
            double d = (double)counts[i] / ((double)sizes[i] * sizes[i + 1]);
            layers[i] = new SparseLinear(sizes[i], sizes[i + 1], d, hasBias, seed + (ulong)i * 0x9E3779B97F4A7C15UL, $"SparseLinear{i}");
        }
        return layers;
    }

    /// <summary>
    /// A layer with the pattern of <paramref name="mask"/> (out x in; a nonzero or true entry is a kept weight) and the
    /// values of <paramref name="weight"/> (out x in) at it, or zeros when no weight is given.
    /// </summary>
    public static SparseLinear FromMask(Tensor mask, Tensor? weight = null, Tensor? bias = null, string name = "SparseLinear")
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.dim() != 2) throw new ArgumentException($"FromMask: mask has shape [{string.Join(", ", mask.shape)}]; it must be 2-D " +
            $"(out x in).", nameof(mask));
        int outF = (int)mask.shape[0], inF = (int)mask.shape[1];
        if (weight is not null && (weight.dim() != 2 || weight.shape[0] != outF || weight.shape[1] != inF))
            throw new ArgumentException($"FromMask: weight has shape [{string.Join(", ", weight.shape)}]; the mask is " +
                $"{outF}x{inF}.", nameof(weight));
        using var m = mask.to(ScalarType.Bool).cpu().contiguous().to(ScalarType.Float32).contiguous();
        using var wv = weight is null ? zeros(outF, inF) : weight.detach().cpu().to(ScalarType.Float32).contiguous();
        var md = TensorMemory.Floats(m); var wd = TensorMemory.Floats(wv);
        var ro = new int[outF + 1]; var ci = new List<int>(); var vals = new List<float>();
        for (int r = 0; r < outF; r++)
        {
            for (int c = 0; c < inF; c++)
                if (md[r * inF + c] != 0) { ci.Add(c); vals.Add(wd[r * inF + c]); }
            ro[r + 1] = ci.Count;
        }
        return new SparseLinear(name, inF, outF, ro, ci.ToArray(), vals.ToArray(), BiasArray(bias, outF));
    }

    /// <summary>A layer whose pattern is the nonzeros of <paramref name="weight"/> (out x in) and whose values are them.</summary>
    public static SparseLinear FromDense(Tensor weight, Tensor? bias = null, string name = "SparseLinear")
    {
        ArgumentNullException.ThrowIfNull(weight);
        using var mask = weight.detach().ne(0);
        return FromMask(mask, weight, bias, name);
    }

    private static float[]? BiasArray(Tensor? bias, int outF)
    {
        if (bias is null) return null;
        if (bias.dim() != 1 || bias.shape[0] != outF)
            throw new ArgumentException($"bias has shape [{string.Join(", ", bias.shape)}]; it must have {outF} elements.", nameof(bias));
        using var b = bias.detach().cpu().to(ScalarType.Float32).contiguous();
        return TensorMemory.Floats(b).ToArray();
    }

    public override Tensor forward(Tensor x)
    {
        TensorMemory.CheckInput(x, "x", InFeatures, $"SparseLinear {OutFeatures}x{InFeatures}");
        CheckOwnTensors();
        bool grad = is_grad_enabled();
        bool needsX = grad && x.requires_grad, needsW = grad && _values.requires_grad;
        bool capture = CaptureForGrowth && (needsX || needsW);
        var y = SparseLinearFunction.apply(x, _values, this, capture, needsX, needsW)[0];
        if (_bias is null) return y;
        using (y) return y.add(_bias);
    }

    // ------------------------------------------------------------ the engine's plan and the buffers of a call

    private CsrLinear? _plan;
    private readonly Stack<SparseLinearWorkspace> _pool = new();

    /// <summary>
    /// The engine's plan for the current pattern: rebuilt when the pattern buffers differ from the planned pattern (a
    /// comparison of nnz + out + 1 integers per call, 1/batch of the multiply's reads: a load_state_dict or a direct
    /// write to the buffers is seen) or when the backend's thread count changes.
    /// </summary>
    private CsrLinear CurrentPlan()
    {
        var ro = TensorMemory.Ints(_rowOffsets);
        var ci = TensorMemory.Ints(_columnIndices);
        var plan = _plan;
        int threads = Backend.MaxDegreeOfParallelism;
        if (plan is not null && plan.Threads == threads && plan.Matches(ro, ci)) return plan;
        try
        {
            return _plan = new CsrLinear(OutFeatures, InFeatures, ro, ci, threads);
        }
        catch (CsrFormatException e)
        {
            throw new InvalidOperationException($"SparseLinear {OutFeatures}x{InFeatures}: the pattern buffers (row_offsets, " +
                $"column_indices) are not a valid CSR pattern: {e.Message}", e);
        }
    }

    /// <summary>A workspace sized for <paramref name="batch"/>, with the current plan (the layer's pool, else a new one).</summary>
    internal SparseLinearWorkspace Rent(int batch, bool needsX, bool needsW)
    {
        var plan = CurrentPlan();
        SparseLinearWorkspace? ws;
        lock (_pool)
        {
            if (!_pool.TryPop(out ws)) ws = new SparseLinearWorkspace(this);
            ws.Pooled = false;
        }
        ws.Size(plan, batch, needsX, needsW);
        return ws;
    }

    /// <summary>Gives a workspace back to the pool (once).</summary>
    internal void Return(SparseLinearWorkspace ws)
    {
        lock (_pool)
        {
            if (ws.Pooled) return;
            ws.Pooled = true;
            _pool.Push(ws);
        }
    }

    /// <summary>Keeps a batch-major copy of x for RigL's growth scores (the array reused while the shape stays).</summary>
    internal void CaptureX(Tensor x, int batch)
    {
        var src = TensorMemory.Floats(x);
        var a = LastX is { } last && last.Length == src.Length ? last : new float[src.Length];
        src.CopyTo(a);
        LastX = a; LastDy = null; LastBatch = batch;
    }

    /// <summary>Keeps a batch-major copy of dy (read through its strides) when it matches the captured x.</summary>
    internal unsafe void CaptureDy(float* dy, long stride0, long stride1, int batch)
    {
        if (LastBatch != batch) return;
        int n = batch * OutFeatures;
        var a = LastDy is { } last && last.Length == n ? last : new float[n];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < OutFeatures; o++) a[b * OutFeatures + o] = dy[b * stride0 + o * stride1];
        LastDy = a;
    }

    private void CheckOwnTensors()
    {
        if (_values.device_type != DeviceType.CPU || _values.dtype != ScalarType.Float32 || !_values.is_contiguous())
            throw new NotSupportedException($"SparseLinear {OutFeatures}x{InFeatures}: its values Parameter is {_values.dtype} on " +
                $"{_values.device}; it must stay float32 on the CPU.");
        if (_rowOffsets.dtype != ScalarType.Int32 || _columnIndices.dtype != ScalarType.Int32
            || _columnIndices.shape[0] != _values.shape[0] || _rowOffsets.shape[0] != OutFeatures + 1)
            throw new InvalidOperationException($"SparseLinear {OutFeatures}x{InFeatures}: the pattern buffers (row_offsets, " +
                $"column_indices) no longer match the values ({_values.shape[0]}).");
    }

    /// <summary>The current W as an engine CSR matrix: the pattern from the buffers, the values copied from the Parameter.</summary>
    internal CsrMatrix Snapshot(Tensor values)
    {
        var ro = TensorMemory.Ints(_rowOffsets).ToArray();
        var ci = TensorMemory.Ints(_columnIndices).ToArray();
        var v = TensorMemory.Floats(values).ToArray();
        return new CsrMatrix(OutFeatures, InFeatures, ro, ci, v);
    }

    /// <summary>The engine CSR matrix of W (copies of the pattern and values).</summary>
    public CsrMatrix ToCsr() => Snapshot(_values);

    /// <summary>W as a dense out x in tensor (zeros off the pattern).</summary>
    public Tensor ToDense()
    {
        var d = ToCsr().ToDense();
        return tensor(d.HostData, [OutFeatures, InFeatures], ScalarType.Float32);
    }

    /// <summary>The 0/1 mask (out x in, float32) of the pattern.</summary>
    public Tensor Mask()
    {
        var csr = ToCsr();
        var m = new float[OutFeatures * InFeatures];
        for (int r = 0; r < OutFeatures; r++)
            for (int p = csr.RowOffsets[r]; p < csr.RowOffsets[r + 1]; p++) m[r * InFeatures + csr.ColumnIndices[p]] = 1;
        return tensor(m, [OutFeatures, InFeatures], ScalarType.Float32);
    }

    /// <summary>Replaces the pattern (same nnz) in place: the buffers are overwritten, the values Parameter too (no new tensors, so
    /// optimizers keep their references).</summary>
    internal void SetPattern(CsrMatrix w)
    {
        if (w.Rows != OutFeatures || w.Cols != InFeatures || w.Nnz != Nnz)
            throw new ArgumentException($"SetPattern: a {w.Rows}x{w.Cols} matrix with {w.Nnz} nonzeros for a {OutFeatures}x{InFeatures} " +
                $"layer with {Nnz}.");
        using (no_grad())
        {
            w.RowOffsets.AsSpan().CopyTo(TensorMemory.Ints(_rowOffsets));
            w.ColumnIndices.AsSpan().CopyTo(TensorMemory.Ints(_columnIndices));
            w.Values.AsSpan().CopyTo(TensorMemory.Floats(_values));
        }
        _plan = null;
    }
}
