using System.Runtime.CompilerServices;
using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Tests.Bindings;

/// <summary>Kernel image bookkeeping and launch-argument packing, without a GPU.</summary>
[TestFixture]
public class KernelImagesTests
{
    [Test]
    public void ParseEntryNames_FindsEveryEntryOfAPtxText()
    {
        Assert.That(KernelImages.ParseEntryNames(TestPtx.Axpy), Is.EqualTo(new[] { "test_axpy" }));
        const string two = ".version 7.8\n.target sm_80\n.visible .entry spmm_csr_v1(\n .param .u64 a\n)\n{ ret; }\n.entry sddmm_csr_v1 (\n)\n{ ret; }\n// .entry not_this\n";
        Assert.That(KernelImages.ParseEntryNames(two), Is.EqualTo(new[] { "spmm_csr_v1", "sddmm_csr_v1" }));
        Assert.That(KernelImages.ParseEntryNames(".version 7.8\n.func helper(\n)"), Is.Empty);
    }

    [TestCase(new[] { 80, 90 }, 86, 80)]
    [TestCase(new[] { 80, 90 }, 90, 90)]
    [TestCase(new[] { 80, 90 }, 100, 90)]
    [TestCase(new[] { 90, 80 }, 89, 80)]
    public void SelectPtxArch_TakesTheHighestNotAboveTheDevice(int[] archs, int device, int expected)
        => Assert.That(KernelImages.SelectPtxArch(archs, device), Is.EqualTo(expected));

    [Test]
    public void SelectPtxArch_NoneFits_IsNull()
    {
        Assert.That(KernelImages.SelectPtxArch([80, 90], 75), Is.Null);
        Assert.That(KernelImages.SelectPtxArch([], 90), Is.Null);
    }

    [Test]
    public void ReadModules_AssemblyWithoutImages_IsEmpty()
        => Assert.That(KernelImages.ReadModules(typeof(KernelImagesTests).Assembly), Is.Empty);

    [Test]
    public void EmbeddedImages_AreConsistent()
    {
        var modules = KernelImages.Modules;
        Assert.That(KernelImages.Available, Is.EqualTo(modules.Select(m => m.Name).ToArray()));
        foreach (var m in modules)
        {
            Assert.That(m.Fatbin is not null || m.PtxByArch.Count > 0, m.Name);
            if (m.PtxByArch.Count > 0) Assert.That(m.KernelNames, Is.Not.Empty, $"{m.Name}: PTX without .entry");
        }
        if (modules.Count == 0) Assert.That(KernelImages.KernelNames, Is.Empty);
        Assert.That(KernelImages.NoImagesMessage, Does.Contain("no kernel images were built into this engine"));
    }

    [Test]
    public void NulTerminated_AppendsOneZeroOnlyWhenMissing()
    {
        Assert.That(KernelImages.NulTerminated([1, 2]), Is.EqualTo(new byte[] { 1, 2, 0 }));
        Assert.That(KernelImages.NulTerminated([1, 0]), Is.EqualTo(new byte[] { 1, 0 }));
    }

    [Test]
    public unsafe void KernelArgs_FillPointers_PointsAtEachValueInOrder()
    {
        var args = new KernelArgs();
        args.Add(1.5f);
        args.Add(new DevicePtr(0x1234_5678_9abcUL).Address);
        args.Add(-7);
        args.Add(42L);
        void** p = stackalloc void*[KernelArgs.MaxArgs];
        args.FillPointers(p);
        Assert.That(args.Count, Is.EqualTo(4));
        Assert.That(*(float*)p[0], Is.EqualTo(1.5f));
        Assert.That(*(ulong*)p[1], Is.EqualTo(0x1234_5678_9abcUL));
        Assert.That(*(int*)p[2], Is.EqualTo(-7));
        Assert.That(*(long*)p[3], Is.EqualTo(42L));
        Assert.That((byte*)p[1] - (byte*)p[0], Is.EqualTo(8));
        Assert.That(Unsafe.SizeOf<KernelArgs>(), Is.GreaterThanOrEqualTo(KernelArgs.MaxArgs * 8));
    }

    [Test]
    public void ParameterCounts_AreReadFromPtx()
    {
        const string ptx = ".visible .entry k2(\n .param .u64 k2_param_0,\n .param .u32 k2_param_1\n)\n{ ret; }\n" +
                           ".visible .entry k0(\n\n)\n{ ret; }\n";
        var counts = KernelImages.ParseParameterCounts(ptx);
        Assert.That(counts["k2"], Is.EqualTo(2));
        Assert.That(counts["k0"], Is.EqualTo(0));
        Assert.That(KernelImages.ParameterCount("no_such_kernel"), Is.EqualTo(-1));
    }

    /// <summary>
    /// The CUDA launch checks its argument count against the PTX (a short list would crash the process), and the
    /// emulated device against what clang compiled: both builds of each kernel must agree, or one of them would
    /// reject (or misread) the launchers' arguments.
    /// </summary>
    [Test]
    public void EveryKernel_HasTheSameParameterCountInPtxAndInTheEmulator()
    {
        if (KernelImages.KernelNames.Count == 0) Assert.Ignore(KernelImages.NoImagesMessage);
        if (Devices.ProbeEmulated() is { } why) Assert.Ignore($"No emulated device: {why}");
        Assert.Multiple(() =>
        {
            foreach (var name in KernelImages.KernelNames)
            {
                int ptx = KernelImages.ParameterCount(name);
                int emulated = EmulatorOps.ParamCount(System.Text.Encoding.UTF8.GetBytes(name + "\0"));
                Assert.That(ptx, Is.GreaterThanOrEqualTo(0), $"{name}: no parameter list in the PTX");
                Assert.That(emulated, Is.EqualTo(ptx), $"{name}: the emulator's build takes {emulated} parameters, the PTX {ptx}");
            }
        });
    }
}

/// <summary>A small kernel made by nvcc 11.8 (-ptx -arch=compute_70) from: y[i] = a * x[i] + y[i] for i &lt; n.</summary>
internal static class TestPtx
{
    public const string Axpy = """
        .version 7.8
        .target sm_70
        .address_size 64

        .visible .entry test_axpy(
        	.param .f32 test_axpy_param_0,
        	.param .u64 test_axpy_param_1,
        	.param .u64 test_axpy_param_2,
        	.param .u32 test_axpy_param_3
        )
        {
        	.reg .pred 	%p<2>;
        	.reg .f32 	%f<5>;
        	.reg .b32 	%r<6>;
        	.reg .b64 	%rd<8>;

        	ld.param.f32 	%f1, [test_axpy_param_0];
        	ld.param.u64 	%rd1, [test_axpy_param_1];
        	ld.param.u64 	%rd2, [test_axpy_param_2];
        	ld.param.u32 	%r2, [test_axpy_param_3];
        	mov.u32 	%r3, %ctaid.x;
        	mov.u32 	%r4, %ntid.x;
        	mov.u32 	%r5, %tid.x;
        	mad.lo.s32 	%r1, %r3, %r4, %r5;
        	setp.ge.s32 	%p1, %r1, %r2;
        	@%p1 bra 	$L__BB0_2;

        	cvta.to.global.u64 	%rd3, %rd2;
        	cvta.to.global.u64 	%rd4, %rd1;
        	mul.wide.s32 	%rd5, %r1, 4;
        	add.s64 	%rd6, %rd4, %rd5;
        	ld.global.nc.f32 	%f2, [%rd6];
        	add.s64 	%rd7, %rd3, %rd5;
        	ld.global.f32 	%f3, [%rd7];
        	fma.rn.f32 	%f4, %f2, %f1, %f3;
        	st.global.f32 	[%rd7], %f4;

        $L__BB0_2:
        	ret;

        }

        """;

    /// <summary>Looks like PTX but uses an undeclared register: the JIT must reject it with a log.</summary>
    public const string Broken = """
        .version 7.8
        .target sm_70
        .address_size 64

        .visible .entry broken_kernel(
        	.param .u64 broken_kernel_param_0
        )
        {
        	ld.param.u64 	%rd1, [broken_kernel_param_0];
        	ret;
        }

        """;
}
