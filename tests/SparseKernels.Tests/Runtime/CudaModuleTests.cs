using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tests.Bindings;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Runtime;

/// <summary>Module load, function lookup, launch and occupancy with a hand-written PTX kernel (independent of kernels/).</summary>
[TestFixture, Category("Gpu")]
public class CudaModuleTests
{
    [Test]
    public void LoadPtx_LookUp_Launch_ComputesAxpy([Values(1, 127, 1000, 100_003)] int n)
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        using var module = device.LoadPtx(TestPtx.Axpy, "test_axpy.ptx");
        var kernel = module.GetFunction("test_axpy");
        Assert.That(kernel.Name, Is.EqualTo("test_axpy"));
        Assert.That(module.GetFunction("test_axpy"), Is.SameAs(kernel));

        var rng = new Random(n);
        float[] x = TestData.NonZeroArray(rng, n), y = TestData.NonZeroArray(rng, n);
        const float A = -1.75f;
        using var dx = device.Allocate<float>(n);
        using var dy = device.Allocate<float>(n + 1);
        dx.CopyFrom(x);
        device.Fill32(dy, TestDevice.PoisonBits);
        dy.CopyFrom(y);

        var args = new KernelArgs();
        args.Add(A);
        args.Add(dx.Pointer.Address);
        args.Add(dy.Pointer.Address);
        args.Add(n);
        const int Block = 128;
        device.Launch(kernel, new LaunchConfig((n + Block - 1) / Block, Block), ref args);
        var got = dy.ToArray();

        var expected = new double[n];
        for (int i = 0; i < n; i++) expected[i] = (double)A * x[i] + y[i];
        Approx.AssertAllClose(got.AsSpan(0, n), expected, 1e-6, 1e-6, "test_axpy");
        Assert.That(float.IsNaN(got[n]), Is.True, "the kernel wrote past n");
    }

    [Test]
    public void Launch_OnAnotherStream_IsOrderedOnThatStream()
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        using var module = device.LoadPtx(TestPtx.Axpy, "test_axpy.ptx");
        var kernel = module.GetFunction("test_axpy");
        using var stream = device.CreateStream();
        const int N = 4096;
        using var dx = device.Allocate<float>(N);
        using var dy = device.Allocate<float>(N);
        dx.CopyFrom(Enumerable.Repeat(1f, N).ToArray());
        dy.CopyFrom(Enumerable.Repeat(0.5f, N).ToArray());
        for (int i = 0; i < 10; i++)
        {
            var args = new KernelArgs();
            args.Add(2f); args.Add(dx.Pointer.Address); args.Add(dy.Pointer.Address); args.Add(N);
            device.Launch(kernel, new LaunchConfig(N / 256, 256), ref args, stream);
        }
        stream.Synchronize();
        Assert.That(dy.ToArray(), Is.All.EqualTo(20.5f));
    }

    [Test]
    public void BadPtx_FailsWithTheJitLogInTheMessage()
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        var e = Assert.Throws<CudaException>(() => device.LoadPtx(TestPtx.Broken, "broken.ptx"))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain("cuModuleLoadDataEx(broken.ptx)"));
        Assert.That(e.Message, Does.Contain("JIT error log:"));
        Assert.That(e.Message, Does.Not.Contain("JIT error log: (empty)"));
        Assert.That(e.Message, Does.Contain("rd1").Or.Contain("line"));
    }

    [Test]
    public void MissingFunction_ThrowsKernelNotFound()
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        using var module = device.LoadPtx(TestPtx.Axpy, "test_axpy.ptx");
        var e = Assert.Throws<KernelNotFoundException>(() => module.GetFunction("no_such_kernel"))!;
        Assert.That(e.Message, Does.Contain("no_such_kernel").And.Contain("test_axpy.ptx"));
    }

    [Test]
    public void AttributesAndOccupancy_AreSensible()
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        using var module = device.LoadPtx(TestPtx.Axpy, "test_axpy.ptx");
        var kernel = module.GetFunction("test_axpy");
        var attrs = device.GetAttributes(kernel);
        Assert.That(attrs.Registers, Is.InRange(1, 255));
        Assert.That(attrs.StaticSharedBytes, Is.EqualTo(0));
        Assert.That(attrs.MaxThreadsPerBlock, Is.InRange(1, device.Info.MaxThreadsPerBlock));
        int blocks = device.MaxActiveBlocksPerMultiprocessor(kernel, 128);
        Assert.That(blocks, Is.InRange(1, 64));
        Assert.That(device.MaxActiveBlocksPerMultiprocessor(kernel, 1024), Is.LessThanOrEqualTo(blocks));
    }

    [Test]
    public void Launch_BadConfiguration_ThrowsBeforeTheDriver()
    {
        var device = (CudaDevice)TestDevice.GetCuda();
        using var module = device.LoadPtx(TestPtx.Axpy, "test_axpy.ptx");
        var kernel = module.GetFunction("test_axpy");
        var args = new KernelArgs();
        var tooBig = new LaunchConfig(1, device.Info.MaxThreadsPerBlock + 1);
        var e = Assert.Throws<ArgumentException>(() => device.Launch(kernel, tooBig, ref args))!;
        Assert.That(e.Message, Does.Contain("test_axpy").And.Contain(device.Info.MaxThreadsPerBlock.ToString()));
        var empty = new LaunchConfig(new Dim3(0), 32);
        Assert.Throws<ArgumentException>(() => device.Launch(kernel, empty, ref args));
    }

    [Test]
    public void GetKernel_EmbeddedImages_OrTheNoImagesMessage()
    {
        var device = TestDevice.GetCuda();
        if (KernelImages.Modules.Count == 0)
        {
            Assert.That(device.KernelNames, Is.Empty);
            var e = Assert.Throws<KernelNotFoundException>(() => device.GetKernel("spmm_csr_v1"))!;
            Assert.That(e.Message, Does.Contain(KernelImages.NoImagesMessage));
            return;
        }
        Assert.That(device.KernelNames, Is.Not.Empty);
        foreach (string name in device.KernelNames)
        {
            var k = device.GetKernel(name);
            Assert.That(k.Name, Is.EqualTo(name));
            Assert.That(device.GetKernel(name), Is.SameAs(k), "each module is loaded once per context");
        }
        var missing = Assert.Throws<KernelNotFoundException>(() => device.GetKernel("no_such_kernel"))!;
        Assert.That(missing.Message, Does.Contain("no_such_kernel"));
    }
}
