using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>Boundary checks shared by <see cref="CpuReference"/> and <see cref="CpuBackend"/>.</summary>
internal static class Shapes
{
    public static void HostDense(DenseTensor t, string op, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.IsOnDevice)
            throw new ArgumentException($"{op}: {name} ({t.Rows}x{t.Cols}) lives on device '{t.Device!.Name}'; the CPU backend needs host tensors (call ToHost()).", name);
    }

    public static void HostCsr(CsrMatrix m, string op, string name)
    {
        ArgumentNullException.ThrowIfNull(m, name);
        if (m.IsOnDevice)
            throw new ArgumentException($"{op}: {name} ({m.Rows}x{m.Cols} CSR) lives on device '{m.Device!.Name}'; the CPU backend needs host matrices (call ToHost()).", name);
    }

    public static (int M, int K, int N) DenseGemm(DenseTensor a, DenseTensor b, bool transposeA, bool transposeB)
    {
        HostDense(a, "DenseGemm", "a");
        HostDense(b, "DenseGemm", "b");
        int m = transposeA ? a.Cols : a.Rows, ka = transposeA ? a.Rows : a.Cols;
        int kb = transposeB ? b.Cols : b.Rows, n = transposeB ? b.Rows : b.Cols;
        if (ka != kb)
            throw new ArgumentException(
                $"DenseGemm: inner dimensions differ: a is {a.Rows}x{a.Cols}{(transposeA ? " (transposed: " + m + "x" + ka + ")" : "")}, " +
                $"b is {b.Rows}x{b.Cols}{(transposeB ? " (transposed: " + kb + "x" + n + ")" : "")}; op(a).Cols {ka} must equal op(b).Rows {kb}.");
        return (m, ka, n);
    }

    public static void SpmmCsr(CsrMatrix a, DenseTensor b)
    {
        HostCsr(a, "SpmmCsr", "a");
        HostDense(b, "SpmmCsr", "b");
        if (a.Cols != b.Rows)
            throw new ArgumentException($"SpmmCsr: a is {a.Rows}x{a.Cols} (CSR) and b is {b.Rows}x{b.Cols}; a.Cols {a.Cols} must equal b.Rows {b.Rows}.");
    }

    public static void SpmmCsrTransposed(CsrMatrix a, DenseTensor b)
    {
        HostCsr(a, "SpmmCsrTransposed", "a");
        HostDense(b, "SpmmCsrTransposed", "b");
        if (a.Rows != b.Rows)
            throw new ArgumentException($"SpmmCsrTransposed: a is {a.Rows}x{a.Cols} (CSR, used as a^T {a.Cols}x{a.Rows}) and b is {b.Rows}x{b.Cols}; a.Rows {a.Rows} must equal b.Rows {b.Rows}.");
    }

    public static void SpmmCsrInto(CsrMatrix a, DenseTensor b, DenseTensor c)
    {
        SpmmCsr(a, b);
        Output("SpmmCsrInto", c, a.Rows, b.Cols, b, a, transposed: false);
    }

    public static void SpmmCsrTransposedInto(CsrMatrix a, DenseTensor b, DenseTensor c)
    {
        SpmmCsrTransposed(a, b);
        Output("SpmmCsrTransposedInto", c, a.Cols, b.Cols, b, a, transposed: true);
    }

    public static void SddmmCsrInto(CsrMatrix pattern, DenseTensor x, DenseTensor y, int values)
    {
        SddmmCsr(pattern, x, y);
        if (values != pattern.Nnz)
            throw new ArgumentException(
                $"SddmmCsrInto: values has length {values}; the {pattern.Rows}x{pattern.Cols} pattern has {pattern.Nnz} nonzeros " +
                "and needs one value each.",
                nameof(values));
    }

    /// <summary>The output of an Into form: a host tensor of the product's shape that is not the dense input itself.</summary>
    private static void Output(string op, DenseTensor c, int rows, int cols, DenseTensor input, CsrMatrix a, bool transposed)
    {
        HostDense(c, op, "c");
        if (c.Rows != rows || c.Cols != cols)
        {
            string used = transposed ? $", used as a^T {a.Cols}x{a.Rows}" : "";
            throw new ArgumentException(
                $"{op}: c is {c.Rows}x{c.Cols}; a is {a.Rows}x{a.Cols} (CSR{used}) and b is {input.Rows}x{input.Cols}, " +
                $"so c must be {rows}x{cols}.",
                nameof(c));
        }
        if (ReferenceEquals(c.HostData, input.HostData))
            throw new ArgumentException(
                $"{op}: c ({c.Rows}x{c.Cols}) shares its array with b; the output must be a separate buffer.", nameof(c));
    }

    public static void SddmmCsr(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        HostCsr(pattern, "SddmmCsr", "pattern");
        HostDense(x, "SddmmCsr", "x");
        HostDense(y, "SddmmCsr", "y");
        if (x.Rows != pattern.Rows || y.Rows != pattern.Cols || x.Cols != y.Cols)
            throw new ArgumentException(
                $"SddmmCsr: pattern is {pattern.Rows}x{pattern.Cols}, x is {x.Rows}x{x.Cols}, y is {y.Rows}x{y.Cols}; " +
                $"need x.Rows = pattern.Rows, y.Rows = pattern.Cols and x.Cols = y.Cols.");
    }

    public static void SameLength(float[] a, float[] b, string op, string nameA = "a", string nameB = "b")
    {
        ArgumentNullException.ThrowIfNull(a, nameA);
        ArgumentNullException.ThrowIfNull(b, nameB);
        if (a.Length != b.Length)
            throw new ArgumentException($"{op}: {nameA} has length {a.Length} and {nameB} has length {b.Length}; they must be equal.");
    }

    public static void RowBias(DenseTensor x, float[] bias)
    {
        HostDense(x, "AddBiasPerColumn", "x");
        ArgumentNullException.ThrowIfNull(bias);
        if (bias.Length != x.Cols)
            throw new ArgumentException($"AddBiasPerColumn: x is {x.Rows}x{x.Cols} and bias has length {bias.Length}; bias needs one value per column ({x.Cols}).", nameof(bias));
    }

    public static void BiasPerRow(string op, DenseTensor x, DenseTensor bias)
    {
        HostDense(x, op, "x");
        HostDense(bias, op, "bias");
        if (bias.Length != x.Rows)
            throw new ArgumentException($"{op}: bias has {bias.Length} elements; x is {x.Rows}x{x.Cols} and needs one per row.", nameof(bias));
    }

    /// <summary>Exactly one of labels (one per sample, in [0, classes)) and targets (the logits' shape).</summary>
    public static void SoftmaxTargets(DenseTensor logits, int[]? labels, DenseTensor? targets)
    {
        const string op = "SoftmaxCrossEntropy";
        HostDense(logits, op, "logits");
        if ((labels is null) == (targets is null)) throw new ArgumentException($"{op}: give exactly one of labels or targets.");
        if (targets is not null)
        {
            if (targets.Rows != logits.Rows || targets.Cols != logits.Cols)
                throw new ArgumentException($"{op}: targets are {targets.Rows}x{targets.Cols}; logits are {logits.Rows}x{logits.Cols}.", nameof(targets));
            return;
        }
        if (labels!.Length != logits.Cols) throw new ArgumentException($"{op}: {labels.Length} labels for {logits.Cols} samples.", nameof(labels));
        for (int s = 0; s < labels.Length; s++)
            if ((uint)labels[s] >= (uint)logits.Rows)
                throw new ArgumentOutOfRangeException(nameof(labels), $"{op}: label {labels[s]} of sample {s} is outside [0, {logits.Rows}).");
    }
}
