using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>Argument checks shared by the launchers; every message names the operation, the operand and its shape.</summary>
internal static class OperandChecks
{
    public static void Device(IDevice? device, string op)
    {
        if (device is null) throw new ArgumentNullException(nameof(device), $"{op}: no device was given.");
    }

    /// <summary>The tensor's device address, after checking it lives on <paramref name="device"/>.</summary>
    public static DevicePtr On(IDevice device, DenseTensor? tensor, string op, string name)
    {
        if (tensor is null) throw new ArgumentNullException(name, $"{op}: operand {name} is null.");
        if (!tensor.IsOnDevice)
            throw new ArgumentException($"{op}: operand {name} ({tensor.Rows}x{tensor.Cols}) lives on the host; copy it to device '{device.Name}' first (ToDevice).", name);
        if (!ReferenceEquals(tensor.Device, device))
            throw new ArgumentException($"{op}: operand {name} ({tensor.Rows}x{tensor.Cols}) lives on device '{tensor.Device!.Name}', not on '{device.Name}' where the kernel runs.", name);
        return tensor.DeviceData.Pointer;
    }

    /// <summary>The buffer's device address, after checking it lives on <paramref name="device"/>.</summary>
    public static DevicePtr On<T>(IDevice device, DeviceBuffer<T>? buffer, string op, string name) where T : unmanaged
    {
        if (buffer is null) throw new ArgumentNullException(name, $"{op}: operand {name} is null.");
        if (!ReferenceEquals(buffer.Device, device))
            throw new ArgumentException($"{op}: operand {name} (buffer of {buffer.Length} {typeof(T).Name}) lives on device '{buffer.Device.Name}', not on '{device.Name}' where the kernel runs.", name);
        return buffer.Pointer;
    }

    /// <summary>Checks the CSR matrix lives on <paramref name="device"/>.</summary>
    public static void On(IDevice device, CsrMatrix? matrix, string op, string name)
    {
        if (matrix is null) throw new ArgumentNullException(name, $"{op}: operand {name} is null.");
        if (!matrix.IsOnDevice)
            throw new ArgumentException($"{op}: CSR operand {name} ({matrix.Rows}x{matrix.Cols}, nnz {matrix.Nnz}) lives on the host; copy it to device '{device.Name}' first (ToDevice).", name);
        if (!ReferenceEquals(matrix.Device, device))
            throw new ArgumentException($"{op}: CSR operand {name} ({matrix.Rows}x{matrix.Cols}, nnz {matrix.Nnz}) lives on device '{matrix.Device!.Name}', not on '{device.Name}' where the kernel runs.", name);
    }

    public static void NotSame<T>(DeviceBuffer<T> output, DeviceBuffer<T> input, string op, string outputName, string inputName) where T : unmanaged
    {
        // Empty buffers may all share a null address; they cannot overlap anything.
        if (ReferenceEquals(output, input) || (output.Length > 0 && input.Length > 0 && output.Pointer == input.Pointer))
            throw new ArgumentException($"{op}: output {outputName} is the same buffer as input {inputName}; this kernel cannot work in place.", outputName);
    }

    /// <summary>Grid size (ceil(count / per)) as a launch dimension, checked against CUDA's 2^31-1 limit on grid.x.</summary>
    public static uint Blocks(long count, long per, string op)
    {
        long blocks = (count + per - 1) / per;
        if (blocks > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(count), $"{op}: {count} work items need {blocks} blocks, more than a grid allows.");
        return (uint)blocks;
    }
}
