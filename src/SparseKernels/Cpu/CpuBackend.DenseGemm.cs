using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.Cpu;

/// <summary>Dense matmul of the CPU backend (cache-blocked, register-tiled).</summary>
public sealed partial class CpuBackend
{
    // ---------------------------------------------------------------- dense matmul

    private const int MatmulRowBlock = 32, MatmulKBlock = 256, MatmulNBlock = 512;

    /// <summary>op(a) . op(b): a cache-blocked, register-tiled (4 rows x 2 vectors) kernel for every transpose combination.</summary>
    public DenseTensor DenseGemm(DenseTensor a, DenseTensor b, bool transposeA = false, bool transposeB = false)
    {
        var (m, _, n) = Shapes.DenseGemm(a, b, transposeA, transposeB);
        var c = DenseTensor.Zeros(m, n);
        DenseGemmInto(a, b, transposeA, transposeB, c.HostData, null);
        return c;
    }

    /// <summary>
    /// <see cref="DenseGemm"/> into <paramref name="cd"/> (m x n, overwritten); the transposed operands' copies come
    /// from <paramref name="scratch"/> (and go back to it) when one is given.
    /// </summary>
    internal void DenseGemmInto(DenseTensor a, DenseTensor b, bool transposeA, bool transposeB, float[] cd, HostArrayPool? scratch)
    {
        var (m, k, n) = Shapes.DenseGemm(a, b, transposeA, transposeB);
        if (cd.LongLength != (long)m * n)
            throw new ArgumentException($"DenseGemm: the output holds {cd.LongLength} values for {m}x{n}.", nameof(cd));
        // Bring both operands to row-major op(a) MxK and op(b) KxN: O(MK + KN) copies beside O(MNK) work,
        // after which one well-tuned kernel serves all four combinations.
        float[] ad = transposeA ? TransposeDense(a.HostData, a.Rows, a.Cols, scratch) : a.HostData;
        float[] bd = transposeB ? TransposeDense(b.HostData, b.Rows, b.Cols, scratch) : b.HostData;
        Array.Clear(cd);
        if (m != 0 && n != 0 && k != 0) GemmCore(ad, bd, cd, m, k, n);
        if (scratch is not null)
        {
            if (transposeA) scratch.Return(ad);
            if (transposeB) scratch.Return(bd);
        }
    }

    private void GemmCore(float[] ad, float[] bd, float[] cd, int m, int k, int n)
    {
        int blocks = (m + MatmulRowBlock - 1) / MatmulRowBlock;
        Parallel.For(0, blocks, Options, blk =>
        {
            int i0 = blk * MatmulRowBlock, i1 = Math.Min(m, i0 + MatmulRowBlock);
            for (int k0 = 0; k0 < k; k0 += MatmulKBlock)
            {
                int k1 = Math.Min(k, k0 + MatmulKBlock);
                for (int j0 = 0; j0 < n; j0 += MatmulNBlock)
                {
                    int j1 = Math.Min(n, j0 + MatmulNBlock);
                    int i = i0;
                    for (; i + 4 <= i1; i += 4) MatmulRows4(ad, bd, cd, k, n, i, k0, k1, j0, j1);
                    for (; i < i1; i++) MatmulRow1(ad, bd, cd, k, n, i, k0, k1, j0, j1);
                }
            }
        });
    }

    private static float[] TransposeDense(float[] src, int rows, int cols, HostArrayPool? scratch)
    {
        var dst = scratch?.Rent(src.Length) ?? new float[src.Length];
        DenseTensor.TransposeInto(src, rows, cols, dst);
        return dst;
    }

    private static void MatmulRows4(float[] a, float[] b, float[] c, int k, int n, int i, int k0, int k1, int j0, int j1)
    {
        ref float A = ref MemoryMarshal.GetArrayDataReference(a);
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        int vc = VC;
        nuint a0 = (nuint)((long)i * k), a1 = a0 + (nuint)k, a2 = a1 + (nuint)k, a3 = a2 + (nuint)k;
        nuint c0 = (nuint)((long)i * n), c1 = c0 + (nuint)n, c2 = c1 + (nuint)n, c3 = c2 + (nuint)n;
        int j = j0;
        for (; j + 2 * vc <= j1; j += 2 * vc)
        {
            nuint jj = (nuint)j, jv = jj + (nuint)vc;
            var x00 = Vector.LoadUnsafe(ref C, c0 + jj); var x01 = Vector.LoadUnsafe(ref C, c0 + jv);
            var x10 = Vector.LoadUnsafe(ref C, c1 + jj); var x11 = Vector.LoadUnsafe(ref C, c1 + jv);
            var x20 = Vector.LoadUnsafe(ref C, c2 + jj); var x21 = Vector.LoadUnsafe(ref C, c2 + jv);
            var x30 = Vector.LoadUnsafe(ref C, c3 + jj); var x31 = Vector.LoadUnsafe(ref C, c3 + jv);
            for (int p = k0; p < k1; p++)
            {
                nuint bo = (nuint)((long)p * n) + jj;
                var b0 = Vector.LoadUnsafe(ref B, bo);
                var b1 = Vector.LoadUnsafe(ref B, bo + (nuint)vc);
                nuint pp = (nuint)p;
                var s = new Vector<float>(Unsafe.Add(ref A, a0 + pp));
                x00 = Vector.FusedMultiplyAdd(b0, s, x00); x01 = Vector.FusedMultiplyAdd(b1, s, x01);
                s = new Vector<float>(Unsafe.Add(ref A, a1 + pp));
                x10 = Vector.FusedMultiplyAdd(b0, s, x10); x11 = Vector.FusedMultiplyAdd(b1, s, x11);
                s = new Vector<float>(Unsafe.Add(ref A, a2 + pp));
                x20 = Vector.FusedMultiplyAdd(b0, s, x20); x21 = Vector.FusedMultiplyAdd(b1, s, x21);
                s = new Vector<float>(Unsafe.Add(ref A, a3 + pp));
                x30 = Vector.FusedMultiplyAdd(b0, s, x30); x31 = Vector.FusedMultiplyAdd(b1, s, x31);
            }
            x00.StoreUnsafe(ref C, c0 + jj); x01.StoreUnsafe(ref C, c0 + jv);
            x10.StoreUnsafe(ref C, c1 + jj); x11.StoreUnsafe(ref C, c1 + jv);
            x20.StoreUnsafe(ref C, c2 + jj); x21.StoreUnsafe(ref C, c2 + jv);
            x30.StoreUnsafe(ref C, c3 + jj); x31.StoreUnsafe(ref C, c3 + jv);
        }
        if (j < j1)
            for (int r = 0; r < 4; r++) MatmulRow1(a, b, c, k, n, i + r, k0, k1, j, j1);
    }

    private static void MatmulRow1(float[] a, float[] b, float[] c, int k, int n, int i, int k0, int k1, int j0, int j1)
    {
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        int vc = VC;
        nuint crow = (nuint)((long)i * n);
        long arow = (long)i * k;
        int j = j0;
        for (; j + vc <= j1; j += vc)
        {
            var acc = Vector.LoadUnsafe(ref C, crow + (nuint)j);
            for (int p = k0; p < k1; p++)
                acc = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref B, (nuint)((long)p * n + j)), new Vector<float>(a[arow + p]), acc);
            acc.StoreUnsafe(ref C, crow + (nuint)j);
        }
        for (; j < j1; j++)
        {
            float acc = Unsafe.Add(ref C, crow + (nuint)j);
            for (int p = k0; p < k1; p++) acc = MathF.FusedMultiplyAdd(a[arow + p], b[(long)p * n + j], acc);
            Unsafe.Add(ref C, crow + (nuint)j) = acc;
        }
    }
}
