using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace SparseKernels.TorchSharp;

/// <summary>
/// The custom autograd function of <see cref="SparseLinear"/>: y = x W^T for a batch-major x (batch x in) and a CSR
/// W (out x in) whose values are the layer's Parameter, on the engine's <see cref="CsrLinear"/> (batch-major entry
/// points; the layer caches its plan per pattern).
/// <para>Memory. x, the values, y, dy, dx and dW are read and written in place in the tensors' storage (zero copy): y,
/// dx and the values gradient are tensors TorchSharp allocates (<c>empty</c>) and the engine fills. x^T (kept from the
/// forward for dW) and the values in CSC order (the snapshot of W that dx is computed with, so the backward uses the
/// weights of its forward even if an optimizer steps in between) live in a <see cref="SparseLinearWorkspace"/> of the
/// layer, rented at the forward and returned at the backward (no managed allocation per call once warm). dy may be
/// any strided view (e.g. the broadcast gradient of <c>sum()</c>): it is read through its strides, never copied.</para>
/// </summary>
internal sealed class SparseLinearFunction : autograd.MultiTensorFunction<SparseLinearFunction>
{
    public override string Name => nameof(SparseLinear);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var values = (Tensor)vars[1];
        var layer = (SparseLinear)vars[2];
        bool capture = (bool)vars[3], needsX = (bool)vars[4], needsW = (bool)vars[5];
        int batch = (int)x.shape[0];
        var ws = layer.Rent(batch, needsX, needsW);
        var y = empty(batch, layer.OutFeatures, ScalarType.Float32);
        try
        {
            unsafe
            {
                ws.Plan.Forward(TensorMemory.Pointer(x), batch, TensorMemory.Pointer(values), TensorMemory.Pointer(y),
                    SparseLinearWorkspace.Pointer(ws.XT), SparseLinearWorkspace.Pointer(ws.OutT),
                    needsX ? SparseLinearWorkspace.Pointer(ws.TValues) : null);
            }
            if (capture) layer.CaptureX(x, batch);
        }
        catch
        {
            y.Dispose();
            layer.Return(ws);
            throw;
        }
        if (needsX || needsW)
        {
            ctx.save_data("ws", ws);
            ctx.save_data("generation", ws.Generation);
            ctx.save_data("capture", capture);
        }
        else layer.Return(ws);
        return [y];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var ws = (SparseLinearWorkspace)ctx.get_data("ws");
        var layer = ws.Layer;
        if (ws.Generation != (long)ctx.get_data("generation"))
            throw new InvalidOperationException($"SparseLinear {layer.OutFeatures}x{layer.InFeatures}: a second backward through a graph " +
                "after another forward of this layer is not supported (its saved x^T has been reused); run the forward again.");
        bool capture = (bool)ctx.get_data("capture");
        int batch = ws.Batch;
        var gy = gradOutputs[0];
        using var gyf = gy.dtype == ScalarType.Float32 && gy.device_type == DeviceType.CPU ? gy.alias() : gy.to(ScalarType.Float32).cpu();
        if (gyf.dim() != 2 || gyf.shape[0] != batch || gyf.shape[1] != layer.OutFeatures)
            throw new InvalidOperationException($"SparseLinear {layer.OutFeatures}x{layer.InFeatures}: the gradient of y has shape " +
                $"[{string.Join(", ", gyf.shape)}]; [{batch}, {layer.OutFeatures}] expected.");
        var strides = gyf.stride();
        Tensor? gx = ws.NeedsX ? empty(batch, layer.InFeatures, ScalarType.Float32) : null;
        Tensor? gv = ws.NeedsW ? empty(ws.Plan.Nnz, ScalarType.Float32) : null;
        try
        {
            unsafe
            {
                float* dy = TensorMemory.Pointer(gyf);
                ws.Plan.Backward(dy, strides[0], strides[1], batch, SparseLinearWorkspace.Pointer(ws.XT),
                    ws.NeedsX ? SparseLinearWorkspace.Pointer(ws.TValues) : null,
                    gx is null ? null : TensorMemory.Pointer(gx), gv is null ? null : TensorMemory.Pointer(gv),
                    SparseLinearWorkspace.Pointer(ws.OutT), SparseLinearWorkspace.Pointer(ws.InT));
                if (capture) layer.CaptureDy(dy, strides[0], strides[1], batch);
            }
        }
        catch
        {
            gx?.Dispose(); gv?.Dispose();
            throw;
        }
        finally { layer.Return(ws); }
        return [gx!, gv!, null!, null!, null!, null!];
    }
}

/// <summary>
/// A layer's buffers for one forward/backward: x^T (in x batch, kept for dW), the values in CSC order (kept for dx),
/// and scratch for y^T / dy^T (out x batch) and dx^T (in x batch). Pinned arrays (they do not move: the kernels take
/// pointers), grown when a larger batch comes, reused from call to call.
/// </summary>
internal sealed class SparseLinearWorkspace(SparseLinear layer)
{
    public SparseLinear Layer { get; } = layer;
    public CsrLinear Plan { get; set; } = null!;
    public float[] XT = [], TValues = [], OutT = [], InT = [];
    public int Batch;
    public bool NeedsX, NeedsW;
    /// <summary>Incremented at each rent: a backward whose forward's buffers were rented again since is refused.</summary>
    public long Generation;
    /// <summary>Whether the workspace is in its layer's pool (so that it is never returned twice).</summary>
    public bool Pooled;

    public void Size(CsrLinear plan, int batch, bool needsX, bool needsW)
    {
        Plan = plan; Batch = batch; NeedsX = needsX; NeedsW = needsW; Generation++;
        Ensure(ref XT, (long)plan.In * batch);
        Ensure(ref OutT, (long)plan.Out * batch);
        if (needsX)
        {
            Ensure(ref TValues, plan.Nnz);
            Ensure(ref InT, (long)plan.In * batch);
        }
    }

    private static void Ensure(ref float[] a, long length)
    {
        if (a.Length < length) a = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
    }

    /// <summary>The address of a pinned array's first element.</summary>
    public static unsafe float* Pointer(float[] a) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a));
}
