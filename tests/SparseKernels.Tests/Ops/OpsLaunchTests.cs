using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>
/// The launchers' plumbing on a <see cref="RecordingDevice"/> (no GPU, no emulator): which kernel,
/// what geometry, the arguments in the kernel's parameter order, the kernel-handle cache and the
/// argument checks. These run everywhere; the Gpu-category tests check the numbers.
/// </summary>
[TestFixture]
public class OpsLaunchTests
{
    private static ulong Bits(float f) => BitConverter.SingleToUInt32Bits(f);

    [TestCase(7, 96, 40, 2u)]
    [TestCase(8, 10, 1, 2u)]
    [TestCase(9, 10, 3, 3u)]
    [TestCase(1, 1, 1, 1u)]
    public void SpmmLaunchesOneWarpPerRowWithArgumentsInOrder(int m, int k, int n, uint blocks)
    {
        using var device = new RecordingDevice();
        var rng = new Random(m * 1000 + n);
        using var a = TestData.Csr(rng, m, k, 0.3).ToDevice(device);
        using var b = TestData.Dense(rng, k, n).ToDevice(device);
        using var c = DenseTensor.Allocate(device, m, n);
        SpmmCsr.Run(device, a, b, c);
        var l = device.Launches.Single();
        Assert.That(l.Kernel, Is.EqualTo("spmm_csr_v1"));
        Assert.That(l.Config.Block, Is.EqualTo(new Dim3(32, SpmmCsr.WarpsPerBlockV1)));
        Assert.That(l.Config.Grid, Is.EqualTo(new Dim3(blocks)));
        Assert.That(l.Config.Grid.X * (ulong)SpmmCsr.WarpsPerBlockV1, Is.GreaterThanOrEqualTo((ulong)m), "every row needs a warp");
        Assert.That(l.Args, Is.EqualTo(new[]
        {
            (ulong)m, (ulong)k, (ulong)n,
            a.DeviceRowOffsets.Pointer.Address, a.DeviceColumnIndices.Pointer.Address, a.DeviceValues.Pointer.Address,
            b.DeviceData.Pointer.Address, c.DeviceData.Pointer.Address,
        }));
    }

    [Test]
    public void SpmmTransposedLaunchesOnTheTransposeWithShapesInTermsOfA()
    {
        using var device = new RecordingDevice();
        var rng = new Random(5);
        using var aT = TestData.Csr(rng, 12, 7, 0.3).ToDevice(device); // A is 7x12
        using var b = TestData.Dense(rng, 7, 5).ToDevice(device);
        using var c = DenseTensor.Allocate(device, 12, 5);
        SpmmCsr.RunTransposed(device, aT, b, c);
        var l = device.Launches.Single();
        Assert.That(l.Kernel, Is.EqualTo("spmm_csr_v1"));
        Assert.That(l.Args[..3], Is.EqualTo(new ulong[] { 12, 7, 5 }));
        using var bBad = TestData.Dense(rng, 12, 5).ToDevice(device);
        var e = Assert.Throws<ArgumentException>(() => SpmmCsr.RunTransposed(device, aT, bBad, c))!;
        Assert.That(e.Message, Does.Contain("A is 7x12").And.Contain("12x5"));
    }

    [Test]
    public void SddmmLaunchesOneWarpPerPatternRowWithArgumentsInOrder()
    {
        using var device = new RecordingDevice();
        var rng = new Random(3);
        using var p = TestData.CsrExact(rng, 7, 96, 333).ToDevice(device);
        using var x = TestData.Dense(rng, 7, 40).ToDevice(device);
        using var y = TestData.Dense(rng, 96, 40).ToDevice(device);
        SddmmCsr.Run(device, x, y, p);
        var l = device.Launches.Single();
        Assert.That(l.Kernel, Is.EqualTo("sddmm_csr_v1"));
        Assert.That(l.Config.Block, Is.EqualTo(new Dim3(32, SddmmCsr.WarpsPerBlockV1)));
        Assert.That(l.Config.Grid, Is.EqualTo(new Dim3(2)));
        Assert.That(l.Args, Is.EqualTo(new[]
        {
            7UL, 96UL, 40UL,
            p.DeviceRowOffsets.Pointer.Address, p.DeviceColumnIndices.Pointer.Address,
            x.DeviceData.Pointer.Address, y.DeviceData.Pointer.Address, p.DeviceValues.Pointer.Address,
        }));
    }

    [Test]
    public void ElementwiseArgumentsMatchTheKernelSignatures()
    {
        using var device = new RecordingDevice(multiprocessors: 2);
        var rng = new Random(4);
        using var a = TestData.Dense(rng, 333, 301).ToDevice(device);
        using var b = TestData.Dense(rng, 333, 301).ToDevice(device);
        ulong pa = a.DeviceData.Pointer.Address, pb = b.DeviceData.Pointer.Address;
        const ulong n = 333 * 301;
        Elementwise.Add(device, a, b, b);
        Elementwise.Mul(device, a, b, b);
        Elementwise.Scale(device, 2.5f, a, b);
        Elementwise.Axpy(device, -0.5f, a, b);
        Elementwise.Relu(device, a, b);
        Elementwise.ReluBackward(device, a, a, b);
        Elementwise.Fill(device, b, 1.5f);
        using var bias = device.Allocate<float>(301);
        Elementwise.AddBiasPerColumn(device, a, bias);
        var expected = new (string, ulong[])[]
        {
            ("elementwise_add", [n, pa, pb, pb]),
            ("elementwise_mul", [n, pa, pb, pb]),
            ("elementwise_scale", [n, Bits(2.5f), pa, pb]),
            ("elementwise_axpy", [n, Bits(-0.5f), pa, pb]),
            ("elementwise_relu", [n, pa, pb]),
            ("elementwise_relu_backward", [n, pa, pa, pb]),
            ("elementwise_fill", [n, Bits(1.5f), pb]),
            ("elementwise_add_bias_per_column", [333, 301, bias.Pointer.Address, pa]),
        };
        Assert.That(device.Launches.Select(l => (l.Kernel, l.Args)), Is.EqualTo(expected));
        foreach (var l in device.Launches)
        {
            Assert.That(l.Config.Block, Is.EqualTo(new Dim3(Elementwise.BlockSize)), l.Kernel);
            // 2 SMs: the grid is capped and the grid-stride loop covers the rest.
            Assert.That(l.Config.Grid, Is.EqualTo(new Dim3(2 * Elementwise.MaxBlocksPerMultiprocessor)), l.Kernel);
        }
    }

    [Test]
    public void ElementwiseGridIsOneThreadPerElementWhenSmall()
    {
        using var device = new RecordingDevice(multiprocessors: 100);
        Assert.That(Elementwise.GridFor(device, 1), Is.EqualTo(1u));
        Assert.That(Elementwise.GridFor(device, 256), Is.EqualTo(1u));
        Assert.That(Elementwise.GridFor(device, 257), Is.EqualTo(2u));
        Assert.That(Elementwise.GridFor(device, 100L * 256 * 1000), Is.EqualTo(100u * Elementwise.MaxBlocksPerMultiprocessor));
    }

    [Test]
    public void EmptyOperandsLaunchNothing()
    {
        using var device = new RecordingDevice();
        using var a = new CsrMatrix(0, 5, [0], [], []).ToDevice(device);
        using var b = DenseTensor.Allocate(device, 5, 3);
        using var c = DenseTensor.Allocate(device, 0, 3);
        SpmmCsr.Run(device, a, b, c);
        using var x = DenseTensor.Allocate(device, 0, 4);
        using var y = DenseTensor.Allocate(device, 5, 4);
        SddmmCsr.Run(device, x, y, a);
        using var e = DenseTensor.Allocate(device, 0, 7);
        Elementwise.Relu(device, e, e);
        Elementwise.Fill(device, e, 1f);
        Assert.That(device.Launches, Is.Empty);
    }

    [Test]
    public void RowsWithoutNonzerosStillLaunchSoThatCIsWritten()
    {
        using var device = new RecordingDevice();
        using var a = new CsrMatrix(3, 5, new int[4], [], []).ToDevice(device);
        using var b = DenseTensor.Allocate(device, 5, 2);
        using var c = DenseTensor.Allocate(device, 3, 2);
        SpmmCsr.Run(device, a, b, c);
        Assert.That(device.Launches, Has.Count.EqualTo(1), "C must be zeroed by the kernel even when A has no nonzeros");
    }

    [Test]
    public void KernelHandlesAreLookedUpOncePerDevice()
    {
        using var device = new RecordingDevice();
        using var other = new RecordingDevice("other");
        foreach (var d in new[] { device, other, device })
        {
            using var x = DenseTensor.Allocate(d, 3, 3);
            Elementwise.Relu(d, x, x);
            Elementwise.Relu(d, x, x);
        }
        Assert.That(device.KernelLookups["elementwise_relu"], Is.EqualTo(1));
        Assert.That(other.KernelLookups["elementwise_relu"], Is.EqualTo(1));
        Assert.That(device.Launches, Has.Count.EqualTo(4));
    }

    [Test]
    public void OperandsOnTheHostOrAnotherDeviceAreRejectedByName()
    {
        using var device = new RecordingDevice("first");
        using var other = new RecordingDevice("second");
        var rng = new Random(6);
        var hostA = TestData.Csr(rng, 4, 6, 0.5);
        using var a = hostA.ToDevice(device);
        using var b = TestData.Dense(rng, 6, 2).ToDevice(device);
        using var bOther = TestData.Dense(rng, 6, 2).ToDevice(other);
        using var c = DenseTensor.Allocate(device, 4, 2);

        var e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, hostA, b, c))!;
        Assert.That(e.Message, Does.Contain("host").And.Contain("4x6").And.Contain("'first'"));
        Assert.That(e.ParamName, Is.EqualTo("a"));
        e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, a, bOther, c))!;
        Assert.That(e.Message, Does.Contain("'second'").And.Contain("'first'").And.Contain("B"));
        e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, a, TestData.Dense(rng, 6, 2), c))!;
        Assert.That(e.Message, Does.Contain("host"));
        Assert.Throws<ArgumentNullException>(() => SpmmCsr.Run(null!, a, b, c));
        Assert.That(device.Launches, Is.Empty);
    }

    [Test]
    public void OutputAliasingAnInputIsRejectedWhereTheKernelCannotWorkInPlace()
    {
        using var device = new RecordingDevice();
        var rng = new Random(7);
        using var a = TestData.Csr(rng, 5, 5, 0.5).ToDevice(device);
        using var bc = TestData.Dense(rng, 5, 5).ToDevice(device);
        var e = Assert.Throws<ArgumentException>(() => SpmmCsr.Run(device, a, bc, bc))!;
        Assert.That(e.Message, Does.Contain("same buffer"));
        using var x = TestData.Dense(rng, 5, 3).ToDevice(device);
        using var y = TestData.Dense(rng, 5, 3).ToDevice(device);
        using var tooShort = device.Allocate<float>(a.Nnz + 1);
        e = Assert.Throws<ArgumentException>(() => SddmmCsr.Run(device, x, y, a, tooShort))!;
        Assert.That(e.Message, Does.Contain($"{a.Nnz} nonzeros"));
        Assert.That(device.Launches, Is.Empty);
    }

    [Test]
    public void UnknownVersionsAreRejected()
    {
        using var device = new RecordingDevice();
        var rng = new Random(8);
        using var a = TestData.Csr(rng, 5, 5, 0.5).ToDevice(device);
        using var b = TestData.Dense(rng, 5, 5).ToDevice(device);
        using var c = DenseTensor.Allocate(device, 5, 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => SpmmCsr.Run(device, a, b, c, (SpmmCsrVersion)99));
        Assert.Throws<ArgumentOutOfRangeException>(() => SddmmCsr.Run(device, b, b, a, (SddmmCsrVersion)99));
    }

    [Test]
    public void RecordingDeviceRoundTripsData()
    {
        // The double itself must be sound for the checks above to mean anything.
        using var device = new RecordingDevice();
        var rng = new Random(9);
        var t = TestData.Dense(rng, 3, 4);
        using var d = t.ToDevice(device);
        Assert.That(d.ToArray(), Is.EqualTo(t.HostData));
        device.Fill32(d.DeviceData, TestDevice.PoisonBits);
        Assert.That(d.ToArray().All(float.IsNaN), Is.True);
    }
}
