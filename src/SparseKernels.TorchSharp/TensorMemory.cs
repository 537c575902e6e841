using TorchSharp;
using static TorchSharp.torch;

namespace SparseKernels.TorchSharp;

/// <summary>
/// Checks on the TorchSharp tensors that SparseLinear reads and writes, and spans over their CPU memory
/// (<c>storage&lt;T&gt;().data_ptr()</c> plus <c>storage_offset()</c>: no copy).
/// </summary>
internal static class TensorMemory
{
    /// <summary>Throws unless <paramref name="t"/> is a contiguous 2-D float32 CPU tensor with <paramref name="cols"/> columns.</summary>
    public static void CheckInput(Tensor? t, string name, int cols, string layer)
    {
        if (t is null || t.IsInvalid) throw new ArgumentNullException(name, $"{layer}: {name} is null or disposed.");
        if (t.device_type != DeviceType.CPU)
            throw new NotSupportedException(t.device_type == DeviceType.CUDA
                ? $"{layer}: {name} is on {t.device}; this version of SparseKernels.TorchSharp runs on CPU tensors only (the CUDA path " +
                    $"through the engine's device ops is not built yet). Move the model and its inputs to the CPU."
                : $"{layer}: {name} is on {t.device}; SparseLinear needs CPU tensors.");
        if (t.dtype != ScalarType.Float32)
            throw new ArgumentException($"{layer}: {name} has dtype {t.dtype}; SparseLinear computes in float32 (call " +
                $"{name}.to(torch.float32)).", name);
        if (t.dim() != 2)
            throw new ArgumentException($"{layer}: {name} has shape [{string.Join(", ", t.shape)}]; SparseLinear needs a 2-D (batch x " +
                $"{cols}) input.", name);
        if (t.shape[1] != cols)
            throw new ArgumentException($"{layer}: {name} has shape [{string.Join(", ", t.shape)}]; this layer takes {cols} input " +
                $"features (batch x {cols}).", name);
        if (!t.is_contiguous())
            throw new ArgumentException($"{layer}: {name} is not contiguous (shape [{string.Join(", ", t.shape)}], strides " +
                $"[{string.Join(", ", t.stride())}]); call {name}.contiguous() first.", name);
        if (t.shape[0] > int.MaxValue || t.numel() > int.MaxValue)
            throw new ArgumentException($"{layer}: {name} has {t.numel()} elements; at most {int.MaxValue} are supported.", name);
    }

    /// <summary>The elements of a contiguous float32 CPU tensor, in place.</summary>
    public static unsafe Span<float> Floats(Tensor t)
    {
        using var s = t.storage<float>();
        float* p = (float*)s.data_ptr() + t.storage_offset();
        return new Span<float>(p, checked((int)t.numel()));
    }

    /// <summary>The address of element (0, ..., 0) of a float32 CPU tensor (contiguous, or read through its strides).</summary>
    public static unsafe float* Pointer(Tensor t)
    {
        using var s = t.storage<float>();
        return (float*)s.data_ptr() + t.storage_offset();
    }

    /// <summary>The elements of a contiguous int32 CPU tensor, in place.</summary>
    public static unsafe Span<int> Ints(Tensor t)
    {
        using var s = t.storage<int>();
        int* p = (int*)s.data_ptr() + t.storage_offset();
        return new Span<int>(p, checked((int)t.numel()));
    }
}
