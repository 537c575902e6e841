using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>The variant of the masked dense GEMM kernel (kernels/masked_gemm.cu lists what each assumes).</summary>
public enum MaskedGemmVersion
{
    /// <summary><c>masked_gemm_v1</c>: fp32, 64x64 block tiles in shared memory, 4x4 register blocks per thread.</summary>
    V1 = 1,

    /// <summary>
    /// <c>masked_gemm_v2</c>: V1 with its shared tiles padded to 66 words per row, so that the staging stores (16-way
    /// bank conflicts in V1) are conflict-free; same tiling, global load pattern and results. Not yet measured on a
    /// GPU against V1, so V1 stays the default.
    /// </summary>
    V2 = 2,
}

/// <summary>
/// Masked dense GEMM on a device, for the low-sparsity end of a sparse layer: C = X . (W o mask)^T with X m x k,
/// W n x k (out x in, the layer's weight), mask n x k bytes (nonzero keeps the weight) or none, C m x n; all
/// row-major (kernel <c>masked_gemm_*</c>, kernels/masked_gemm.cu).
/// </summary>
public static class MaskedGemm
{
    private static readonly KernelRef s_maskedGemmV2 = new("masked_gemm_v2");
    private static readonly KernelRef s_maskedGemmV1 = new("masked_gemm_v1");

    private const string Op = "MaskedGemm";

    /// <summary>
    /// C = X . (W o mask)^T (or X . W^T when <paramref name="mask"/> is null); C is overwritten.
    /// <paramref name="version"/> picks the kernel (default V1, the existing behaviour).
    /// </summary>
    /// <exception cref="ArgumentException">An operand is on the host or another device, the shapes disagree, or C is an input.</exception>
    public static void Run(IDevice device, DenseTensor x, DenseTensor w, DeviceBuffer<byte>? mask, DenseTensor c,
                           MaskedGemmVersion version = MaskedGemmVersion.V1, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(c);
        if (x.Cols != w.Cols)
            throw new ArgumentException($"{Op}: X is {x.Rows}x{x.Cols} and W is {w.Rows}x{w.Cols}; W (out x in) needs as many columns as X ({x.Cols}).", nameof(w));
        if (c.Rows != x.Rows || c.Cols != w.Rows)
            throw new ArgumentException($"{Op}: C is {c.Rows}x{c.Cols}; X ({x.Rows}x{x.Cols}) times W^T ({w.Cols}x{w.Rows}) needs C to be {x.Rows}x{w.Rows}.", nameof(c));
        DevicePtr px = OperandChecks.On(device, x, Op, "X");
        DevicePtr pw = OperandChecks.On(device, w, Op, "W");
        DevicePtr pc = OperandChecks.On(device, c, Op, "C");
        ulong pmask = 0;
        if (mask is not null)
        {
            pmask = OperandChecks.On(device, mask, Op, nameof(mask)).Address;
            if (mask.Length != (long)w.Rows * w.Cols)
                throw new ArgumentException($"{Op}: the mask has {mask.Length} elements; W is {w.Rows}x{w.Cols} ({(long)w.Rows * w.Cols}).", nameof(mask));
        }
        OperandChecks.NotSame(c.DeviceData, x.DeviceData, Op, "C", "X");
        OperandChecks.NotSame(c.DeviceData, w.DeviceData, Op, "C", "W");
        if (version is not (MaskedGemmVersion.V1 or MaskedGemmVersion.V2))
            throw new ArgumentOutOfRangeException(nameof(version), version, $"{Op}: unknown kernel version {version}; available: V1, V2.");
        if (c.Rows == 0 || c.Cols == 0) return;

        var args = new KernelArgs();
        args.Add(x.Rows);
        args.Add(w.Rows);
        args.Add(x.Cols);
        args.Add(px.Address);
        args.Add(pw.Address);
        args.Add(pmask);
        args.Add(pc.Address);
        var config = new LaunchConfig(
            new Dim3(OperandChecks.Blocks(w.Rows, 64, Op), OperandChecks.Blocks(x.Rows, 64, Op)),
            new Dim3(16, 16),
            0);
        // V1 and V2 take the same arguments and launch shape.
        (version == MaskedGemmVersion.V2 ? s_maskedGemmV2 : s_maskedGemmV1).Launch(device, config, ref args, stream);
    }
}
