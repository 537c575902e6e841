using System.Globalization;

namespace SparseKernels.Cli.Results;

/// <summary>Linux /proc/self/status memory fields (VmRSS, VmHWM) in bytes; 0 where the file does not exist.</summary>
internal static class ProcessMemory
{
    public static long Read(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        foreach (var l in File.ReadLines(status))
            if (l.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(l[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024; // "VmHWM:   123456 kB"
        return 0;
    }

    /// <summary>Resets VmHWM to the current RSS (writing 5 to /proc/self/clear_refs, Linux 4.0+); false where that is not possible.</summary>
    public static bool ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
