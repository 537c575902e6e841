using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// A CSR matrix's values to and from a dense row-major matrix of the same shape on a device (kernels/csr_dense.cu):
/// <see cref="Scatter"/> writes the whole dense matrix (the nonzeros, zeros elsewhere), <see cref="Gather"/> reads
/// the dense matrix at the pattern. The dense path of a sparse layer uses them around cuBLAS / dense GEMM.
/// </summary>
public static class CsrDense
{
    /// <summary>Warps (rows) per block: block = (32, WarpsPerBlock).</summary>
    public const int WarpsPerBlock = 4;

    private const string Op = "CsrDense";
    private static readonly KernelRef s_scatter = new("csr_scatter_dense_v1"), s_gather = new("csr_gather_dense_v1");

    /// <summary>dense = <paramref name="a"/> (m x n), zeros where <paramref name="a"/> has no nonzero.</summary>
    /// <exception cref="ArgumentException">An operand is on the host or another device, or the shapes disagree.</exception>
    public static void Scatter(IDevice device, CsrMatrix a, DenseTensor dense, DeviceStream? stream = null)
    {
        const string op = Op + ".Scatter";
        OperandChecks.Device(device, op);
        OperandChecks.On(device, a, op, nameof(a));
        DevicePtr pd = OperandChecks.On(device, dense, op, nameof(dense));
        if (dense.Rows != a.Rows || dense.Cols != a.Cols)
            throw new ArgumentException($"{op}: dense is {dense.Rows}x{dense.Cols} but the CSR matrix is {a.Rows}x{a.Cols}; they must have the same shape.", nameof(dense));
        Launch(device, s_scatter, a, a.DeviceValues.Pointer, pd, stream, op);
    }

    /// <summary>values[p] = dense[row(p), column(p)] for every nonzero p of <paramref name="pattern"/> (its own values are not read).</summary>
    /// <exception cref="ArgumentException">An operand is on the host or another device, or the shapes or lengths disagree.</exception>
    public static void Gather(IDevice device, DenseTensor dense, CsrMatrix pattern, DeviceBuffer<float> values, DeviceStream? stream = null)
    {
        const string op = Op + ".Gather";
        OperandChecks.Device(device, op);
        OperandChecks.On(device, pattern, op, nameof(pattern));
        DevicePtr pd = OperandChecks.On(device, dense, op, nameof(dense));
        DevicePtr pv = OperandChecks.On(device, values, op, nameof(values));
        if (dense.Rows != pattern.Rows || dense.Cols != pattern.Cols)
            throw new ArgumentException($"{op}: dense is {dense.Rows}x{dense.Cols} but the pattern is {pattern.Rows}x{pattern.Cols}; they must have the same shape.", nameof(dense));
        if (values.Length != pattern.Nnz)
            throw new ArgumentException($"{op}: values has {values.Length} elements; the {pattern.Rows}x{pattern.Cols} pattern has {pattern.Nnz} nonzeros.", nameof(values));
        OperandChecks.NotSame(values, dense.DeviceData, op, nameof(values), nameof(dense));
        Launch(device, s_gather, pattern, pd, pv, stream, op);
    }

    private static void Launch(IDevice device, KernelRef kernel, CsrMatrix a, DevicePtr input, DevicePtr output, DeviceStream? stream, string op)
    {
        if (a.Rows == 0 || a.Cols == 0) return;
        var args = new KernelArgs();
        args.Add(a.Rows);
        args.Add(a.Cols);
        args.Add(a.DeviceRowOffsets.Pointer.Address);
        args.Add(a.DeviceColumnIndices.Pointer.Address);
        args.Add(input.Address);
        args.Add(output.Address);
        var config = new LaunchConfig(new Dim3(OperandChecks.Blocks(a.Rows, WarpsPerBlock, op)), new Dim3(32, WarpsPerBlock), 0);
        kernel.Launch(device, config, ref args, stream);
    }
}
