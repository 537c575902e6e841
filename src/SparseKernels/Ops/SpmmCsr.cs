using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>The variant of the SpMM kernel to launch (kernels/spmm_csr.cu lists what each assumes).</summary>
public enum SpmmCsrVersion
{
    /// <summary><c>spmm_csr_v1</c>: one warp per row of A, lanes over the columns of B. Simple and correct.</summary>
    V1 = 1,

    /// <summary>
    /// <c>spmm_csr_v2_scalar</c> / <c>spmm_csr_v2_vec4</c>: Sputnik-style (row swizzle, subwarp tiling, staged
    /// sparse tile, aligned vector loads, pre-scaled byte offsets); float4 on B and C when N % 4 == 0.
    /// </summary>
    V2 = 2,

    /// <summary>
    /// <c>spmm_csr_v3_scalar</c> / <c>spmm_csr_v3_vec4</c>: V2 with the staged sparse tile stored by 16-byte vector
    /// stores into per-subwarp shared-memory slices padded to 4*S+4 words, so that the staging stores and the
    /// subwarps' broadcast reads no longer conflict on shared-memory banks (see kernels/spmm_csr.cu). Same launch
    /// shape, requirements and results as V2. Not yet measured on a GPU against V2, so V2 stays available.
    /// </summary>
    V3 = 3,
}

/// <summary>
/// Sparse (CSR) times dense on a device: C = A . B with A m x k CSR and B k x n, C m x n, all
/// row-major and device-resident (kernel <c>spmm_csr_*</c>, kernels/spmm_csr.cu).
/// </summary>
public static class SpmmCsr
{
    private static readonly KernelRef s_spmmCsrV1 = new("spmm_csr_v1");
    private static readonly KernelRef s_spmmCsrV3Vec4 = new("spmm_csr_v3_vec4");
    private static readonly KernelRef s_spmmCsrV3Scalar = new("spmm_csr_v3_scalar");
    private static readonly KernelRef s_spmmCsrV2Vec4 = new("spmm_csr_v2_vec4");
    private static readonly KernelRef s_spmmCsrV2Scalar = new("spmm_csr_v2_scalar");

    /// <summary>Warps (rows of A) per block of <c>spmm_csr_v1</c>: block = (32, WarpsPerBlock).</summary>
    public const int WarpsPerBlockV1 = 4;

    /// <summary>Warps per block of the v2 kernels: block = (32, 4) (SK_SPMM_V2_WARPS in kernels/spmm_csr.cu).</summary>
    public const int WarpsPerBlockV2 = 4;

    private const string Op = "SpmmCsr";

    /// <summary>Warps per block of the v3 kernels: block = (32, 4) (SK_SPMM_V3_WARPS in kernels/spmm_csr.cu).</summary>
    public const int WarpsPerBlockV3 = 4;

    /// <summary>Whether the v2 kernels may stage column indices as 32-bit byte offsets c*n*4 (all of B's rows, k*n*4 bytes, fit in int32).</summary>
    internal static bool CanPrescale(long k, long n) => k * n * sizeof(float) <= int.MaxValue;

    /// <summary>The v2 subwarp width for n columns: the smallest of 4, 8, 16, 32 lanes whose tile (lanes * V columns) covers n, else 32.</summary>
    internal static int SubwarpFor(int n, int v)
    {
        for (int s = 4; s <= 16; s *= 2)   // no array: this runs on every launch
            if ((long)s * v >= n) return s;
        return 32;
    }

    /// <summary>
    /// C = A . B. <paramref name="a"/> is m x k CSR, <paramref name="b"/> is k x n, <paramref name="c"/>
    /// is m x n and is overwritten (rows of A without nonzeros give zero rows). All on <paramref name="device"/>;
    /// <paramref name="c"/> must not be <paramref name="b"/>. Queued on <paramref name="stream"/> (default: the device's).
    /// </summary>
    /// <exception cref="ArgumentException">An operand is on the host or another device, the shapes disagree, or C is B.</exception>
    public static void Run(IDevice device, CsrMatrix a, DenseTensor b, DenseTensor c, SpmmCsrVersion version = SpmmCsrVersion.V1, DeviceStream? stream = null)
        => Run(device, a, b, c, version, stream, allowPrescale: true);

    /// <summary>
    /// <see cref="Run(IDevice, CsrMatrix, DenseTensor, DenseTensor, SpmmCsrVersion, DeviceStream?)"/>; with
    /// <paramref name="allowPrescale"/> false the tiled versions take their 64-bit offset path even where the 32-bit
    /// byte offsets fit (the tests exercise that path on small shapes).
    /// </summary>
    internal static void Run(IDevice device, CsrMatrix a, DenseTensor b, DenseTensor c, SpmmCsrVersion version, DeviceStream? stream, bool allowPrescale)
    {
        OperandChecks.Device(device, Op);
        OperandChecks.On(device, a, Op, nameof(a));
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        if (a.Cols != b.Rows)
            throw new ArgumentException($"{Op}: A is {a.Rows}x{a.Cols} (CSR) but B is {b.Rows}x{b.Cols}; A's columns ({a.Cols}) must equal B's rows.", nameof(b));
        if (c.Rows != a.Rows || c.Cols != b.Cols)
            throw new ArgumentException($"{Op}: C is {c.Rows}x{c.Cols}; A ({a.Rows}x{a.Cols}) times B ({b.Rows}x{b.Cols}) needs C to be {a.Rows}x{b.Cols}.", nameof(c));
        Launch(device, a, b, c, version, stream, Op, "A", "B", "C", allowPrescale);
    }

    /// <summary>A new m x n tensor on <paramref name="device"/> holding A . B (see <see cref="Run(IDevice, CsrMatrix, DenseTensor, DenseTensor, SpmmCsrVersion, DeviceStream?)"/>).</summary>
    public static DenseTensor Compute(IDevice device, CsrMatrix a, DenseTensor b, SpmmCsrVersion version = SpmmCsrVersion.V1, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var c = DenseTensor.Allocate(device, a.Rows, b.Cols);
        try { Run(device, a, b, c, version, stream); }
        catch { c.Dispose(); throw; }
        return c;
    }

    /// <summary>
    /// C = A^T . B for A m x k, given <paramref name="aTransposed"/> = the CSR of A^T (k x m, e.g. from
    /// transposing A once on the host and keeping it on the device). <paramref name="b"/> is m x n,
    /// <paramref name="c"/> is k x n and is overwritten. This launches the same kernel as
    /// <see cref="Run(IDevice, CsrMatrix, DenseTensor, DenseTensor, SpmmCsrVersion, DeviceStream?)"/> on A^T;
    /// it exists so that the shapes are checked, and errors are worded, in terms of A.
    /// A dedicated transposed kernel (working from A's own CSR) may replace it later.
    /// </summary>
    public static void RunTransposed(IDevice device, CsrMatrix aTransposed, DenseTensor b, DenseTensor c, SpmmCsrVersion version = SpmmCsrVersion.V1, DeviceStream? stream = null)
    {
        const string op = Op + ".RunTransposed";
        OperandChecks.Device(device, op);
        OperandChecks.On(device, aTransposed, op, nameof(aTransposed));
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(c);
        // A is aTransposed.Cols x aTransposed.Rows.
        if (aTransposed.Cols != b.Rows)
            throw new ArgumentException($"{op}: A^T is {aTransposed.Rows}x{aTransposed.Cols} (so A is {aTransposed.Cols}x{aTransposed.Rows}) but B is {b.Rows}x{b.Cols}; A's rows ({aTransposed.Cols}) must equal B's rows.", nameof(b));
        if (c.Rows != aTransposed.Rows || c.Cols != b.Cols)
            throw new ArgumentException($"{op}: C is {c.Rows}x{c.Cols}; A^T ({aTransposed.Rows}x{aTransposed.Cols}) times B ({b.Rows}x{b.Cols}) needs C to be {aTransposed.Rows}x{b.Cols}.", nameof(c));
        Launch(device, aTransposed, b, c, version, stream, op, "A^T", "B", "C", allowPrescale: true);
    }

    private static void Launch(IDevice device, CsrMatrix a, DenseTensor b, DenseTensor c, SpmmCsrVersion version, DeviceStream? stream,
                               string op, string aName, string bName, string cName, bool allowPrescale)
    {
        DevicePtr pb = OperandChecks.On(device, b, op, bName);
        DevicePtr pc = OperandChecks.On(device, c, op, cName);
        OperandChecks.NotSame(c.DeviceData, b.DeviceData, op, cName, bName);
        if (version is not (SpmmCsrVersion.V1 or SpmmCsrVersion.V2 or SpmmCsrVersion.V3))
            throw new ArgumentOutOfRangeException(nameof(version), version, $"{op}: unknown kernel version {version}; available: V1, V2, V3.");
        if (a.Rows == 0 || b.Cols == 0) return; // C has no elements
        // V2/V3 tile the columns of B on the grid's y axis (at most 65535 tiles of >= 32 columns); wider B runs V1.
        if (version != SpmmCsrVersion.V1 && (b.Cols + 31L) / 32 <= 65535)
        {
            LaunchTiled(device, a, pb, pc, b.Cols, version, stream, op, aName, allowPrescale);
            return;
        }
        DevicePtr rowOffsets = a.DeviceRowOffsets.Pointer, columns = a.DeviceColumnIndices.Pointer, values = a.DeviceValues.Pointer;

        var args = new KernelArgs();
        args.Add(a.Rows);
        args.Add(a.Cols);
        args.Add(b.Cols);
        args.Add(rowOffsets.Address);
        args.Add(columns.Address);
        args.Add(values.Address);
        args.Add(pb.Address);
        args.Add(pc.Address);
        var config = new LaunchConfig(
            new Dim3(OperandChecks.Blocks(a.Rows, WarpsPerBlockV1, op)),
            new Dim3(32, WarpsPerBlockV1),
            0);
        s_spmmCsrV1.Launch(device, config, ref args, stream);
    }

    /// <summary>V2 and V3: the same arguments and launch shape (SK_SPMM_V2_WARPS == SK_SPMM_V3_WARPS), different kernels.</summary>
    private static void LaunchTiled(IDevice device, CsrMatrix a, DevicePtr pb, DevicePtr pc, int n, SpmmCsrVersion version, DeviceStream? stream, string op, string aName, bool allowPrescale)
    {
        DevicePtr columns = a.DeviceColumnIndices.Pointer, values = a.DeviceValues.Pointer;
        if (columns.Address % 16 != 0 || values.Address % 16 != 0)
            throw new ArgumentException($"{op}: {version} loads {aName}'s column indices and values as 16-byte vectors; their device addresses ({columns}, {values}) must be 16-byte aligned (use a matrix from CsrMatrix.ToDevice).", aName);
        bool vec4 = n % 4 == 0 && pb.Address % 16 == 0 && pc.Address % 16 == 0;
        int v = vec4 ? 4 : 1;
        int subwarp = SubwarpFor(n, v);
        int prescale = allowPrescale && CanPrescale(a.Cols, n) ? 1 : 0;
        var swizzle = RowSwizzle.For(a);

        var args = new KernelArgs();
        args.Add(a.Rows);
        args.Add(a.Cols);
        args.Add(n);
        args.Add(subwarp);
        args.Add(prescale);
        args.Add(swizzle.Pointer.Address);
        args.Add(a.DeviceRowOffsets.Pointer.Address);
        args.Add(columns.Address);
        args.Add(values.Address);
        args.Add(pb.Address);
        args.Add(pc.Address);
        int warps = version == SpmmCsrVersion.V3 ? WarpsPerBlockV3 : WarpsPerBlockV2;
        int rowsPerBlock = warps * 32 / subwarp;
        long tile = (long)subwarp * v;
        var config = new LaunchConfig(
            new Dim3(OperandChecks.Blocks(a.Rows, rowsPerBlock, op), OperandChecks.Blocks(n, tile, op)),
            new Dim3(32, (uint)warps),
            0);
        KernelRef id = version == SpmmCsrVersion.V3
            ? (vec4 ? s_spmmCsrV3Vec4 : s_spmmCsrV3Scalar)
            : (vec4 ? s_spmmCsrV2Vec4 : s_spmmCsrV2Scalar);
        id.Launch(device, config, ref args, stream);
    }
}
