using System.CommandLine;
using SparseKernels.Runtime;
using Spectre.Console;

namespace SparseKernels.Cli;

/// <summary><c>info</c>: the CUDA device (or exactly why there is none), driver, cuBLAS/cuSPARSE, embedded kernels, emulated device.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var ordinal = new Option<int>("--device", "-d") { Description = "CUDA device ordinal to describe.", DefaultValueFactory = _ => 0 };
        var command = new Command("info", "Show the CUDA device, driver, libraries, embedded kernels and the emulated device.");
        command.Options.Add(ordinal);
        command.SetAction(parse => Run(parse.GetValue(ordinal)));
        return command;
    }

    private static string E(string? s) => Markup.Escape(s ?? "");

    public static int Run(int ordinal)
    {
        // Device
        var device = new Table().Title("CUDA device").AddColumn("Property").AddColumn("Value");
        string? why = Devices.ProbeCuda();
        if (why is not null)
        {
            device.AddRow("status", $"[yellow]none[/]: {E(why)}");
        }
        else
        {
            try
            {
                using var cuda = CudaDevice.Open(ordinal);
                var i = cuda.Info;
                var mem = cuda.GetMemoryInfo();
                device.AddRow("name", E(i.Name));
                device.AddRow("ordinal", i.Ordinal.ToString());
                device.AddRow("compute capability", i.ComputeCapability);
                device.AddRow("multiprocessors", i.MultiprocessorCount.ToString());
                device.AddRow("memory", $"{mem.FreeBytes / (1 << 20)} MiB free of {i.TotalMemoryBytes / (1 << 20)} MiB");
                device.AddRow("max threads / block", i.MaxThreadsPerBlock.ToString());
                device.AddRow("shared memory / block", $"{i.MaxSharedMemoryPerBlock} bytes");
                device.AddRow("warp size", i.WarpSize.ToString());
            }
            catch (Exception e) when (e is SparseKernels.Native.CudaException or SparseKernels.Native.CudaUnavailableException or ArgumentOutOfRangeException)
            {
                device.AddRow("status", $"[red]could not open device {ordinal}[/]: {E(e.Message)}");
            }
        }
        AnsiConsole.Write(device);

        // Driver and libraries
        var libs = new Table().Title("CUDA libraries").AddColumn("Library").AddColumn("Version").AddColumn("File / why not");
        foreach (var lib in CudaEnvironment.Libraries())
            libs.AddRow(E(lib.Name), lib.IsAvailable ? E(lib.Version) : "[yellow]unavailable[/]", lib.IsAvailable ? E(lib.File) : E(lib.Error));
        AnsiConsole.Write(libs);
        AnsiConsole.MarkupLine($"Minimum driver for the embedded PTX: {E(CudaEnvironment.MinimumDriverVersion)}");

        // Kernel images
        var modules = KernelImages.Modules;
        if (modules.Count == 0)
        {
            AnsiConsole.MarkupLine($"Kernel images: [yellow]none[/]: {E(KernelImages.NoImagesMessage)}");
        }
        else
        {
            var kernels = new Table().Title("Embedded kernel images").AddColumn("Module").AddColumn("Images").AddColumn("Kernels");
            foreach (var m in modules)
                kernels.AddRow(E(m.Name), E(string.Join(", ", m.Images)), m.KernelNames.Count == 0 ? "(unknown: no PTX)" : E(string.Join(", ", m.KernelNames)));
            AnsiConsole.Write(kernels);
        }

        // Emulated device
        string? emuWhy = Devices.ProbeEmulated();
        AnsiConsole.MarkupLine(emuWhy is null ? "Emulated device: [green]available[/]" : $"Emulated device: [yellow]unavailable[/]: {E(emuWhy)}");
        return 0;
    }
}
