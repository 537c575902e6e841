using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Topology;

/// <summary>
/// A dense m x n byte mask (nonzero = present, row-major) to CSR and back on a device (kernels/mask_csr.cu), for
/// masked-dense layers and for export.
/// </summary>
public static class MaskCsr
{
    private static readonly KernelRef s_maskCsrRowCountsV1 = new("mask_csr_row_counts_v1");
    private static readonly KernelRef s_maskCsrFillV1 = new("mask_csr_fill_v1");
    private static readonly KernelRef s_maskFromCsrV1 = new("mask_from_csr_v1");

    internal const string Op = "MaskCsr";

    /// <summary>The CSR of the mask's nonzeros, sorted columns; values from <paramref name="dense"/> (m x n) when given, else 1.</summary>
    public static CsrMatrix ToCsr(IDevice device, DeviceBuffer<byte> mask, int rows, int cols, DenseTensor? dense = null, string layer = "layer")
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, mask, Op, nameof(mask));
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"{Op}: layer '{layer}': shape {rows}x{cols} is negative.");
        TopologyChecks.SizeFitsInt(Op, layer, (long)rows * cols, "positions");
        if (mask.Length < (long)rows * cols)
            throw new ArgumentException($"{Op}: layer '{layer}': the mask holds {mask.Length} bytes, a {rows}x{cols} layer needs {(long)rows * cols}.", nameof(mask));
        ulong pDense = 0;
        if (dense is not null)
        {
            if (dense.Rows != rows || dense.Cols != cols)
                throw new ArgumentException($"{Op}: layer '{layer}': the mask is {rows}x{cols} but the dense values are {dense.Rows}x{dense.Cols}.", nameof(dense));
            pDense = OperandChecks.On(device, dense, Op, nameof(dense)).Address;
        }
        var rowOffsets = device.Allocate<int>(rows + 1);
        int nnz = 0;
        if (rows > 0)
        {
            using var counts = device.Allocate<int>(rows);
            var args = new KernelArgs();
            args.Add(rows); args.Add(cols); args.Add(mask.Pointer.Address); args.Add(counts.Pointer.Address);
            TopkSelect.Launch(device, s_maskCsrRowCountsV1, rows, ref args);
            var c = counts.ToArray();
            var ro = new int[rows + 1];
            for (int r = 0; r < rows; r++) ro[r + 1] = ro[r] + c[r];
            nnz = ro[rows];
            rowOffsets.CopyFrom(ro);
        }
        else rowOffsets.CopyFrom([0]);
        var ci = device.Allocate<int>(Math.Max(nnz, 1));
        var v = device.Allocate<float>(Math.Max(nnz, 1));
        if (rows > 0 && nnz > 0)
        {
            var args = new KernelArgs();
            args.Add(rows); args.Add(cols); args.Add(mask.Pointer.Address); args.Add(pDense);
            args.Add(rowOffsets.Pointer.Address); args.Add(ci.Pointer.Address); args.Add(v.Pointer.Address);
            TopkSelect.Launch(device, s_maskCsrFillV1, rows, ref args);
        }
        return CsrMatrix.FromDevice(rows, cols, nnz, rowOffsets, ci, v);
    }

    /// <summary>The m x n byte mask of a device CSR's pattern (1 = present), in a new buffer (rounded up to whole 32-bit words).</summary>
    public static DeviceBuffer<byte> ToMask(IDevice device, CsrMatrix pattern, string layer = "layer")
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, pattern, Op, nameof(pattern));
        long size = (long)pattern.Rows * pattern.Cols;
        TopologyChecks.SizeFitsInt(Op, layer, size, "positions");
        var mask = device.Allocate<byte>(Math.Max(4, (size + 3) / 4 * 4));
        device.Fill32(mask, 0u);
        if (pattern.Nnz > 0)
        {
            var args = new KernelArgs();
            args.Add(pattern.Rows); args.Add(pattern.Cols);
            args.Add(pattern.DeviceRowOffsets.Pointer.Address); args.Add(pattern.DeviceColumnIndices.Pointer.Address);
            args.Add(mask.Pointer.Address);
            TopkSelect.Launch(device, s_maskFromCsrV1, pattern.Rows, ref args);
        }
        return mask;
    }
}
