using NUnit.Framework;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// SpMM v1 at sizes where 32-bit index products would overflow (issue 17) - the checked bound. A dense operand of the
/// engine holds at most Array.MaxLength elements (just under 2^31), on the host and on a device alike (DenseTensor's shape
/// check, in every constructor, External.WrapDense included), so
/// row * n and column * n of every kernel stay below 2^31 for any operand the engine can hold, and a shape past it
/// (here C of 32769 x 65536 = 2^31 + 2^16 floats, the last row starting past 2^31) is refused at allocation with the
/// shape in the message, before any kernel could index it.
/// <para>History: this test used to multiply into such a C (8 GiB, behind SPARSEKERNELS_BIG_TESTS on the emulated
/// device); run for the first time on 2026-12-02, it could never pass: the allocation itself is refused. A planted
/// 32-bit `c + row * n` in spmm_csr_v1 is therefore unreachable through DenseTensor; raising the element limit of
/// device tensors (e.g. for 141 GB GPUs) must come with 64-bit products in every kernel and a test at that size.</para>
/// </summary>
[Category("Gpu")]
public class LargeOperandTests
{
    [Test]
    public void DenseOperandsPast2To31ElementsAreRefusedBeforeAnyKernel()
    {
        var device = TestDevice.Get();
        const int m = 32769, n = 65536;
        Assert.That((long)(m - 1) * n, Is.GreaterThan(int.MaxValue), "the last row starts past 2^31 elements");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DenseTensor.Allocate(device, m, n).Dispose())!;
        Assert.That(e.Message, Does.Contain("32769x65536"));
    }
}
