using System.Globalization;
using System.Text.Json;
using SparseKernels.Linalg;
using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Bench.Verify;

/// <summary>The device, driver, CUDA libraries (file and version, or why not), the folders searched and the kernel images.</summary>
public static class EnvStage
{
    public static StageResult Run(VerifyContext ctx)
    {
        var result = new StageResult();
        var d = ctx.Device;
        var mem = d.GetMemoryInfo();
        var report = new Report(ctx, "env", "Environment", ["item", "value"]);
        report.Add("device", $"{d.Kind} '{d.Info.Name}'");
        report.Add("compute capability", d.Info.ComputeCapability);
        report.Add("multiprocessors", d.Info.MultiprocessorCount.ToString(CultureInfo.InvariantCulture));
        report.Add("memory", $"{mem.FreeBytes >> 20} MiB free of {mem.TotalBytes >> 20} MiB");
        report.Add("driver", d.Info.DriverVersionText);
        var libs = CudaEnvironment.Libraries();
        var status = new List<string>();
        foreach (var lib in libs)
        {
            report.Add(lib.Name, lib.IsAvailable ? $"{lib.Version} ({lib.File})" : $"unavailable: {lib.Error}");
            status.Add($"{lib.Name.Replace(' ', '_')}={(lib.IsAvailable ? "ok" : "missing")}");
        }
        report.Add("library search folders (after the loader's path)", string.Join("; ", NativeLibraries.SearchFolders().Where(Directory.Exists)) is { Length: > 0 } f ? f : "(none exist)");
        report.Add("kernels loadable", d.KernelNames.Count.ToString(CultureInfo.InvariantCulture));
        report.Add("emulated device", Devices.ProbeEmulated() ?? "available");
        report.Flush();
        File.WriteAllText(ctx.PathOf("env.libs"), string.Join("\n", status) + "\n");
        result.SummaryLines.Add($"- {d.Kind} '{d.Info.Name}', cc {d.Info.ComputeCapability}, {d.Info.TotalMemoryBytes >> 30} GiB, driver {d.Info.DriverVersionText}; "
            + string.Join(", ", libs.Select(l => $"{l.Name} {(l.IsAvailable ? l.Version : "MISSING")}")));
        if (ctx.IsCuda)
            foreach (var lib in libs.Where(l => !l.IsAvailable))
                result.Failures.Add($"{lib.Name} unavailable: {lib.Error}");
        if (d.KernelNames.Count == 0) result.Failures.Add("no kernel images are loadable on this device (built without nvcc?)");
        return result;
    }
}

/// <summary>The roofline's two ceilings: device copy bandwidth (GB/s counting read + write) and the SGEMM fp32 rate.</summary>
public static class RooflineStage
{
    public sealed record Ceilings(double CopyGBps, double Fp32Gflops);

    public static StageResult Run(VerifyContext ctx)
    {
        var result = new StageResult();
        var report = new Report(ctx, "roofline", "Roofline ceilings", ["measure", "size", "time (us)", "R", "rate"]);
        report.Notes.Add($"Timing: {ctx.Timer.Method}.");
        double gbps = MeasureCopy(ctx, out var copyTiming, out long floats);
        report.Add("device-to-device copy", $"{floats * 4 >> 20} MiB", VerifyContext.F(copyTiming.Us, "F1"), copyTiming.Launches.ToString(CultureInfo.InvariantCulture), $"{VerifyContext.F(gbps, "F0")} GB/s (read + write)");
        report.Flush();
        double gflops = double.NaN;
        if (ctx.IsCuda)
        {
            const int n = RooflineBenchmarks.GemmSize;
            using var blas = new CublasContext(ctx.Device);
            using var a = BenchData.Dense(n, n, 1).ToDevice(ctx.Device);
            using var b = BenchData.Dense(n, n, 2).ToDevice(ctx.Device);
            using var c = DenseTensor.Allocate(ctx.Device, n, n);
            var t = ctx.Timer.Measure(() => blas.Sgemm(a, b, c, false, false), maxLaunches: 10);
            gflops = 2.0 * n * n * (double)n / (t.MedianMs * 1e6);
            report.Add("cuBLAS SGEMM fp32 (no tensor cores)", $"{n}^3", VerifyContext.F(t.Us, "F1"), t.Launches.ToString(CultureInfo.InvariantCulture), $"{VerifyContext.F(gflops, "F0")} GFLOP/s");
        }
        else report.Add("cuBLAS SGEMM fp32", "-", "-", "-", "n/a (no cuBLAS on the emulated device)");
        report.Flush();
        File.WriteAllText(ctx.PathOf("roofline.json"), JsonSerializer.Serialize(new Dictionary<string, double> { ["copy_gbps"] = gbps, ["fp32_gflops"] = double.IsFinite(gflops) ? gflops : 0 }));
        result.SummaryLines.Add($"- copy bandwidth {VerifyContext.F(gbps, "F0")} GB/s, SGEMM fp32 {VerifyContext.F(gflops, "F0")} GFLOP/s");
        return result;
    }

    private static double MeasureCopy(VerifyContext ctx, out Timing timing, out long floats)
    {
        floats = ctx.Rehearse ? 1L << 20 : RooflineBenchmarks.CopyFloats;
        using var src = ctx.Device.Allocate<float>(floats);
        using var dst = ctx.Device.Allocate<float>(floats);
        ctx.Device.Fill32(src, 0x3f800000u);
        long n = floats;
        var s = src; var dd = dst;
        timing = ctx.Timer.Measure(() => ctx.Device.CopyDeviceToDevice(s, 0, dd, 0, n), maxLaunches: 20);
        return 2.0 * 4 * floats / (timing.MedianMs * 1e6);
    }

    /// <summary>The ceilings from this run's roofline.json, else the copy bandwidth measured now (fp32 rate then unknown: NaN).</summary>
    public static Ceilings Load(VerifyContext ctx)
    {
        string path = ctx.PathOf("roofline.json");
        if (File.Exists(path))
        {
            try
            {
                var map = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(path))!;
                double bw = map.GetValueOrDefault("copy_gbps"), fl = map.GetValueOrDefault("fp32_gflops");
                if (bw > 0) return new Ceilings(bw, fl > 0 ? fl : double.NaN);
            }
            catch (JsonException) { }
        }
        return new Ceilings(MeasureCopy(ctx, out _, out _), double.NaN);
    }
}
