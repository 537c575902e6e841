using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Ops;

/// <summary>Optimizer steps over flat value arrays on a device (kernels/optimizer_update.cu), in place.</summary>
public static class OptimizerUpdate
{
    private static readonly KernelRef s_sgdMomentumV1 = new("sgd_momentum_v1");
    private static readonly KernelRef s_adamV1 = new("adam_v1");

    private const string Op = "OptimizerUpdate";

    /// <summary>SGD with momentum, L2 weight decay and optional Nesterov (torch.optim.SGD semantics, dampening 0).</summary>
    public static void SgdMomentum(IDevice device, DeviceBuffer<float> w, DeviceBuffer<float> g, DeviceBuffer<float> velocity,
                                   float lr, float momentum, float weightDecay, bool nesterov, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr pw = OperandChecks.On(device, w, Op, nameof(w));
        DevicePtr pg = OperandChecks.On(device, g, Op, nameof(g));
        DevicePtr pv = OperandChecks.On(device, velocity, Op, nameof(velocity));
        Same(w, g, nameof(g)); Same(w, velocity, nameof(velocity));
        if (w.Length == 0) return;
        var args = new KernelArgs();
        args.Add(w.Length); args.Add(lr); args.Add(momentum); args.Add(weightDecay); args.Add(nesterov ? 1 : 0);
        args.Add(pw.Address); args.Add(pg.Address); args.Add(pv.Address);
        s_sgdMomentumV1.LaunchFlat(device, w.Length, ref args, stream);
    }

    /// <summary>Adam (L2 weight decay as torch.optim.Adam); <paramref name="step"/> is 1 on the first update.</summary>
    public static void Adam(IDevice device, DeviceBuffer<float> w, DeviceBuffer<float> g, DeviceBuffer<float> m, DeviceBuffer<float> v,
                            float lr, float beta1, float beta2, float eps, float weightDecay, long step, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr pw = OperandChecks.On(device, w, Op, nameof(w));
        DevicePtr pg = OperandChecks.On(device, g, Op, nameof(g));
        DevicePtr pm = OperandChecks.On(device, m, Op, nameof(m));
        DevicePtr pv = OperandChecks.On(device, v, Op, nameof(v));
        Same(w, g, nameof(g)); Same(w, m, nameof(m)); Same(w, v, nameof(v));
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, $"{Op}.Adam: the step count starts at 1.");
        if (w.Length == 0) return;
        var args = new KernelArgs();
        args.Add(w.Length); args.Add(lr); args.Add(beta1); args.Add(beta2); args.Add(eps); args.Add(weightDecay);
        args.Add((float)(1 - Math.Pow(beta1, step))); args.Add((float)(1 - Math.Pow(beta2, step)));
        args.Add(pw.Address); args.Add(pg.Address); args.Add(pm.Address); args.Add(pv.Address);
        s_adamV1.LaunchFlat(device, w.Length, ref args, stream);
    }

    private static void Same(DeviceBuffer<float> w, DeviceBuffer<float> other, string name)
    {
        if (other.Length != w.Length)
            throw new ArgumentException($"{Op}: {name} has {other.Length} elements; the weights have {w.Length}.", name);
    }
}
