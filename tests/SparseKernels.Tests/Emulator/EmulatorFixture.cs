using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Tests.Emulator;

/// <summary>
/// The emulated device with the emulator's own test kernels (native/emulator/tests/*.cu, built by CMake
/// into libsparsekernels_emu_tests.so and copied next to the test assembly) loaded as a second image.
/// </summary>
internal static class EmulatorFixture
{
    public const string TestImage = "libsparsekernels_emu_tests.so";

    private static readonly Lazy<(EmulatedDevice? Device, string? Why)> s_device = new(Open, LazyThreadSafetyMode.ExecutionAndPublication);

    private static (EmulatedDevice?, string?) Open()
    {
        string? why = Devices.ProbeEmulated();
        if (why is not null) return (null, why);
        string image = Path.Combine(AppContext.BaseDirectory, TestImage);
        if (!File.Exists(image)) return (null, $"{TestImage} was not built next to the tests ({image}): run cmake");
        var device = (EmulatedDevice)Devices.OpenEmulated();
        device.LoadImage(image);
        return (device, null);
    }

    /// <summary>The emulated device with the test kernels, or Assert.Ignore saying why it is unavailable.</summary>
    public static EmulatedDevice Get()
    {
        var (device, why) = s_device.Value;
        if (device is null) Assert.Ignore($"The emulated device is unavailable: {why}");
        return device!;
    }

    public static DeviceBuffer<T> Upload<T>(this IDevice device, T[] data) where T : unmanaged
    {
        var b = device.Allocate<T>(data.Length);
        b.CopyFrom(data);
        return b;
    }

    public static DeviceBuffer<T> Poisoned<T>(this IDevice device, long length) where T : unmanaged
    {
        var b = device.Allocate<T>(length);
        device.Fill32(b, Support.TestDevice.PoisonBits);
        return b;
    }

    public static void Run(this IDevice device, string kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args)
    {
        var k = device.GetKernel(kernel);
        device.Launch(k, new LaunchConfig(grid, block, sharedBytes), ref args);
    }

    /// <summary>Runs a kernel that must fail, returning the emulator's message.</summary>
    public static string RunExpectingFailure(this IDevice device, string kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args)
    {
        var e = Assert.Throws<EmulatedLaunchException>(() => device.Run(kernel, grid, block, sharedBytes, args))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.KernelName, Is.EqualTo(kernel));
        return e.EmulatorMessage;
    }

    public static KernelArgs Args(params object[] values)
    {
        var a = new KernelArgs();
        foreach (var v in values)
        {
            switch (v)
            {
                case DevicePtr p: a.Add(p.Address); break;
                case int i: a.Add(i); break;
                case uint u: a.Add(u); break;
                case float f: a.Add(f); break;
                default: throw new ArgumentException($"unsupported kernel argument type {v.GetType()}");
            }
        }
        return a;
    }
}
