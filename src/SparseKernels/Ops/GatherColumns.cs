using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// out[f, b] = data[index[b], f] (a feature-major batch from a sample-major dataset on the device) and
/// outLabels[b] = labels[index[b]] (kernels/gather_columns.cu). The index entries must lie in [0, samples);
/// the host-side batcher builds them from a permutation.
/// </summary>
public static class GatherColumns
{
    private static readonly KernelRef s_gatherColumnsV1 = new("gather_columns_v1");

    private const string Op = "GatherColumns";

    /// <summary>Gathers the samples <paramref name="index"/> (batch ints in [0, samples)) of <paramref name="data"/> (samples x features, on the device) into <paramref name="output"/> (features x batch), and their <paramref name="labels"/> into <paramref name="outLabels"/> when both are given; ordered on <paramref name="stream"/> (default: the device's). Throws <see cref="ArgumentException"/> for operands not on <paramref name="device"/>, shapes that do not match, or only one of the label buffers.</summary>
    public static void Run(IDevice device, DenseTensor data, DeviceBuffer<int> index, DenseTensor output,
                           DeviceBuffer<int>? labels = null, DeviceBuffer<int>? outLabels = null, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr pd = OperandChecks.On(device, data, Op, nameof(data));
        DevicePtr pi = OperandChecks.On(device, index, Op, nameof(index));
        DevicePtr po = OperandChecks.On(device, output, Op, nameof(output));
        if (output.Rows != data.Cols || output.Cols != index.Length)
            throw new ArgumentException($"{Op}: output is {output.Rows}x{output.Cols}; {index.Length} samples of {data.Cols} features need {data.Cols}x{index.Length}.", nameof(output));
        ulong pl = 0, pol = 0;
        if ((labels is null) != (outLabels is null)) throw new ArgumentException($"{Op}: give both labels and outLabels or neither.");
        if (labels is not null)
        {
            pl = OperandChecks.On(device, labels, Op, nameof(labels)).Address;
            pol = OperandChecks.On(device, outLabels!, Op, nameof(outLabels)).Address;
            if (labels.Length != data.Rows || outLabels!.Length != index.Length)
                throw new ArgumentException($"{Op}: {labels.Length} labels for {data.Rows} samples / {outLabels!.Length} output labels for {index.Length} indices.");
        }
        if (output.Length == 0) return;
        var args = new KernelArgs();
        args.Add(data.Cols); args.Add((int)index.Length); args.Add(pd.Address); args.Add(pi.Address); args.Add(pl); args.Add(po.Address); args.Add(pol);
        s_gatherColumnsV1.LaunchFlat(device, output.Length, ref args, stream);
    }
}
