using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>The variant of the SDDMM kernel to launch (kernels/sddmm_csr.cu lists what each assumes).</summary>
public enum SddmmCsrVersion
{
    /// <summary><c>sddmm_csr_v1</c>: one warp per row of the pattern, lanes over k, shuffle reduction. Simple and correct.</summary>
    V1 = 1,

    /// <summary>
    /// <c>sddmm_csr_v2_scalar</c> / <c>sddmm_csr_v2_vec4</c>: row swizzle, a subwarp per nonzero, float4 loads
    /// of X and Y when k % 4 == 0, subwarp shuffle reductions.
    /// </summary>
    V2 = 2,

    /// <summary>
    /// <c>sddmm_csr_v3_scalar</c> / <c>sddmm_csr_v3_vec4</c>: V2 with each row of X loaded once into registers (in
    /// chunks of up to 512 elements of k, any k) and reused for all the row's nonzeros, instead of re-read from
    /// global memory for each nonzero. Same launch shape and requirements as V2. Not yet measured on a GPU against
    /// V2, so V2 stays available.
    /// </summary>
    V3 = 3,
}

/// <summary>
/// Sampled dense-dense matmul on a device: for each nonzero (i, j) of an m x n CSR pattern,
/// out = sum_t X[i, t] * Y[j, t], with X m x k and Y n x k row-major (kernel <c>sddmm_csr_*</c>,
/// kernels/sddmm_csr.cu). The pattern's own values are not read.
/// </summary>
public static class SddmmCsr
{
    private static readonly KernelRef s_sddmmCsrV1 = new("sddmm_csr_v1");
    private static readonly KernelRef s_sddmmCsrV3Vec4 = new("sddmm_csr_v3_vec4");
    private static readonly KernelRef s_sddmmCsrV3Scalar = new("sddmm_csr_v3_scalar");
    private static readonly KernelRef s_sddmmCsrV2Vec4 = new("sddmm_csr_v2_vec4");
    private static readonly KernelRef s_sddmmCsrV2Scalar = new("sddmm_csr_v2_scalar");

    /// <summary>Warps (rows of the pattern) per block of <c>sddmm_csr_v1</c>: block = (32, WarpsPerBlock).</summary>
    public const int WarpsPerBlockV1 = 4;

    private const string Op = "SddmmCsr";

    /// <summary>Writes the sampled products into <paramref name="pattern"/>'s own values (<see cref="CsrMatrix.DeviceValues"/>).</summary>
    /// <exception cref="ArgumentException">An operand is on the host or another device, or the shapes disagree.</exception>
    public static void Run(IDevice device, DenseTensor x, DenseTensor y, CsrMatrix pattern, SddmmCsrVersion version = SddmmCsrVersion.V1, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, pattern, Op, nameof(pattern));
        Run(device, x, y, pattern, pattern.DeviceValues, version, stream);
    }

    /// <summary>
    /// Writes the sampled products into <paramref name="output"/> (one per nonzero of
    /// <paramref name="pattern"/>, in CSR order), leaving the pattern's values alone. X is m x k,
    /// Y is n x k, the pattern is m x n. All on <paramref name="device"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An operand is on the host or another device, the shapes disagree, or the output is X or Y.</exception>
    public static void Run(IDevice device, DenseTensor x, DenseTensor y, CsrMatrix pattern, DeviceBuffer<float> output, SddmmCsrVersion version = SddmmCsrVersion.V1, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, pattern, Op, nameof(pattern));
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Rows != pattern.Rows)
            throw new ArgumentException($"{Op}: X is {x.Rows}x{x.Cols} but the pattern is {pattern.Rows}x{pattern.Cols}; X needs one row per pattern row ({pattern.Rows}).", nameof(x));
        if (y.Rows != pattern.Cols)
            throw new ArgumentException($"{Op}: Y is {y.Rows}x{y.Cols} but the pattern is {pattern.Rows}x{pattern.Cols}; Y needs one row per pattern column ({pattern.Cols}).", nameof(y));
        if (x.Cols != y.Cols)
            throw new ArgumentException($"{Op}: X is {x.Rows}x{x.Cols} and Y is {y.Rows}x{y.Cols}; their column counts (k) must agree.", nameof(y));
        DevicePtr px = OperandChecks.On(device, x, Op, nameof(x));
        DevicePtr py = OperandChecks.On(device, y, Op, nameof(y));
        DevicePtr pout = OperandChecks.On(device, output, Op, nameof(output));
        if (output.Length != pattern.Nnz)
            throw new ArgumentException($"{Op}: the output has {output.Length} elements; the {pattern.Rows}x{pattern.Cols} pattern has {pattern.Nnz} nonzeros.", nameof(output));
        OperandChecks.NotSame(output, x.DeviceData, Op, nameof(output), "X");
        OperandChecks.NotSame(output, y.DeviceData, Op, nameof(output), "Y");
        if (version is not (SddmmCsrVersion.V1 or SddmmCsrVersion.V2 or SddmmCsrVersion.V3))
            throw new ArgumentOutOfRangeException(nameof(version), version, $"{Op}: unknown kernel version {version}; available: V1, V2, V3.");
        if (pattern.Nnz == 0) return; // nothing to write
        if (version != SddmmCsrVersion.V1)
        {
            LaunchTiled(device, pattern, px, py, pout, x.Cols, version, stream);
            return;
        }

        var args = new KernelArgs();
        args.Add(pattern.Rows);
        args.Add(pattern.Cols);
        args.Add(x.Cols);
        args.Add(pattern.DeviceRowOffsets.Pointer.Address);
        args.Add(pattern.DeviceColumnIndices.Pointer.Address);
        args.Add(px.Address);
        args.Add(py.Address);
        args.Add(pout.Address);
        var config = new LaunchConfig(
            new Dim3(OperandChecks.Blocks(pattern.Rows, WarpsPerBlockV1, Op)),
            new Dim3(32, WarpsPerBlockV1),
            0);
        s_sddmmCsrV1.Launch(device, config, ref args, stream);
    }

    /// <summary>The v2/v3 subwarp width (lanes per nonzero) for a dot product of k terms read V at a time.</summary>
    internal static int SubwarpFor(int k, int v) => (long)k >= 32L * v ? 32 : (long)k >= 16L * v ? 16 : 8;

    /// <summary>V2 and V3: the same arguments and launch shape, different kernels.</summary>
    private static void LaunchTiled(IDevice device, CsrMatrix pattern, DevicePtr px, DevicePtr py, DevicePtr pout, int k, SddmmCsrVersion version, DeviceStream? stream)
    {
        bool vec4 = k % 4 == 0 && px.Address % 16 == 0 && py.Address % 16 == 0;
        int v = vec4 ? 4 : 1;
        var swizzle = RowSwizzle.For(pattern);
        var args = new KernelArgs();
        args.Add(pattern.Rows);
        args.Add(pattern.Cols);
        args.Add(k);
        args.Add(SubwarpFor(k, v));
        args.Add(swizzle.Pointer.Address);
        args.Add(pattern.DeviceRowOffsets.Pointer.Address);
        args.Add(pattern.DeviceColumnIndices.Pointer.Address);
        args.Add(px.Address);
        args.Add(py.Address);
        args.Add(pout.Address);
        var config = new LaunchConfig(
            new Dim3(OperandChecks.Blocks(pattern.Rows, WarpsPerBlockV1, Op)),
            new Dim3(32, WarpsPerBlockV1),
            0);
        KernelRef id = version == SddmmCsrVersion.V3
            ? (vec4 ? s_sddmmCsrV3Vec4 : s_sddmmCsrV3Scalar)
            : (vec4 ? s_sddmmCsrV2Vec4 : s_sddmmCsrV2Scalar);
        id.Launch(device, config, ref args, stream);
    }
}
