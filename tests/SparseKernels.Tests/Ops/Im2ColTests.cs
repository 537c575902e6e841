using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>
/// im2col / col2im, max pooling, global average pooling and the CNHW / feature-major permutations: the CPU backend and
/// the device (emulated here) against the double-accumulating CpuReference, on odd shapes (stride 2, padding, non-square
/// planes, 1x1 kernels, a sample range inside the batch), outputs poisoned first on the device.
/// </summary>
public class Im2ColTests
{
    public static readonly object[] Geometries =
    [
        new object[] { new Conv2dGeometry(1, 28, 28, 20, 5, 5), 3, 0, 3 },
        new object[] { new Conv2dGeometry(3, 7, 5, 4, 3, 3, 2, 1), 5, 1, 3 },
        new object[] { new Conv2dGeometry(2, 6, 9, 3, 1, 1, 1, 0), 2, 1, 1 },
        new object[] { new Conv2dGeometry(4, 5, 5, 2, 3, 2, 1, 2), 3, 0, 3 },
    ];

    private static DenseTensor Input(Random rng, Conv2dGeometry g, int batch)
        => TestData.Dense(rng, g.InChannels, batch * g.Height * g.Width);

    [TestCaseSource(nameof(Geometries))]
    public void CpuBackendMatchesTheReference(Conv2dGeometry g, int batch, int b0, int bc)
    {
        var rng = new Random(11);
        var cpu = new CpuBackend(2);
        var x = Input(rng, g, batch);
        var col = cpu.Im2Col(g, x, batch, b0, bc);
        Approx.AssertAllClose(col.HostData, CpuReference.Im2Col(g, x, batch, b0, bc).HostData, 0, 0, $"im2col {g}");
        var dcol = TestData.Dense(rng, col.Rows, col.Cols);
        var dx = DenseTensor.FromArray(x.Rows, x.Cols, Enumerable.Repeat(float.NaN, (int)x.Length).ToArray());
        var want = DenseTensor.FromArray(x.Rows, x.Cols, (float[])dx.HostData.Clone());
        cpu.Col2Im(g, dcol, batch, b0, bc, dx);
        CpuReference.Col2Im(g, dcol, batch, b0, bc, want);
        Approx.AssertAllClose(Finite(dx.HostData), Finite(want.HostData), 1e-5, 1e-5, $"col2im {g}");
    }

    [Test]
    public void Col2ImIsTheAdjointOfIm2Col()
    {
        // <im2col(x), c> = <x, col2im(c)> for every x, c: the backward pass of im2col is col2im.
        var rng = new Random(5);
        var g = new Conv2dGeometry(3, 7, 6, 2, 3, 3, 2, 1);
        var x = Input(rng, g, 2);
        var col = CpuReference.Im2Col(g, x, 2, 0, 2);
        var c = TestData.Dense(rng, col.Rows, col.Cols);
        var dx = DenseTensor.Zeros(x.Rows, x.Cols);
        CpuReference.Col2Im(g, c, 2, 0, 2, dx);
        double a = 0, b = 0;
        for (int i = 0; i < col.Length; i++) a += (double)col.HostData[i] * c.HostData[i];
        for (int i = 0; i < x.Length; i++) b += (double)x.HostData[i] * dx.HostData[i];
        Assert.That(a, Is.EqualTo(b).Within(1e-4));
    }

    [TestCase(2, 7, 5, 2, 2)]
    [TestCase(3, 6, 6, 3, 1)]
    [TestCase(1, 24, 24, 2, 2)]
    public void PoolingAndPermutationsMatchTheReference(int channels, int h, int w, int k, int s)
    {
        var rng = new Random(3);
        var cpu = new CpuBackend(2);
        int batch = 3;
        var x = TestData.Dense(rng, channels, batch * h * w);
        var (y, which) = cpu.MaxPool2d(x, batch, h, w, k, s);
        var (ry, rwhich) = CpuReference.MaxPool2d(x, batch, h, w, k, s);
        Approx.AssertAllClose(y.HostData, ry.HostData, 0, 0, "maxpool");
        Approx.AssertAllClose(which.HostData, rwhich.HostData, 0, 0, "maxpool winners");
        var dy = TestData.Dense(rng, y.Rows, y.Cols);
        Approx.AssertAllClose(cpu.MaxPool2dBackward(dy, which, batch, h, w, k, s).HostData,
            CpuReference.MaxPool2dBackward(dy, rwhich, batch, h, w, k, s).HostData, 1e-6, 1e-6, "maxpool backward");
        Approx.AssertAllClose(cpu.GlobalAvgPool(x, h * w).HostData, CpuReference.GlobalAvgPool(x, h * w).HostData, 1e-6, 1e-5, "gap");
        var f = cpu.ChannelsToFeatures(x, channels, batch, h * w);
        Approx.AssertAllClose(f.HostData, CpuReference.ChannelsToFeatures(x, channels, batch, h * w).HostData, 0, 0, "flatten");
        Approx.AssertAllClose(cpu.FeaturesToChannels(f, channels, batch, h * w).HostData, x.HostData, 0, 0, "flatten inverse");
    }

    /// <summary>The autograd's CPU backend takes these outputs from its array pool uninitialised: poison the pool with NaN
    /// first, so that an element a kernel does not write (im2col's padding, a pool gradient's non-winners) shows.</summary>
    [TestCase(2, 7, 5, 2, 2, false)]
    [TestCase(3, 6, 6, 3, 1, false)]
    [TestCase(2, 6, 7, 2, 1, true)]
    [TestCase(20, 24, 24, 2, 2, true)]
    public void PooledBackendWritesEveryElement(int channels, int h, int w, int k, int s, bool nans)
    {
        var rng = new Random(5);
        var tb = new CpuTensorBackend(new CpuBackend(2));
        int batch = 3;
        var x = TestData.Dense(rng, channels, batch * h * w);
        if (nans) for (int i = 0; i < x.Length; i += 37) x.HostData[i] = float.NaN;   // windows with a NaN take the general path
        var (ry, rwhich) = CpuReference.MaxPool2d(x, batch, h, w, k, s);
        Poison(tb, ry.Rows, ry.Cols, 2);
        var (y, which) = tb.MaxPool2d(x, batch, h, w, k, s);
        Approx.AssertAllClose(Finite(y.HostData), Finite(ry.HostData), 0, 0, "pooled maxpool");
        Approx.AssertAllClose(which.HostData, rwhich.HostData, 0, 0, "pooled maxpool winners");
        var dy = TestData.Dense(rng, y.Rows, y.Cols);
        Poison(tb, x.Rows, x.Cols, 1);
        Approx.AssertAllClose(tb.MaxPool2dBackward(dy, which, batch, h, w, k, s).HostData,
            CpuReference.MaxPool2dBackward(dy, rwhich, batch, h, w, k, s).HostData, 1e-6, 1e-6, "pooled maxpool backward");
        var xf = TestData.Dense(rng, channels, batch * h * w);
        Poison(tb, channels * h * w, batch, 1);
        var f = tb.ChannelsToFeatures(xf, channels, batch, h * w);
        Approx.AssertAllClose(f.HostData, CpuReference.ChannelsToFeatures(xf, channels, batch, h * w).HostData, 0, 0, "pooled flatten");
        Poison(tb, channels, batch * h * w, 1);
        Approx.AssertAllClose(tb.FeaturesToChannels(f, channels, batch, h * w).HostData, xf.HostData, 0, 0, "pooled flatten inverse");
    }

    [TestCaseSource(nameof(Geometries))]
    public void PooledBackendIm2ColWritesThePadding(Conv2dGeometry g, int batch, int b0, int bc)
    {
        var rng = new Random(13);
        var tb = new CpuTensorBackend(new CpuBackend(2));
        var x = Input(rng, g, batch);
        var want = CpuReference.Im2Col(g, x, batch, b0, bc);
        Poison(tb, want.Rows, want.Cols, 1);
        Approx.AssertAllClose(Finite(tb.Im2Col(x, g, batch, b0, bc).HostData), want.HostData, 0, 0, $"pooled im2col {g}");
    }

    private static void Poison(CpuTensorBackend tb, int rows, int cols, int count)
    {
        var rented = Enumerable.Range(0, count).Select(_ => tb.Rent(rows, cols)).ToArray();
        foreach (var t in rented) { t.HostData.AsSpan().Fill(float.NaN); t.Dispose(); }
    }

    [Test]
    [Category("Gpu")]
    public void DeviceMatchesTheReference()
    {
        var device = TestDevice.Get();
        TestContext.Out.WriteLine($"device: {device.Kind} '{device.Name}'");
        var b = new DeviceTensorBackend(device);
        var rng = new Random(17);
        foreach (object[] gc in Geometries)
        {
            var g = (Conv2dGeometry)gc[0]; int batch = (int)gc[1], b0 = (int)gc[2], bc = (int)gc[3];
            var x = Input(rng, g, batch);
            using var xd = x.ToDevice(device);
            using var col = b.Im2Col(xd, g, batch, b0, bc);
            Approx.AssertAllClose(col.ToArray(), CpuReference.Im2Col(g, x, batch, b0, bc).HostData, 0, 0, $"device im2col {g}");
            var dcol = TestData.Dense(rng, col.Rows, col.Cols);
            using var dcolD = dcol.ToDevice(device);
            var poison = DenseTensor.FromArray(x.Rows, x.Cols, Enumerable.Repeat(float.NaN, (int)x.Length).ToArray());
            using var dxD = poison.ToDevice(device);
            b.Col2Im(dcolD, g, batch, b0, bc, dxD);
            CpuReference.Col2Im(g, dcol, batch, b0, bc, poison);
            Approx.AssertAllClose(Finite(dxD.ToArray()), Finite(poison.HostData), 1e-5, 1e-5, $"device col2im {g}");
        }
        foreach (var (c, h, w, k, s) in new[] { (2, 7, 5, 2, 2), (3, 6, 6, 3, 1) })
        {
            int batch = 3;
            var x = TestData.Dense(rng, c, batch * h * w);
            using var xd = x.ToDevice(device);
            var (y, which) = b.MaxPool2d(xd, batch, h, w, k, s);
            using (y)
            using (which)
            {
                var (ry, rwhich) = CpuReference.MaxPool2d(x, batch, h, w, k, s);
                Approx.AssertAllClose(y.ToArray(), ry.HostData, 0, 0, "device maxpool");
                var dy = TestData.Dense(rng, y.Rows, y.Cols);
                using var dyD = dy.ToDevice(device);
                using var dx = b.MaxPool2dBackward(dyD, which, batch, h, w, k, s);
                Approx.AssertAllClose(dx.ToArray(), CpuReference.MaxPool2dBackward(dy, rwhich, batch, h, w, k, s).HostData, 1e-6, 1e-6,
                    "device maxpool backward");
            }
            using var gap = b.GlobalAvgPool(xd, h * w);
            Approx.AssertAllClose(gap.ToArray(), CpuReference.GlobalAvgPool(x, h * w).HostData, 1e-6, 1e-5, "device gap");
            using var gapB = b.GlobalAvgPoolBackward(gap, h * w);
            Assert.That(gapB.Cols, Is.EqualTo(x.Cols));
            using var f = b.ChannelsToFeatures(xd, c, batch, h * w);
            Approx.AssertAllClose(f.ToArray(), CpuReference.ChannelsToFeatures(x, c, batch, h * w).HostData, 0, 0, "device flatten");
            using var back = b.FeaturesToChannels(f, c, batch, h * w);
            Approx.AssertAllClose(back.ToArray(), x.HostData, 0, 0, "device flatten inverse");
        }
    }

    [Test]
    public void BadShapesAreNamed()
    {
        var cpu = new CpuBackend(1);
        var g = new Conv2dGeometry(2, 5, 5, 3, 3, 3);
        var e = Assert.Throws<ArgumentException>(() => cpu.Im2Col(g, DenseTensor.Zeros(3, 50), 2, 0, 2));
        Assert.That(e!.Message, Does.Contain("Im2Col").And.Contain("3x50"));
        e = Assert.Throws<ArgumentException>(() => cpu.Im2Col(g, DenseTensor.Zeros(2, 50), 2, 1, 2));
        Assert.That(e!.Message, Does.Contain("[1, 3)"));
        e = Assert.Throws<ArgumentException>(() => cpu.Im2Col(g with { KernelH = 9 }, DenseTensor.Zeros(2, 50), 2, 0, 2));
        Assert.That(e!.Message, Does.Contain("does not fit"));
    }

    /// <summary>NaN (poison left where a function must not write) compared as a number.</summary>
    private static float[] Finite(float[] a) => a.Select(v => float.IsNaN(v) ? -12345f : v).ToArray();
}
