using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
        // a . b^T with a long reduction (a convolution's weight gradient dY . col^T, K = batch * plane): dot products of
        // rows, no copy of b (which is the large operand there).
        if (!transposeA && transposeB && k >= GemmNtMinK)
        {
            GemmNt(a.HostData, b.HostData, cd, m, k, n);
            return;
        }
        // Otherwise bring both operands to row-major op(a) MxK and op(b) KxN: O(MK + KN) copies beside O(MNK) work,
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

    /// <summary>
    /// C = A . B (row-major), parallel over tiles of 32 rows x 512 columns (so that a short, wide product - a
    /// convolution's W . col with 20-50 output channels - still uses every thread); each tile runs its k-blocks in order,
    /// so the sums, and the result, do not depend on the thread count.
    /// </summary>
    private void GemmCore(float[] ad, float[] bd, float[] cd, int m, int k, int n)
    {
        int rowBlocks = (m + MatmulRowBlock - 1) / MatmulRowBlock, colBlocks = (n + MatmulNBlock - 1) / MatmulNBlock;
        void Tile(int t)
        {
            int i0 = t / colBlocks * MatmulRowBlock, i1 = Math.Min(m, i0 + MatmulRowBlock);
            int j0 = t % colBlocks * MatmulNBlock, j1 = Math.Min(n, j0 + MatmulNBlock);
            for (int k0 = 0; k0 < k; k0 += MatmulKBlock)
            {
                int k1 = Math.Min(k, k0 + MatmulKBlock);
                int i = i0;
                int strips = (j1 - j0) / 32;
                if (Vector512.IsHardwareAccelerated && strips > 0 && i1 - i0 >= 4)
                {
                    // Pack B's k-block x (whole 32-column strips) contiguously, strip by strip: the rows of B lie n floats
                    // apart (32 KB for a convolution's 8192 columns), so walking them unpacked misses the prefetcher and
                    // the TLB at every step of the reduction; packed, each strip streams from L1 / L2.
                    int kb = k1 - k0;
                    float[] packed = System.Buffers.ArrayPool<float>.Shared.Rent(strips * kb * 32);
                    PackStrips(bd, n, k0, k1, j0, strips, packed);
                    int jTail = j0 + strips * 32;
                    for (; i + 4 <= i1; i += 4)
                    {
                        MatmulRows4Packed(ad, packed, cd, k, n, i, k0, k1, j0, strips);
                        if (jTail < j1) MatmulRows4(ad, bd, cd, k, n, i, k0, k1, jTail, j1);
                    }
                    System.Buffers.ArrayPool<float>.Shared.Return(packed);
                }
                for (; i + 4 <= i1; i += 4) MatmulRows4(ad, bd, cd, k, n, i, k0, k1, j0, j1);
                for (; i < i1; i++) MatmulRow1(ad, bd, cd, k, n, i, k0, k1, j0, j1);
            }
        }
        int tiles = rowBlocks * colBlocks;
        if (MaxDegreeOfParallelism <= 1 || tiles == 1 || (long)m * n * k < GemmParallelMinWork)
            for (int t = 0; t < tiles; t++) Tile(t);
        else Parallel.For(0, tiles, Options, Tile);
    }

    // GemmNt: reductions from this length on skip the transpose; the reduction is cut into parts of GemmNtPart (summed in
    // part order, so the result does not depend on the thread count), each walked in L2-sized chunks of GemmNtChunk.
    private const int GemmNtMinK = 1024, GemmNtPart = 4096, GemmNtChunk = 256, GemmNtColGroup = 64;
    private const long GemmParallelMinWork = 1 << 15;

    /// <summary>
    /// C = A . B^T for row-major A (m x k) and B (n x k): 4 x 4 tiles of dot products over vectors of the reduction.
    /// Parallel over (reduction part, column group); the parts' partial products are summed in order.
    /// </summary>
    private void GemmNt(float[] ad, float[] bd, float[] cd, int m, int k, int n)
    {
        if (m == 0 || n == 0) return;
        int parts = (k + GemmNtPart - 1) / GemmNtPart, groups = (n + GemmNtColGroup - 1) / GemmNtColGroup;
        float[] partial = parts == 1 ? cd : System.Buffers.ArrayPool<float>.Shared.Rent(parts * m * n);
        void Part(int t)
        {
            int part = t / groups, g = t % groups;
            int p0 = part * GemmNtPart, p1 = Math.Min(k, p0 + GemmNtPart);
            int j0 = g * GemmNtColGroup, j1 = Math.Min(n, j0 + GemmNtColGroup);
            int cOff = parts == 1 ? 0 : part * m * n;
            for (int i = 0; i < m; i++) Array.Clear(partial, cOff + i * n + j0, j1 - j0);
            for (int c0 = p0; c0 < p1; c0 += GemmNtChunk)
            {
                int c1 = Math.Min(p1, c0 + GemmNtChunk);
                for (int i = 0; i < m; i += 4)
                    for (int j = j0; j < j1; j += 4)
                        DotTile4x4(ad, bd, partial, cOff, k, n, i, Math.Min(4, m - i), j, Math.Min(4, j1 - j), c0, c1);
            }
        }
        int tasks = parts * groups;
        if (MaxDegreeOfParallelism <= 1 || tasks == 1) for (int t = 0; t < tasks; t++) Part(t);
        else Parallel.For(0, tasks, Options, Part);
        if (parts > 1)
        {
            int mn = m * n;
            For(m, i =>
            {
                var row = cd.AsSpan(i * n, n);
                partial.AsSpan(i * n, n).CopyTo(row);
                for (int q = 1; q < parts; q++)
                {
                    var add = partial.AsSpan(q * mn + i * n, n);
                    for (int j = 0; j < n; j++) row[j] += add[j];
                }
            });
            System.Buffers.ArrayPool<float>.Shared.Return(partial);
        }
    }

    /// <summary>c[cOff + (i + r) * n + j + s] += dot(a[i + r, c0..c1), b[j + s, c0..c1)) for r &lt; rows, s &lt; cols (at most 4
    /// each; missing rows repeat the last one and are not stored).</summary>
    private static void DotTile4x4(float[] a, float[] b, float[] c, int cOff, int k, int n, int i, int rows, int j, int cols, int c0,
        int c1)
    {
        ref float A = ref MemoryMarshal.GetArrayDataReference(a);
        ref float B = ref MemoryMarshal.GetArrayDataReference(b);
        nuint ka = (nuint)k;
        nuint a0 = (nuint)i * ka, a1 = (nuint)(i + Math.Min(1, rows - 1)) * ka;
        nuint a2 = (nuint)(i + Math.Min(2, rows - 1)) * ka, a3 = (nuint)(i + Math.Min(3, rows - 1)) * ka;
        nuint b0 = (nuint)j * ka, b1 = (nuint)(j + Math.Min(1, cols - 1)) * ka;
        nuint b2 = (nuint)(j + Math.Min(2, cols - 1)) * ka, b3 = (nuint)(j + Math.Min(3, cols - 1)) * ka;
        Vector<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector<float> s30 = default, s31 = default, s32 = default, s33 = default;
        int vc = VC, p = c0;
        for (; p + vc <= c1; p += vc)
        {
            nuint pp = (nuint)p;
            var y0 = Vector.LoadUnsafe(ref B, b0 + pp); var y1 = Vector.LoadUnsafe(ref B, b1 + pp);
            var y2 = Vector.LoadUnsafe(ref B, b2 + pp); var y3 = Vector.LoadUnsafe(ref B, b3 + pp);
            var x = Vector.LoadUnsafe(ref A, a0 + pp);
            s00 = Vector.FusedMultiplyAdd(x, y0, s00); s01 = Vector.FusedMultiplyAdd(x, y1, s01);
            s02 = Vector.FusedMultiplyAdd(x, y2, s02); s03 = Vector.FusedMultiplyAdd(x, y3, s03);
            x = Vector.LoadUnsafe(ref A, a1 + pp);
            s10 = Vector.FusedMultiplyAdd(x, y0, s10); s11 = Vector.FusedMultiplyAdd(x, y1, s11);
            s12 = Vector.FusedMultiplyAdd(x, y2, s12); s13 = Vector.FusedMultiplyAdd(x, y3, s13);
            x = Vector.LoadUnsafe(ref A, a2 + pp);
            s20 = Vector.FusedMultiplyAdd(x, y0, s20); s21 = Vector.FusedMultiplyAdd(x, y1, s21);
            s22 = Vector.FusedMultiplyAdd(x, y2, s22); s23 = Vector.FusedMultiplyAdd(x, y3, s23);
            x = Vector.LoadUnsafe(ref A, a3 + pp);
            s30 = Vector.FusedMultiplyAdd(x, y0, s30); s31 = Vector.FusedMultiplyAdd(x, y1, s31);
            s32 = Vector.FusedMultiplyAdd(x, y2, s32); s33 = Vector.FusedMultiplyAdd(x, y3, s33);
        }
        Span<float> t = stackalloc float[16];
        t[0] = Vector.Sum(s00); t[1] = Vector.Sum(s01); t[2] = Vector.Sum(s02); t[3] = Vector.Sum(s03);
        t[4] = Vector.Sum(s10); t[5] = Vector.Sum(s11); t[6] = Vector.Sum(s12); t[7] = Vector.Sum(s13);
        t[8] = Vector.Sum(s20); t[9] = Vector.Sum(s21); t[10] = Vector.Sum(s22); t[11] = Vector.Sum(s23);
        t[12] = Vector.Sum(s30); t[13] = Vector.Sum(s31); t[14] = Vector.Sum(s32); t[15] = Vector.Sum(s33);
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++)
            {
                float acc = t[r * 4 + q];
                long ar = (long)(i + r) * k, br = (long)(j + q) * k;
                for (int pt = p; pt < c1; pt++) acc = MathF.FusedMultiplyAdd(a[ar + pt], b[br + pt], acc);
                c[cOff + (i + r) * n + j + q] += acc;
            }
    }

    private static float[] TransposeDense(float[] src, int rows, int cols, HostArrayPool? scratch)
    {
        var dst = scratch?.Rent(src.Length) ?? new float[src.Length];
        DenseTensor.TransposeInto(src, rows, cols, dst);
        return dst;
    }

    /// <summary>Copies b[k0..k1, j0 + 32 s .. j0 + 32 s + 32) for s &lt; strips into packed[s][p - k0][0..32).</summary>
    private static void PackStrips(float[] b, int n, int k0, int k1, int j0, int strips, float[] packed)
    {
        int kb = k1 - k0;
        for (int st = 0; st < strips; st++)
            for (int p = k0; p < k1; p++)
                b.AsSpan(p * n + j0 + st * 32, 32).CopyTo(packed.AsSpan((st * kb + p - k0) * 32, 32));
    }

    /// <summary>
    /// c[i..i+4, j0 .. j0 + 32 strips) += a[i..i+4, k0..k1) . B for B packed by <see cref="PackStrips"/>: 4 rows x 32 columns
    /// per tile in 512-bit vectors (AVX-512). The same sums in the same order as <see cref="MatmulRows4"/>.
    /// </summary>
    private static void MatmulRows4Packed(float[] a, float[] packed, float[] c, int k, int n, int i, int k0, int k1, int j0, int strips)
    {
        ref float A = ref MemoryMarshal.GetArrayDataReference(a);
        ref float P = ref MemoryMarshal.GetArrayDataReference(packed);
        ref float C = ref MemoryMarshal.GetArrayDataReference(c);
        const int V = 16;
        int kb = k1 - k0;
        nuint a0 = (nuint)((long)i * k + k0), a1 = a0 + (nuint)k, a2 = a1 + (nuint)k, a3 = a2 + (nuint)k;
        nuint c0 = (nuint)((long)i * n), c1 = c0 + (nuint)n, c2 = c1 + (nuint)n, c3 = c2 + (nuint)n;
        for (int st = 0; st < strips; st++)
        {
            nuint jj = (nuint)(j0 + st * 32), jv = jj + V;
            var x00 = Vector512.LoadUnsafe(ref C, c0 + jj); var x01 = Vector512.LoadUnsafe(ref C, c0 + jv);
            var x10 = Vector512.LoadUnsafe(ref C, c1 + jj); var x11 = Vector512.LoadUnsafe(ref C, c1 + jv);
            var x20 = Vector512.LoadUnsafe(ref C, c2 + jj); var x21 = Vector512.LoadUnsafe(ref C, c2 + jv);
            var x30 = Vector512.LoadUnsafe(ref C, c3 + jj); var x31 = Vector512.LoadUnsafe(ref C, c3 + jv);
            nuint bo = (nuint)(st * kb * 32);
            for (int q = 0; q < kb; q++, bo += 32)
            {
                var b0 = Vector512.LoadUnsafe(ref P, bo);
                var b1 = Vector512.LoadUnsafe(ref P, bo + V);
                nuint qq = (nuint)q;
                var s = Vector512.Create(Unsafe.Add(ref A, a0 + qq));
                x00 = Vector512.FusedMultiplyAdd(b0, s, x00); x01 = Vector512.FusedMultiplyAdd(b1, s, x01);
                s = Vector512.Create(Unsafe.Add(ref A, a1 + qq));
                x10 = Vector512.FusedMultiplyAdd(b0, s, x10); x11 = Vector512.FusedMultiplyAdd(b1, s, x11);
                s = Vector512.Create(Unsafe.Add(ref A, a2 + qq));
                x20 = Vector512.FusedMultiplyAdd(b0, s, x20); x21 = Vector512.FusedMultiplyAdd(b1, s, x21);
                s = Vector512.Create(Unsafe.Add(ref A, a3 + qq));
                x30 = Vector512.FusedMultiplyAdd(b0, s, x30); x31 = Vector512.FusedMultiplyAdd(b1, s, x31);
            }
            x00.StoreUnsafe(ref C, c0 + jj); x01.StoreUnsafe(ref C, c0 + jv);
            x10.StoreUnsafe(ref C, c1 + jj); x11.StoreUnsafe(ref C, c1 + jv);
            x20.StoreUnsafe(ref C, c2 + jj); x21.StoreUnsafe(ref C, c2 + jv);
            x30.StoreUnsafe(ref C, c3 + jj); x31.StoreUnsafe(ref C, c3 + jv);
        }
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
