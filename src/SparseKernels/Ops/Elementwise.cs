using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// Element-wise float32 operations on a device (kernels <c>elementwise_*</c>, kernels/elementwise.cu).
/// Each has a <see cref="DenseTensor"/> form (operands of one shape) and a <see cref="DeviceBuffer{T}"/>
/// form (operands of one length). Outputs may be the same tensor/buffer as an input (in place).
/// Empty operands launch nothing. Work is queued on <c>stream</c> (default: the device's).
/// </summary>
public static class Elementwise
{
    private static readonly KernelRef s_elementwiseAdd = new("elementwise_add");
    private static readonly KernelRef s_elementwiseMul = new("elementwise_mul");
    private static readonly KernelRef s_elementwiseScale = new("elementwise_scale");
    private static readonly KernelRef s_elementwiseAxpy = new("elementwise_axpy");
    private static readonly KernelRef s_elementwiseRelu = new("elementwise_relu");
    private static readonly KernelRef s_elementwiseReluBackward = new("elementwise_relu_backward");
    private static readonly KernelRef s_elementwiseAddBiasPerColumn = new("elementwise_add_bias_per_column");
    private static readonly KernelRef s_elementwiseFill = new("elementwise_fill");

    /// <summary>Threads per block of every elementwise kernel.</summary>
    public const int BlockSize = 256;

    /// <summary>Blocks per multiprocessor at most; the grid-stride loops cover the rest.</summary>
    public const int MaxBlocksPerMultiprocessor = 16;

    // ---- DenseTensor forms --------------------------------------------------------------

    /// <summary>out = a + b.</summary>
    public static void Add(IDevice device, DenseTensor a, DenseTensor b, DenseTensor output, DeviceStream? stream = null)
        => Binary(device, s_elementwiseAdd, "Elementwise.Add", a, b, output, stream);

    /// <summary>out = a * b (element by element).</summary>
    public static void Mul(IDevice device, DenseTensor a, DenseTensor b, DenseTensor output, DeviceStream? stream = null)
        => Binary(device, s_elementwiseMul, "Elementwise.Mul", a, b, output, stream);

    /// <summary>out = alpha * x.</summary>
    public static void Scale(IDevice device, float alpha, DenseTensor x, DenseTensor output, DeviceStream? stream = null)
        => ScalarUnary(device, s_elementwiseScale, "Elementwise.Scale", alpha, x, output, stream);

    /// <summary>y += alpha * x (in place in <paramref name="y"/>).</summary>
    public static void Axpy(IDevice device, float alpha, DenseTensor x, DenseTensor y, DeviceStream? stream = null)
        => ScalarUnary(device, s_elementwiseAxpy, "Elementwise.Axpy", alpha, x, y, stream);

    /// <summary>out = max(x, 0).</summary>
    public static void Relu(IDevice device, DenseTensor x, DenseTensor output, DeviceStream? stream = null)
        => Unary(device, s_elementwiseRelu, "Elementwise.Relu", x, output, stream);

    /// <summary>dx = dy where x &gt; 0, else 0.</summary>
    public static void ReluBackward(IDevice device, DenseTensor x, DenseTensor dy, DenseTensor dx, DeviceStream? stream = null)
        => Binary(device, s_elementwiseReluBackward, "Elementwise.ReluBackward", x, dy, dx, stream, "x", "dy", "dx");

    /// <summary>x[r, c] += bias[c] (in place); <paramref name="bias"/> has x.Cols elements.</summary>
    public static void AddBiasPerColumn(IDevice device, DenseTensor x, DeviceBuffer<float> bias, DeviceStream? stream = null)
    {
        const string op = "Elementwise.AddBiasPerColumn";
        OperandChecks.Device(device, op);
        DevicePtr px = OperandChecks.On(device, x, op, nameof(x));
        DevicePtr pbias = OperandChecks.On(device, bias, op, nameof(bias));
        if (bias.Length != x.Cols)
            throw new ArgumentException($"{op}: bias has {bias.Length} elements; x is {x.Rows}x{x.Cols} and needs one per column ({x.Cols}).", nameof(bias));
        if (x.Length == 0) return;
        var args = new KernelArgs();
        args.Add(x.Rows);
        args.Add(x.Cols);
        args.Add(pbias.Address);
        args.Add(px.Address);
        Launch(device, s_elementwiseAddBiasPerColumn, x.Length, ref args, stream);
    }

    /// <summary>x[r, c] += bias[0, c] (in place); <paramref name="bias"/> is 1 x x.Cols.</summary>
    public static void AddBiasPerColumn(IDevice device, DenseTensor x, DenseTensor bias, DeviceStream? stream = null)
    {
        const string op = "Elementwise.AddBiasPerColumn";
        OperandChecks.Device(device, op);
        OperandChecks.On(device, bias, op, nameof(bias));
        if (bias.Rows != 1)
            throw new ArgumentException($"{op}: bias is {bias.Rows}x{bias.Cols}; it must be a single row (1x{bias.Cols}).", nameof(bias));
        AddBiasPerColumn(device, x, bias.DeviceData, stream);
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public static void Fill(IDevice device, DenseTensor output, float value, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, "Elementwise.Fill");
        OperandChecks.On(device, output, "Elementwise.Fill", nameof(output));
        Fill(device, output.DeviceData, value, stream);
    }

    // ---- DeviceBuffer forms -------------------------------------------------------------

    /// <summary>out = a + b over whole buffers of one length.</summary>
    public static void Add(IDevice device, DeviceBuffer<float> a, DeviceBuffer<float> b, DeviceBuffer<float> output, DeviceStream? stream = null)
        => Binary(device, s_elementwiseAdd, "Elementwise.Add", a, b, output, stream, "a", "b", "output");

    /// <summary>out = a * b over whole buffers of one length.</summary>
    public static void Mul(IDevice device, DeviceBuffer<float> a, DeviceBuffer<float> b, DeviceBuffer<float> output, DeviceStream? stream = null)
        => Binary(device, s_elementwiseMul, "Elementwise.Mul", a, b, output, stream, "a", "b", "output");

    /// <summary>out = alpha * x over whole buffers of one length.</summary>
    public static void Scale(IDevice device, float alpha, DeviceBuffer<float> x, DeviceBuffer<float> output, DeviceStream? stream = null)
        => ScalarUnary(device, s_elementwiseScale, "Elementwise.Scale", alpha, x, output, stream, "x", "output");

    /// <summary>y += alpha * x over whole buffers of one length.</summary>
    public static void Axpy(IDevice device, float alpha, DeviceBuffer<float> x, DeviceBuffer<float> y, DeviceStream? stream = null)
        => ScalarUnary(device, s_elementwiseAxpy, "Elementwise.Axpy", alpha, x, y, stream, "x", "y");

    /// <summary>out = max(x, 0) over whole buffers of one length.</summary>
    public static void Relu(IDevice device, DeviceBuffer<float> x, DeviceBuffer<float> output, DeviceStream? stream = null)
        => Unary(device, s_elementwiseRelu, "Elementwise.Relu", x, output, stream, "x", "output");

    /// <summary>dx = dy where x &gt; 0, else 0, over whole buffers of one length.</summary>
    public static void ReluBackward(IDevice device, DeviceBuffer<float> x, DeviceBuffer<float> dy, DeviceBuffer<float> dx, DeviceStream? stream = null)
        => Binary(device, s_elementwiseReluBackward, "Elementwise.ReluBackward", x, dy, dx, stream, "x", "dy", "dx");

    /// <summary>Sets every element of the buffer to <paramref name="value"/>.</summary>
    public static void Fill(IDevice device, DeviceBuffer<float> output, float value, DeviceStream? stream = null)
    {
        const string op = "Elementwise.Fill";
        OperandChecks.Device(device, op);
        DevicePtr pout = OperandChecks.On(device, output, op, nameof(output));
        if (output.Length == 0) return;
        var args = new KernelArgs();
        args.Add(output.Length);
        args.Add(value);
        args.Add(pout.Address);
        Launch(device, s_elementwiseFill, output.Length, ref args, stream);
    }

    // ---- shared plumbing ----------------------------------------------------------------

    private static void Binary(IDevice device, KernelRef id, string op, DenseTensor a, DenseTensor b, DenseTensor output, DeviceStream? stream,
                               string aName = "a", string bName = "b", string outName = "output")
    {
        OperandChecks.Device(device, op);
        OperandChecks.On(device, a, op, aName);
        OperandChecks.On(device, b, op, bName);
        OperandChecks.On(device, output, op, outName);
        SameShape(op, a, b, aName, bName);
        SameShape(op, a, output, aName, outName);
        Binary(device, id, op, a.DeviceData, b.DeviceData, output.DeviceData, stream, aName, bName, outName);
    }

    private static void Binary(IDevice device, KernelRef id, string op, DeviceBuffer<float> a, DeviceBuffer<float> b, DeviceBuffer<float> output, DeviceStream? stream,
                               string aName, string bName, string outName)
    {
        OperandChecks.Device(device, op);
        DevicePtr pa = OperandChecks.On(device, a, op, aName);
        DevicePtr pb = OperandChecks.On(device, b, op, bName);
        DevicePtr pout = OperandChecks.On(device, output, op, outName);
        SameLength(op, a, b, aName, bName);
        SameLength(op, a, output, aName, outName);
        if (a.Length == 0) return;
        var args = new KernelArgs();
        args.Add(a.Length);
        args.Add(pa.Address);
        args.Add(pb.Address);
        args.Add(pout.Address);
        Launch(device, id, a.Length, ref args, stream);
    }

    private static void Unary(IDevice device, KernelRef id, string op, DenseTensor x, DenseTensor output, DeviceStream? stream)
    {
        OperandChecks.Device(device, op);
        OperandChecks.On(device, x, op, "x");
        OperandChecks.On(device, output, op, "output");
        SameShape(op, x, output, "x", "output");
        Unary(device, id, op, x.DeviceData, output.DeviceData, stream, "x", "output");
    }

    private static void Unary(IDevice device, KernelRef id, string op, DeviceBuffer<float> x, DeviceBuffer<float> output, DeviceStream? stream, string xName, string outName)
    {
        OperandChecks.Device(device, op);
        DevicePtr px = OperandChecks.On(device, x, op, xName);
        DevicePtr pout = OperandChecks.On(device, output, op, outName);
        SameLength(op, x, output, xName, outName);
        if (x.Length == 0) return;
        var args = new KernelArgs();
        args.Add(x.Length);
        args.Add(px.Address);
        args.Add(pout.Address);
        Launch(device, id, x.Length, ref args, stream);
    }

    private static void ScalarUnary(IDevice device, KernelRef id, string op, float alpha, DenseTensor x, DenseTensor output, DeviceStream? stream)
    {
        string outName = id == s_elementwiseAxpy ? "y" : "output";
        OperandChecks.Device(device, op);
        OperandChecks.On(device, x, op, "x");
        OperandChecks.On(device, output, op, outName);
        SameShape(op, x, output, "x", outName);
        ScalarUnary(device, id, op, alpha, x.DeviceData, output.DeviceData, stream, "x", outName);
    }

    private static void ScalarUnary(IDevice device, KernelRef id, string op, float alpha, DeviceBuffer<float> x, DeviceBuffer<float> output, DeviceStream? stream, string xName, string outName)
    {
        OperandChecks.Device(device, op);
        DevicePtr px = OperandChecks.On(device, x, op, xName);
        DevicePtr pout = OperandChecks.On(device, output, op, outName);
        SameLength(op, x, output, xName, outName);
        if (x.Length == 0) return;
        var args = new KernelArgs();
        args.Add(x.Length);
        args.Add(alpha);
        args.Add(px.Address);
        args.Add(pout.Address);
        Launch(device, id, x.Length, ref args, stream);
    }

    private static void SameShape(string op, DenseTensor a, DenseTensor b, string aName, string bName)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols)
            throw new ArgumentException($"{op}: {aName} is {a.Rows}x{a.Cols} but {bName} is {b.Rows}x{b.Cols}; they must have the same shape.", bName);
    }

    private static void SameLength(string op, DeviceBuffer<float> a, DeviceBuffer<float> b, string aName, string bName)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"{op}: {aName} has {a.Length} elements but {bName} has {b.Length}; they must have the same length.", bName);
    }

    /// <summary>The grid for <paramref name="count"/> elements: one thread each, capped at MaxBlocksPerMultiprocessor per SM.</summary>
    internal static uint GridFor(IDevice device, long count)
    {
        long blocks = (count + BlockSize - 1) / BlockSize;
        long cap = (long)Math.Max(1, device.Info.MultiprocessorCount) * MaxBlocksPerMultiprocessor;
        return (uint)Math.Max(1, Math.Min(blocks, Math.Min(cap, int.MaxValue)));
    }

    private static void Launch(IDevice device, KernelRef id, long count, ref KernelArgs args, DeviceStream? stream)
    {
        var config = new LaunchConfig(new Dim3(GridFor(device, count)), new Dim3(BlockSize), 0);
        device.Launch(id.Get(device), config, ref args, stream);
    }
}
