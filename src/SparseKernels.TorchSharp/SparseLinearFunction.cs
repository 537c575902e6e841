using SparseKernels.Cpu;
using SparseKernels.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace SparseKernels.TorchSharp;

/// <summary>
/// The custom autograd function of <see cref="SparseLinear"/>: y = x W^T for a batch-major x (batch x in) and a CSR
/// W (out x in) whose values are the layer's Parameter.
/// <para>Layout. The engine's CPU ops are feature-major (sparse operand on the left, dense operands feature x batch):
/// y^T = W x^T (<see cref="CpuBackend.SpmmCsr"/>), dx^T = W^T dy^T (<see cref="CpuBackend.SpmmCsrTransposed"/>),
/// dW = (dy^T (x^T)^T) at the pattern (<see cref="CpuBackend.SddmmCsr"/> with X = dy^T, Y = x^T). So x is read in
/// place from the tensor's memory and written once, transposed, into a managed feature-major buffer (kept for the
/// backward: x itself is not saved); y and dx are written in place, transposed, into the tensors returned to TorchSharp;
/// dy is read in place. The W values are copied from the Parameter at each forward (nnz floats, 1/batch of the
/// multiply's reads) so that the backward uses the weights of its forward even if an optimizer steps in between.</para>
/// </summary>
internal sealed class SparseLinearFunction : autograd.MultiTensorFunction<SparseLinearFunction>
{
    public override string Name => nameof(SparseLinear);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var values = (Tensor)vars[1];
        var layer = (SparseLinear)vars[2];
        bool capture = (bool)vars[3];
        int batch = (int)x.shape[0], inF = layer.InFeatures, outF = layer.OutFeatures;
        CsrMatrix w = layer.Snapshot(values);
        var xT = GC.AllocateUninitializedArray<float>(inF * batch);
        TensorMemory.Transpose(TensorMemory.Floats(x), batch, inF, xT);
        var y = empty(batch, outF, ScalarType.Float32);
        if (batch > 0 && outF > 0)
        {
            var yT = layer.Backend.SpmmCsr(w, DenseTensor.FromArray(inF, batch, xT));
            TensorMemory.Transpose(yT.HostData, outF, batch, TensorMemory.Floats(y));
        }
        if (capture) { layer.LastX = TensorMemory.Floats(x).ToArray(); layer.LastDy = null; layer.LastBatch = batch; }
        ctx.save_data("w", w);
        ctx.save_data("xT", xT);
        ctx.save_data("layer", layer);
        ctx.save_data("needsX", x.requires_grad);
        ctx.save_data("capture", capture);
        return [y];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        var w = (CsrMatrix)ctx.get_data("w");
        var xT = (float[])ctx.get_data("xT");
        var layer = (SparseLinear)ctx.get_data("layer");
        bool needsX = (bool)ctx.get_data("needsX");
        bool capture = (bool)ctx.get_data("capture");
        int inF = layer.InFeatures, outF = layer.OutFeatures, batch = xT.Length / Math.Max(1, inF);
        var gy = gradOutputs[0];
        // dy comes from TorchSharp's autograd and may be a broadcast view (e.g. of sum()): made contiguous only then.
        using var gyc = gy.is_contiguous() && gy.dtype == ScalarType.Float32 ? gy.alias() : gy.to(ScalarType.Float32).contiguous();
        if (capture && layer.LastBatch == batch) layer.LastDy = TensorMemory.Floats(gyc).ToArray();
        var gyT = GC.AllocateUninitializedArray<float>(outF * batch);
        TensorMemory.Transpose(TensorMemory.Floats(gyc), batch, outF, gyT);
        Tensor? gx = null;
        if (needsX)
        {
            gx = empty(batch, inF, ScalarType.Float32);
            if (batch > 0 && inF > 0)
            {
                var gxT = layer.Backend.SpmmCsrTransposed(w, DenseTensor.FromArray(outF, batch, gyT));
                TensorMemory.Transpose(gxT.HostData, inF, batch, TensorMemory.Floats(gx));
            }
            else gx.zero_();
        }
        var gv = zeros(w.Nnz, ScalarType.Float32);
        if (batch > 0 && w.Nnz > 0)
        {
            var dW = layer.Backend.SddmmCsr(w, DenseTensor.FromArray(outF, batch, gyT), DenseTensor.FromArray(inF, batch, xT));
            dW.Values.AsSpan().CopyTo(TensorMemory.Floats(gv));
        }
        return [gx!, gv, null!, null!];
    }
}
