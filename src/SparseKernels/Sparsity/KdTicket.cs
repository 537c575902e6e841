// KD ticket (H. Ma, T. Chen, T.-K. Hu, C. You, X. Xie, Z. Wang 2021, "Good Students Play Big Lottery Better",
// arXiv:2101.03255): a lottery ticket retrained on the soft labels of the trained dense model instead of the hard
// labels. No reference code was available to read; the rule follows the paper. Here: IMP (LotteryTicket) whose levels
// after the first train the ticket through the distillation loss against the dense model trained in level 0
// (Fn.DistillationLoss: (1 - alpha) CE + alpha T^2 KL(softmax(teacher/T) || softmax(z/T)), Hinton et al. 2015).
// The paper's variants, by the options:
//  - "KD ticket" alone: the survivors restart from the original initialisation (Rewind, RewindStep = 0, the default);
//  - KD ticket + rewinding: the survivors restart from their values at step k > 0 (RewindStep = k), with the
//    learning-rate schedule resumed at k (see LotteryTicket);
//  - Rewind = false (--no-rewind) is NOT a KD ticket: the pruned weights keep their trained values, so it is
//    fine-tuning + KD (a baseline; Variant says so).
// Departs from the paper: the teacher is the dense model at the end of level 0 (E epochs), and the distillation
// weight alpha and temperature T are options (paper: CE replaced by the KD loss).
using SparseKernels.Autograd;
using SparseKernels.Tensors;
using SparseKernels.Training;

namespace SparseKernels.Sparsity;

/// <summary>KD ticket (Ma et al. 2021): iterative magnitude pruning whose levels after the first train on the distillation loss against the dense model trained in level 0.</summary>
/// <param name="options">The method's options (<c>Method = "kd-ticket"</c>; <see cref="SparsityOptions.KdTemperature"/> and <see cref="SparsityOptions.KdAlpha"/>); validated, throwing <see cref="ArgumentException"/>.</param>
public sealed class KdTicket(SparsityOptions options) : LotteryTicket(options), IDisposable
{
    private Sequential? _teacher;
    /// <inheritdoc/>
    public override string Name => "kd-ticket";

    /// <summary>Which of the paper's variants the options give (fine-tuning + KD for Rewind = false).</summary>
    public override string Variant => !Options.Rewind ? "fine-tuning + KD (no rewind; not a KD ticket)"
        : Options.RewindStep == 0 ? "KD ticket alone (original initialisation, step 0)"
        : $"KD ticket + rewinding to step {Options.RewindStep}";
    /// <summary>The teacher: a copy of the dense model at the end of level 0, or null before that.</summary>
    public Sequential? Teacher => _teacher;

    /// <inheritdoc/>
    public override void Attach(Sequential model, Trainer trainer)
    {
        base.Attach(model, trainer);
        if (_teacher is not null) UseTeacher();   // resumed after level 0 (ReadState restored the teacher)
    }

    /// <inheritdoc/>
    protected override void OnLevelStart(StepContext c)
    {
        if (_teacher is not null) return;
        _teacher = Copy(c.Model);
        UseTeacher();
    }

    /// <summary>From here on the Trainer's loss is the distillation loss against the teacher.</summary>
    private void UseTeacher()
    {
        var teacher = _teacher!;
        float temp = Options.KdTemperature, alpha = Options.KdAlpha;
        Trainer!.LossFunction = (t, logits, x, labels) => Loss(t, teacher, logits, x, labels, temp, alpha);
    }

    /// <summary>The distillation loss of the student's logits against the teacher's on batch x.</summary>
    public static Var Loss(Tape t, Sequential teacher, Var logits, DenseTensor x, Labels labels, float temperature, float alpha)
    {
        DenseTensor z;
        using (var tt = new Tape(t.Backend)) z = t.Backend.Copy(teacher.Forward(tt, tt.Constant(x)).Value);
        using (z) return Fn.DistillationLoss(t, logits, z, labels, temperature, alpha);
    }

    /// <summary>A frozen copy of a model on its backend.</summary>
    public static Sequential Copy(Sequential m) => Sequential.FromHost(m.Backend, m.Spec, m.Layers.Select(l =>
    {
        var bias = DenseTensor.FromArray(l.Out, 1, (float[])l.Bias.Value.ToArray().Clone());
        if (l.Sparse is { } s)
        {
            var h = s.ToHost();
            return ((DenseTensor?)null, (CsrMatrix?)new CsrMatrix(h.Rows, h.Cols, (int[])h.RowOffsets.Clone(), (int[])h.ColumnIndices.Clone(), (float[])h.Values.Clone()), bias);
        }
        return (DenseTensor.FromArray(l.Out, l.In, (float[])l.Weight.Value.ToArray().Clone()), (CsrMatrix?)null, bias);
    }).ToList());

    /// <summary>Checkpoint state: IMP's, then the teacher once taken (its sizes, then each layer dense or CSR with its bias).</summary>
    public override void WriteState(BinaryWriter w)
    {
        base.WriteState(w);
        w.Write(_teacher is not null);
        if (_teacher is null) return;
        w.Write(_teacher.Spec.Text);
        foreach (var l in _teacher.Layers) Checkpoint.WriteLayer(w, l);
    }

    /// <inheritdoc/>
    public override void ReadState(BinaryReader r, Sequential model)
    {
        base.ReadState(r, model);
        Dispose();
        if (!r.ReadBoolean())
        {
            if (Level > 0) throw new InvalidDataException($"level {Level} has no teacher (taken at the start of level 1).");
            return;
        }
        string spec = r.ReadString();
        if (spec != model.Spec.Text) throw new InvalidDataException($"the teacher is {spec} but the model {model.Spec.Text}.");
        var layers = new List<(DenseTensor?, CsrMatrix?, DenseTensor)>();
        for (int i = 0; i < model.Spec.WeightMatrices.Count; i++)
        {
            try { layers.Add(Checkpoint.ReadLayer(r, model.Spec.WeightMatrices[i].Rows, model.Spec.WeightMatrices[i].Cols)); }
            catch (InvalidDataException e) { throw new InvalidDataException($"teacher layer {i}: {e.Message}", e); }
        }
        _teacher = Sequential.FromHost(model.Backend, model.Spec, layers);
    }

    /// <inheritdoc/>
    public void Dispose() { _teacher?.Dispose(); _teacher = null; }
}
