using NUnit.Framework;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// SpMM v1 at sizes where 32-bit index products overflow (issue 17): C is 32769 x 65536 (2^31 + 2^16 floats,
/// 8 GiB), so row * n passes 2^31 on the last row. Runs on a real GPU with 9 GiB free; on the emulated device only
/// with SPARSEKERNELS_BIG_TESTS=1 (the emulator poisons every allocation, so it touches 8 GiB of host memory).
/// Planted in a scratch copy: `c + row * n` in 32 bits in spmm_csr_v1 (emulated device, SPARSEKERNELS_BIG_TESTS=1):
/// red (the emulator reports the out-of-bounds store).
/// </summary>
[Category("Gpu")]
public class LargeOperandTests
{
    public const string BigTestsVariable = "SPARSEKERNELS_BIG_TESTS";

    [Test]
    public void SpmmV1IndexesRowsPast2To31Elements()
    {
        var device = TestDevice.Get();
        const int m = 32769, k = 3, n = 65536;
        long cBytes = (long)m * n * 4;
        if (device.Kind == DeviceKind.Emulated && Environment.GetEnvironmentVariable(BigTestsVariable) != "1")
        {
            Assert.Ignore($"Needs {cBytes >> 20} MiB of emulated device memory (all touched on the host); "
                + $"set {BigTestsVariable}=1 to run it.");
        }
        var mem = device.GetMemoryInfo();
        if (mem.FreeBytes < cBytes + (1L << 30))
            Assert.Ignore($"Needs {cBytes >> 20} MiB free on the device; {mem.FreeBytes >> 20} MiB are.");
        Assert.That((long)(m - 1) * n, Is.GreaterThan(int.MaxValue), "the last row starts past 2^31 elements");

        var rowOffsets = new int[m + 1];
        rowOffsets[1] = 1;
        for (int r = 2; r < m; r++) rowOffsets[r] = 1;
        rowOffsets[m] = 3;
        var a = new CsrMatrix(m, k, rowOffsets, [0, 1, 2], [1.5f, 2f, -1f]);
        var b = TestData.Dense(new Random(17), k, n);
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, m, n);
        device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
        SpmmCsr.Run(device, dA, dB, dC, SpmmCsrVersion.V1);
        var bh = b.HostData;
        foreach (int row in new[] { 0, 1, m / 2, m - 2, m - 1 })
        {
            var got = new float[n];
            dC.DeviceData.CopyTo(got, (long)row * n);
            var want = new float[n];
            for (int j = 0; j < n; j++)
                want[j] = row == 0 ? 1.5f * bh[j] : row == m - 1 ? 2f * bh[n + j] + -1f * bh[2 * n + j] : 0f;
            Approx.AssertAllClose(got, want, 1e-6, 1e-5, $"spmm_csr_v1 row {row} of {m} (starts at element {(long)row * n})");
        }
    }
}
