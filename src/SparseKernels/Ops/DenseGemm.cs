using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Ops;

/// <summary>
/// Dense row-major C = op(A) . op(B) on a device with the plain tiled kernel <c>dense_gemm_v1</c>
/// (kernels/dense_gemm.cu): the emulated device's dense matmul. On a CUDA device training uses cuBLAS.
/// </summary>
public static class DenseGemm
{
    private static readonly KernelRef s_denseGemmV1 = new("dense_gemm_v1");

    private const string Op = "DenseGemm";
    internal const int Tile = 16;

    /// <summary>C (overwritten) = op(A) . op(B); C must alias neither input.</summary>
    public static void Run(IDevice device, DenseTensor a, DenseTensor b, DenseTensor c, bool transA = false, bool transB = false, DeviceStream? stream = null)
    {
        OperandChecks.Device(device, Op);
        DevicePtr pa = OperandChecks.On(device, a, Op, nameof(a));
        DevicePtr pb = OperandChecks.On(device, b, Op, nameof(b));
        DevicePtr pc = OperandChecks.On(device, c, Op, nameof(c));
        int m = transA ? a.Cols : a.Rows, k = transA ? a.Rows : a.Cols;
        int kb = transB ? b.Cols : b.Rows, n = transB ? b.Rows : b.Cols;
        if (k != kb)
            throw new ArgumentException($"{Op}: op(A) is {m}x{k} and op(B) is {kb}x{n} (A {a.Rows}x{a.Cols}{(transA ? " transposed" : "")}, B {b.Rows}x{b.Cols}{(transB ? " transposed" : "")}); the inner dimensions must agree.", nameof(b));
        if (c.Rows != m || c.Cols != n)
            throw new ArgumentException($"{Op}: C is {c.Rows}x{c.Cols}; op(A) . op(B) is {m}x{n}.", nameof(c));
        OperandChecks.NotSame(c.DeviceData, a.DeviceData, Op, "C", "A");
        OperandChecks.NotSame(c.DeviceData, b.DeviceData, Op, "C", "B");
        if (m == 0 || n == 0) return;
        var args = new KernelArgs();
        args.Add(m); args.Add(n); args.Add(k); args.Add(transA ? 1 : 0); args.Add(transB ? 1 : 0);
        args.Add(pa.Address); args.Add(pb.Address); args.Add(pc.Address);
        var config = new LaunchConfig(new Dim3((uint)((n + Tile - 1) / Tile), (uint)((m + Tile - 1) / Tile)), new Dim3(Tile, Tile), 2 * Tile * Tile * sizeof(float));
        s_denseGemmV1.Launch(device, config, ref args, stream);
    }
}
