using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Tensors;

namespace SparseKernels.TorchSharp.Tests;

/// <summary>
/// The batch-major kernels of SparseLinear (<see cref="CsrLinear"/>) against the engine's plain-loop double-accumulating
/// <see cref="CpuReference"/> on the transposed operands: y = x W^T is (W x^T)^T (SpmmCsr), dx = dy W is (W^T dy^T)^T
/// (SpmmCsrTransposed), dW = (dy^T x) at the pattern is SddmmCsr(W, dy^T, x^T). Fresh random data (no zeros), outputs
/// poisoned with NaN, odd shapes, empty rows, a long row, batch 0, 1, one panel and a panel plus a tail, 1 and 2
/// threads, dy contiguous, broadcast (strides 0) and transposed.
/// </summary>
public class CsrLinearTests
{
    private const double Atol = 1e-4, Rtol = 1e-4;

    public enum DyLayout { Contiguous, Broadcast, Transposed }

    private static CsrMatrix RandomCsr(Random rng, int rows, int cols, double density, int emptyRows, bool longRow)
    {
        var ro = new int[rows + 1];
        var ci = new List<int>();
        for (int r = 0; r < rows; r++)
        {
            bool empty = r < emptyRows || (rows > 2 && r == rows - 1 && emptyRows > 0);
            for (int c = 0; c < cols && !empty; c++)
                if ((longRow && r == rows / 2) || rng.NextDouble() < density) ci.Add(c);
            ro[r + 1] = ci.Count;
        }
        var v = new float[ci.Count];
        for (int i = 0; i < v.Length; i++) v[i] = NonZero(rng);
        return new CsrMatrix(rows, cols, ro, ci.ToArray(), v);
    }

    private static float NonZero(Random rng)
    {
        float f = (float)(rng.NextDouble() * 2 - 1);
        return MathF.Abs(f) < 0.05f ? 0.5f : f;
    }

    private static float[] Fill(Random rng, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = NonZero(rng);
        return a;
    }

    private static float[] Transposed(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        return t;
    }

    private static void AssertClose(float[] got, float[] want, string what)
    {
        Assert.That(got.Length, Is.EqualTo(want.Length), $"{what}: length");
        int worst = -1; double worstExcess = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double err = Math.Abs((double)got[i] - want[i]), tol = Atol + Rtol * Math.Abs(want[i]);
            if (double.IsNaN(got[i]) || err > tol)
            {
                double excess = double.IsNaN(got[i]) ? double.PositiveInfinity : err - tol;
                if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
            }
        }
        if (worst >= 0) Assert.Fail($"{what}: worst element {worst}: got {got[worst]}, want {want[worst]}");
    }

    [TestCase(7, 96, 40, 0.3, 0, false, 2, DyLayout.Contiguous)]
    [TestCase(50, 30, 17, 0.2, 10, false, 2, DyLayout.Broadcast)]
    [TestCase(20, 1000, 9, 0.01, 3, true, 2, DyLayout.Transposed)]
    [TestCase(33, 45, 1, 0.3, 0, false, 1, DyLayout.Contiguous)]       // batch 1
    [TestCase(19, 23, 67, 0.4, 2, false, 2, DyLayout.Transposed)]
    [TestCase(64, 64, 64, 1.0, 0, false, 2, DyLayout.Contiguous)]      // one panel of 8 vectors (AVX: 64 floats)
    [TestCase(257, 129, 130, 0.05, 30, true, 2, DyLayout.Contiguous)]  // parallel; a panel plus a tail
    [TestCase(300, 200, 128, 0.05, 30, true, 1, DyLayout.Broadcast)]
    [TestCase(20, 2500, 130, 0.05, 3, true, 2, DyLayout.Contiguous)]   // 5 column blocks of x^T (BlockRows 512)
    [TestCase(2100, 13, 67, 0.3, 40, false, 2, DyLayout.Broadcast)]    // 5 blocks of dy^T rows for dx
    [TestCase(1030, 1100, 64, 0.01, 5, true, 1, DyLayout.Transposed)]   // 3 blocks each way, a row past the first block
    [TestCase(12, 9, 8, 0.0, 0, false, 2, DyLayout.Contiguous)]        // no nonzeros
    [TestCase(6, 7, 0, 0.5, 0, false, 2, DyLayout.Contiguous)]         // batch 0
    public unsafe void Matches_the_cpu_reference(int outF, int inF, int batch, double density, int emptyRows, bool longRow, int threads,
        DyLayout layout)
    {
        var rng = new Random(outF * 7919 + inF * 31 + batch);
        var w = RandomCsr(rng, outF, inF, density, emptyRows, longRow);
        var x = Fill(rng, (long)batch * inF);
        // dy (batch x out) as the kernel reads it: the buffer and strides of the layout
        float[] dyLogical, dyBuffer; long s0, s1;
        switch (layout)
        {
            case DyLayout.Broadcast:
                dyBuffer = [NonZero(rng)];
                dyLogical = Enumerable.Repeat(dyBuffer[0], batch * outF).ToArray();
                s0 = 0; s1 = 0;
                break;
            case DyLayout.Transposed:
                dyLogical = Fill(rng, (long)batch * outF);
                dyBuffer = Transposed(dyLogical, batch, outF);   // out x batch in memory
                s0 = 1; s1 = batch;
                break;
            default:
                dyLogical = Fill(rng, (long)batch * outF);
                dyBuffer = dyLogical;
                s0 = outF; s1 = 1;
                break;
        }
        // with 2 threads, the parallel path whatever the size (the layer runs small products on one thread)
        var plan = new CsrLinear(outF, inF, w.RowOffsets, w.ColumnIndices, threads) { SerialWork = threads > 1 ? 0 : long.MaxValue };
        float[] y = Poison(batch * outF), xT = Poison(inF * batch), yT = Poison(outF * batch), tValues = Poison(w.Nnz);
        float[] dx = Poison(batch * inF), dW = Poison(w.Nnz), dyT = Poison(outF * batch), dxT = Poison(inF * batch);
        fixed (float* px = x, pv = w.Values, py = y, pxT = xT, pyT = yT, ptv = tValues)
            plan.Forward(px, batch, pv, py, pxT, pyT, ptv);
        fixed (float* pdy = dyBuffer, pxT = xT, ptv = tValues, pdx = dx, pdW = dW, pdyT = dyT, pdxT = dxT)
            plan.Backward(pdy, s0, s1, batch, pxT, ptv, pdx, pdW, pdyT, pdxT);

        var xTRef = DenseTensor.FromArray(inF, batch, Transposed(x, batch, inF));
        var dyTRef = DenseTensor.FromArray(outF, batch, Transposed(dyLogical, batch, outF));
        AssertClose(y, Transposed(CpuReference.SpmmCsr(w, xTRef).HostData, outF, batch), "y");
        AssertClose(dx, Transposed(CpuReference.SpmmCsrTransposed(w, dyTRef).HostData, inF, batch), "dx");
        AssertClose(dW, CpuReference.SddmmCsr(w, dyTRef, xTRef).Values, "dW");
    }

    private static float[] Poison(int n) => Enumerable.Repeat(float.NaN, n).ToArray();

    /// <summary>The Vector&lt;float&gt; panels alone (on AVX-512 machines the kernels run Vector512 panels of 128 columns
    /// first): batch 128 (one wide panel), 200 (a wide panel, a narrow one and a tail), 64 (narrow only).</summary>
    [TestCase(false, 130, 300, 128)]
    [TestCase(false, 70, 1100, 200)]
    [TestCase(true, 70, 1100, 200)]
    [TestCase(false, 90, 40, 64)]
    public void Matches_the_cpu_reference_with_either_panel_width(bool wide, int outF, int inF, int batch)
    {
        bool saved = CsrLinear.UseVector512;
        CsrLinear.UseVector512 = wide && saved;
        try
        {
            Matches_the_cpu_reference(outF, inF, batch, 0.1, 5, true, 2, DyLayout.Contiguous);
            Matches_the_cpu_reference(outF, inF, batch, 0.1, 5, true, 1, DyLayout.Broadcast);
        }
        finally { CsrLinear.UseVector512 = saved; }
    }

    [Test]
    public void A_bad_pattern_is_refused_naming_the_column()
    {
        var e = Assert.Throws<CsrFormatException>(() => _ = new CsrLinear(2, 3, [0, 1, 2], [0, 3], 1))!;
        Assert.That(e.Message, Does.Contain("3"));
    }

    [Test]
    public void Matches_sees_a_changed_pattern()
    {
        var plan = new CsrLinear(2, 3, [0, 1, 2], [0, 2], 1);
        Assert.That(plan.Matches([0, 1, 2], [0, 2]), Is.True);
        Assert.That(plan.Matches([0, 1, 2], [0, 1]), Is.False);
        Assert.That(plan.Matches([0, 2, 2], [0, 2]), Is.False);
    }
}
