using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>masked_gemm kernels on the test device against CpuReference.DenseGemm of X and the masked W, transposed.</summary>
[TestFixture(MaskedGemmVersion.V1), TestFixture(MaskedGemmVersion.V2), Category("Gpu")]
public class MaskedGemmTests(MaskedGemmVersion version)
{
    // (m = batch, n = out, k = in, keep probability of the mask; 0 = no mask)
    [TestCase(7, 40, 96, 0.35)]     // odd shape
    [TestCase(1, 33, 17, 0.5)]      // one row
    [TestCase(65, 64, 16, 0.2)]     // one past a tile in m, exactly one in n and k
    [TestCase(70, 130, 37, 0.9)]    // partial tiles everywhere
    [TestCase(33, 5, 100, 0.0)]     // no mask: plain X . W^T
    [TestCase(9, 11, 1, 0.5)]       // k = 1
    [TestCase(130, 70, 48, 0.0)]    // no mask, 3 full k-steps, 3 x 2 blocks with partial edges
    public void MatchesReference(int m, int n, int k, double keep)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, m, k);
        var w = TestData.Dense(rng, n, k);
        byte[]? mask = null;
        var masked = (float[])w.HostData.Clone();
        if (keep > 0)
        {
            mask = new byte[n * k];
            for (int i = 0; i < mask.Length; i++)
            {
                mask[i] = rng.NextDouble() < keep ? (byte)(1 + rng.Next(255)) : (byte)0;
                if (mask[i] == 0) masked[i] = 0f;
            }
        }
        using var dX = x.ToDevice(device);
        using var dW = w.ToDevice(device);
        using var dMask = mask is null ? null : device.Allocate<byte>(mask.Length);
        dMask?.CopyFrom(mask);
        using var dC = DenseTensor.Allocate(device, m, n);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        MaskedGemm.Run(device, dX, dW, dMask, dC, version);
        var want = CpuReference.DenseGemm(x, DenseTensor.FromArray(n, k, masked), transposeB: true);
        var (atol, rtol) = OpsTestSupport.DotTolerance(k);
        Approx.AssertAllClose(dC.ToArray(), want.HostData, atol, rtol, $"masked gemm {m}x{n}x{k}, keep {keep}", n);
    }

    [Test]
    public void RejectsMismatchedShapes()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        using var dX = TestData.Dense(rng, 7, 96).ToDevice(device);
        using var dW = TestData.Dense(rng, 40, 95).ToDevice(device);
        using var dC = DenseTensor.Allocate(device, 7, 40);
        var e = Assert.Throws<ArgumentException>(() => MaskedGemm.Run(device, dX, dW, null, dC, version))!;
        Assert.That(e.Message, Does.Contain("7x96").And.Contain("40x95"));
        using var dW2 = TestData.Dense(rng, 40, 96).ToDevice(device);
        using var badMask = device.Allocate<byte>(40 * 96 - 1);
        e = Assert.Throws<ArgumentException>(() => MaskedGemm.Run(device, dX, dW2, badMask, dC, version))!;
        Assert.That(e.Message, Does.Contain("mask").And.Contain("3839"));
        using var dCBad = DenseTensor.Allocate(device, 7, 41);
        e = Assert.Throws<ArgumentException>(() => MaskedGemm.Run(device, dX, dW2, null, dCBad, version))!;
        Assert.That(e.Message, Does.Contain("7x41").And.Contain("7x40"));
    }
}
