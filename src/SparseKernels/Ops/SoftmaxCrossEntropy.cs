using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// Fused log-softmax + cross-entropy over the columns of class-major logits (classes x batch) on a device
/// (kernels/softmax_cross_entropy.cu). Targets are hard labels (one int per sample, checked on the host by
/// the caller's data path) or a distribution per column (the loss is then KL(target || softmax)).
/// </summary>
public static class SoftmaxCrossEntropy
{
    private static readonly KernelRef s_softmaxCrossEntropyForwardV1 = new("softmax_cross_entropy_forward_v1");
    private static readonly KernelRef s_softmaxCrossEntropyBackwardV1 = new("softmax_cross_entropy_backward_v1");

    private const string Op = "SoftmaxCrossEntropy";

    /// <summary>probs = softmax of each column, loss (1 x batch) = per-sample loss. Exactly one of labels/targets.</summary>
    public static void Forward(IDevice device, DenseTensor logits, DeviceBuffer<int>? labels, DenseTensor? targets, DenseTensor probs, DenseTensor loss, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr pz = OperandChecks.On(device, logits, Op, nameof(logits));
        DevicePtr pp = OperandChecks.On(device, probs, Op, nameof(probs));
        DevicePtr pl = OperandChecks.On(device, loss, Op, nameof(loss));
        var (plab, ptar) = Targets(device, logits, labels, targets);
        if (probs.Rows != logits.Rows || probs.Cols != logits.Cols)
            throw new ArgumentException($"{Op}: probs is {probs.Rows}x{probs.Cols}; logits are {logits.Rows}x{logits.Cols}.", nameof(probs));
        if (loss.Length != logits.Cols)
            throw new ArgumentException($"{Op}: loss has {loss.Length} elements; one per sample ({logits.Cols}) is needed.", nameof(loss));
        if (logits.Cols == 0) return;
        if (logits.Rows == 0) throw new ArgumentException($"{Op}: the logits have no classes.", nameof(logits));
        var args = new KernelArgs();
        args.Add(logits.Rows); args.Add(logits.Cols); args.Add(pz.Address); args.Add(plab); args.Add(ptar); args.Add(pp.Address); args.Add(pl.Address);
        var config = new LaunchConfig(new Dim3(OperandChecks.Blocks(logits.Cols, 128, Op)), new Dim3(128), 0);
        s_softmaxCrossEntropyForwardV1.Launch(device, config, ref args, stream);
    }

    /// <summary>dlogits[c, s] = dloss[s] * (probs[c, s] - target[c, s]); dloss holds one upstream gradient per sample.</summary>
    public static void Backward(IDevice device, DenseTensor probs, DeviceBuffer<int>? labels, DenseTensor? targets, DenseTensor dloss, DenseTensor dlogits, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr pp = OperandChecks.On(device, probs, Op, nameof(probs));
        DevicePtr pd = OperandChecks.On(device, dlogits, Op, nameof(dlogits));
        DevicePtr pdl = OperandChecks.On(device, dloss, Op, nameof(dloss));
        if (dloss.Length != probs.Cols)
            throw new ArgumentException($"{Op}: dloss has {dloss.Length} elements; one per sample ({probs.Cols}) is needed.", nameof(dloss));
        var (plab, ptar) = Targets(device, probs, labels, targets);
        if (dlogits.Rows != probs.Rows || dlogits.Cols != probs.Cols)
            throw new ArgumentException($"{Op}: dlogits is {dlogits.Rows}x{dlogits.Cols}; probs are {probs.Rows}x{probs.Cols}.", nameof(dlogits));
        if (probs.Length == 0) return;
        var args = new KernelArgs();
        args.Add(probs.Rows); args.Add(probs.Cols); args.Add(pp.Address); args.Add(plab); args.Add(ptar); args.Add(pdl.Address); args.Add(pd.Address);
        s_softmaxCrossEntropyBackwardV1.LaunchFlat(device, probs.Length, ref args, stream);
    }

    private static (ulong Labels, ulong Targets) Targets(IDevice device, DenseTensor logits, DeviceBuffer<int>? labels, DenseTensor? targets)
    {
        if ((labels is null) == (targets is null))
            throw new ArgumentException($"{Op}: give exactly one of labels (hard targets) or targets (a distribution per sample).");
        if (labels is not null)
        {
            DevicePtr p = OperandChecks.On(device, labels, Op, nameof(labels));
            if (labels.Length != logits.Cols)
                throw new ArgumentException($"{Op}: {labels.Length} labels for {logits.Cols} samples.", nameof(labels));
            return (p.Address, 0UL);
        }
        DevicePtr pt = OperandChecks.On(device, targets!, Op, nameof(targets));
        if (targets!.Rows != logits.Rows || targets.Cols != logits.Cols)
            throw new ArgumentException($"{Op}: targets are {targets.Rows}x{targets.Cols}; logits are {logits.Rows}x{logits.Cols}.", nameof(targets));
        return (0UL, pt.Address);
    }
}
