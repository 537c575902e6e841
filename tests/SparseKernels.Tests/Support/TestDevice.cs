using NUnit.Framework;
using SparseKernels.Runtime;

namespace SparseKernels.Tests.Support;

/// <summary>
/// The device the Gpu-category tests run on: the real GPU when there is one, else the emulated device
/// (kernels compiled for the CPU), else the test is ignored with the reason neither could be opened.
/// SPARSEKERNELS_DEVICE=cuda|emulated forces one. Opened once per test run; each test writes which
/// device it used to its output.
/// </summary>
public static class TestDevice
{
    private static readonly Lazy<(IDevice? Device, string? Why)> s_device = new(OpenOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    private static (IDevice?, string?) OpenOnce()
    {
        try { return (Devices.Open(), null); }
        catch (Exception e) { return (null, e.Message); }
    }

    /// <summary>
    /// Set to 1 by tests/run.sh (and so by CI) once the emulated device was built: then a missing device FAILS the
    /// Gpu tests instead of ignoring them, so a broken emulator library can never pass CI as "skipped".
    /// </summary>
    public const string RequireDeviceVariable = "SPARSEKERNELS_REQUIRE_DEVICE";

    /// <summary>The shared device, or Assert.Ignore with why there is none (Assert.Fail when a device is required).</summary>
    public static IDevice Get()
    {
        var (device, why) = s_device.Value;
        if (device is null && Environment.GetEnvironmentVariable(RequireDeviceVariable) == "1")
            Assert.Fail($"No device to run kernels on, but {RequireDeviceVariable}=1: {why}");
        if (device is null) Assert.Ignore($"No device to run kernels on: {why}");
        TestContext.Out.WriteLine($"device: {device!.Kind} '{device.Info.Name}'");
        return device;
    }

    /// <summary>The shared device only if it is a real CUDA GPU, else Assert.Ignore.</summary>
    public static IDevice GetCuda()
    {
        var device = Get();
        if (device.Kind != DeviceKind.Cuda) Assert.Ignore($"Needs a real CUDA GPU; the test device is {device.Kind}.");
        return device;
    }

    /// <summary>The bit pattern used to poison outputs before a launch: a quiet NaN.</summary>
    public const uint PoisonBits = 0x7FC0DEADu;
}
