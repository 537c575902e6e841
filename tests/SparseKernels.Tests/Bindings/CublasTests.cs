using NUnit.Framework;
using SparseKernels.Linalg;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Bindings;

/// <summary>cuBLAS SGEMM on row-major device tensors against naive loops accumulating in double.</summary>
[TestFixture, Category("Gpu")]
public class CublasTests
{
    /// <summary>c = alpha * op(a) op(b) + beta * c0, row-major, in double.</summary>
    internal static double[] Gemm(DenseTensor a, DenseTensor b, bool transA, bool transB, float alpha, float beta, float[]? c0)
    {
        int m = transA ? a.Cols : a.Rows, k = transA ? a.Rows : a.Cols, n = transB ? b.Rows : b.Cols;
        float[] ad = a.HostData, bd = b.HostData;
        var c = new double[(long)m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(transA ? ad[(long)p * a.Cols + i] : ad[(long)i * a.Cols + p]) * (transB ? bd[(long)j * b.Cols + p] : bd[(long)p * b.Cols + j]);
                c[(long)i * n + j] = alpha * s + (beta == 0 || c0 is null ? 0 : beta * (double)c0[(long)i * n + j]);
            }
        return c;
    }

    private static void Run(int m, int n, int k, bool transA, bool transB, bool tf32, float alpha = 1, float beta = 0, int seed = 0)
    {
        var device = TestDevice.GetCuda();
        var rng = new Random(HashCode.Combine(m, n, k, transA, transB, tf32, seed));
        var a = transA ? TestData.Dense(rng, k, m) : TestData.Dense(rng, m, k);
        var b = transB ? TestData.Dense(rng, n, k) : TestData.Dense(rng, k, n);
        var c0 = TestData.Dense(rng, m, n);
        using var da = a.ToDevice(device);
        using var db = b.ToDevice(device);
        using var dc = DenseTensor.Allocate(device, m, n);
        if (beta == 0) device.Fill32(dc.DeviceData, TestDevice.PoisonBits); // beta = 0 must ignore the poison
        else dc.DeviceData.CopyFrom(c0.HostData);
        using var blas = new CublasContext(device);
        blas.Sgemm(da, db, dc, transA, transB, alpha, beta, tf32);
        var expected = Gemm(a, b, transA, transB, alpha, beta, c0.HostData);
        double atol = tf32 ? 4e-3 * Math.Sqrt(k) * Math.Abs(alpha) : 1e-5 * Math.Sqrt(k) * Math.Abs(alpha);
        double rtol = tf32 ? 5e-3 : 1e-5;
        Approx.AssertAllClose(dc.ToArray(), expected, atol, rtol, $"Sgemm m={m} n={n} k={k} transA={transA} transB={transB} tf32={tf32}", n);
    }

    [Test]
    public void Sgemm_AllTransposeCombinations_OddShapes(
        [Values(false, true)] bool transA, [Values(false, true)] bool transB,
        [Values(new[] { 1, 1, 1 }, new[] { 37, 1, 53 }, new[] { 65, 33, 17 }, new[] { 128, 256, 512 }, new[] { 3, 700, 2 })] int[] mnk)
        => Run(mnk[0], mnk[1], mnk[2], transA, transB, tf32: false);

    [Test]
    public void Sgemm_Tf32_WithinTheLooserTolerance([Values(false, true)] bool transA, [Values(false, true)] bool transB)
        => Run(97, 129, 300, transA, transB, tf32: true);

    [Test]
    public void Sgemm_AlphaAndBeta_AccumulateIntoC()
        => Run(45, 31, 70, false, true, tf32: false, alpha: -0.75f, beta: 0.5f);

    [Test]
    public void Sgemm_BadShapes_ThrowNamingTheShapes()
    {
        var device = TestDevice.GetCuda();
        using var a = DenseTensor.Allocate(device, 4, 5);
        using var b = DenseTensor.Allocate(device, 6, 3);
        using var c = DenseTensor.Allocate(device, 4, 3);
        using var blas = new CublasContext(device);
        var e = Assert.Throws<ArgumentException>(() => blas.Sgemm(a, b, c, false, false))!;
        Assert.That(e.Message, Does.Contain("4x5").And.Contain("6x3"));
        using var b2 = DenseTensor.Allocate(device, 5, 3);
        using var wrongC = DenseTensor.Allocate(device, 3, 4);
        var e2 = Assert.Throws<ArgumentException>(() => blas.Sgemm(a, b2, wrongC, false, false))!;
        Assert.That(e2.Message, Does.Contain("3x4").And.Contain("4x3"));
        var host = DenseTensor.Zeros(5, 3);
        Assert.Throws<ArgumentException>(() => blas.Sgemm(a, host, c, false, false));
        Assert.That(blas.Version, Is.GreaterThan(10000));
    }
}
