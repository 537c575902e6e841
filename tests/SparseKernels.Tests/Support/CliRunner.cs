using System.Diagnostics;
using NUnit.Framework;

namespace SparseKernels.Tests.Support;

/// <summary>Runs the CLI (SparseKernels.Cli.dll, copied beside the tests) in a child process, as a user would.</summary>
internal static class CliRunner
{
    public static string Cli => Path.Combine(AppContext.BaseDirectory, "SparseKernels.Cli.dll");

    /// <summary>The exit code and stdout + stderr of <c>dotnet SparseKernels.Cli.dll args</c> (no colours; 5-minute limit).</summary>
    public static (int Exit, string Output) Run(string? workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"the CLI did not finish in 5 minutes: {string.Join(' ', args)}");
        }
        return (p.ExitCode, output + err.Result);
    }
}
