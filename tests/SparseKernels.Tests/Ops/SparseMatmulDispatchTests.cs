using NUnit.Framework;
using SparseKernels.Ops;
using SparseKernels.Runtime;

namespace SparseKernels.Tests.Ops;

/// <summary>The decision logic of SparseMatmulDispatch (no device needed).</summary>
[TestFixture]
public class SparseMatmulDispatchTests
{
    [TestCase(DeviceKind.Cuda, 0.90, 256, SparseMatmulKernel.Spmm)]
    [TestCase(DeviceKind.Cuda, 0.75, 256, SparseMatmulKernel.Spmm)]      // at the crossover: sparse
    [TestCase(DeviceKind.Cuda, 0.74, 256, SparseMatmulKernel.Cublas)]
    [TestCase(DeviceKind.Cuda, 0.50, 2048, SparseMatmulKernel.Cublas)]
    [TestCase(DeviceKind.Cuda, 0.72, 64, SparseMatmulKernel.Spmm)]       // small N: the 70 % row
    [TestCase(DeviceKind.Cuda, 0.72, 65, SparseMatmulKernel.Cublas)]     // just above it: the 75 % row
    [TestCase(DeviceKind.Emulated, 0.50, 256, SparseMatmulKernel.MaskedGemm)]
    [TestCase(DeviceKind.Emulated, 0.98, 256, SparseMatmulKernel.Spmm)]
    [TestCase(DeviceKind.Cuda, 1.0, 1, SparseMatmulKernel.Spmm)]
    [TestCase(DeviceKind.Cuda, 0.0, 1, SparseMatmulKernel.Cublas)]
    public void AutoFollowsTheDefaultTable(DeviceKind kind, double sparsity, int n, SparseMatmulKernel expected)
        => Assert.That(SparseMatmulDispatch.Choose(kind, sparsity, n, table: SparseMatmulDispatch.DefaultTable), Is.EqualTo(expected));

    [Test]
    public void ForcedChoicesWinEitherWay()
    {
        Assert.That(SparseMatmulDispatch.Choose(DeviceKind.Cuda, 0.10, 256, SparseMatmulKernel.Spmm), Is.EqualTo(SparseMatmulKernel.Spmm));
        Assert.That(SparseMatmulDispatch.Choose(DeviceKind.Cuda, 0.99, 256, SparseMatmulKernel.Cublas), Is.EqualTo(SparseMatmulKernel.Cublas));
        Assert.That(SparseMatmulDispatch.Choose(DeviceKind.Emulated, 0.99, 256, SparseMatmulKernel.MaskedGemm), Is.EqualTo(SparseMatmulKernel.MaskedGemm));
        var e = Assert.Throws<NotSupportedException>(() => SparseMatmulDispatch.Choose(DeviceKind.Emulated, 0.5, 256, SparseMatmulKernel.Cublas))!;
        Assert.That(e.Message, Does.Contain("Emulated").And.Contain("cuBLAS"));
    }

    [Test]
    public void ACustomTableOverridesTheDefault()
    {
        CrossoverRow[] table = [new(int.MaxValue, 0.5)];
        Assert.That(SparseMatmulDispatch.Choose(DeviceKind.Cuda, 0.6, 256, table: table), Is.EqualTo(SparseMatmulKernel.Spmm));
        Assert.That(SparseMatmulDispatch.Choose(DeviceKind.Cuda, 0.6, 256, table: SparseMatmulDispatch.DefaultTable), Is.EqualTo(SparseMatmulKernel.Cublas));
        Assert.That(SparseMatmulDispatch.Choose(DeviceKind.Cuda, 0.6, 256), Is.EqualTo(SparseMatmulKernel.Cublas), "no table: the default");
    }

    [Test]
    public void RejectsBadInput()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseMatmulDispatch.Choose(DeviceKind.Cuda, 1.5, 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseMatmulDispatch.Choose(DeviceKind.Cuda, double.NaN, 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparseMatmulDispatch.Choose(DeviceKind.Cuda, 0.5, -1));
        var e = Assert.Throws<ArgumentException>(() => SparseMatmulDispatch.Validate([new(100, 0.7), new(50, 0.8)]))!;
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("MaxN"));
        e = Assert.Throws<ArgumentException>(() => SparseMatmulDispatch.Validate([new(int.MaxValue, 1.2)]))!;
        Assert.That(e.Message, Does.Contain("1.2"));
        Assert.Throws<ArgumentException>(() => SparseMatmulDispatch.Validate([]));
    }
}
