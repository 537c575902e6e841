using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Embedding;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Runtime;

/// <summary>The embedding API: operations on memory owned elsewhere, with no copies.</summary>
[Category("Gpu")]
public class ExternalTests
{
    [Test]
    public void SpmmWritesThroughWrappedPointers_AndDisposingTheWrapperFreesNothing()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, 13, 21, 0.3, emptyRows: 2);
        var b = TestData.Dense(rng, 21, 9);
        // "Another framework" owns these buffers; we see only their addresses.
        using var owner = a.ToDevice(device);
        using var bOwner = b.ToDevice(device);
        using var cOwner = DenseTensor.Allocate(device, 13, 9);
        device.Fill32(cOwner.DeviceData, TestDevice.PoisonBits);

        using (var aView = External.WrapCsr(device, a.Rows, a.Cols, a.Nnz,
                   External.AddressOf(owner.DeviceRowOffsets), External.AddressOf(owner.DeviceColumnIndices), External.AddressOf(owner.DeviceValues)))
        using (var bView = External.WrapDense(device, External.AddressOf(bOwner.DeviceData), 21, 9))
        using (var cView = External.WrapDense(device, External.AddressOf(cOwner.DeviceData), 13, 9))
        {
            SpmmCsr.Run(device, aView, bView, cView);
        }
        device.Synchronize();
        // The owner's memory holds the result and is still alive after the views were disposed.
        Approx.AssertAllClose(cOwner.ToArray(), CpuReference.SpmmCsr(a, b).HostData, 1e-5, 1e-4, "C through wrapped pointers", 9);
        Assert.That(owner.DeviceValues.ToArray(), Is.EqualTo(a.Values));
    }

    [Test]
    public void BadArgumentsAreRejectedWithReasons()
    {
        var device = TestDevice.Get();
        var e = Assert.Throws<ArgumentException>(() => External.WrapBuffer<float>(device, 0, 10));
        Assert.That(e!.Message, Does.Contain("null address"));
        e = Assert.Throws<ArgumentException>(() => External.WrapBuffer<float>(device, 0x1002, 10));
        Assert.That(e!.Message, Does.Contain("not aligned"));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => External.WrapCsr(device, 2, 2, 5, 0x1000, 0x2000, 0x3000));
        Assert.That(r!.Message, Does.Contain("cannot hold 5 nonzeros"));
    }
}
