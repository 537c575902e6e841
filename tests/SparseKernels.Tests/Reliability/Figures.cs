using System.Text.Json;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// Figures the reliability tests measure (kills survived, inputs fuzzed, ...), appended as JSON lines to the file named
/// by SPARSEKERNELS_FIGURES when it is set; docs/reliability.sh collects them into docs/reliability.md.
/// </summary>
internal static class Figures
{
    public const string Variable = "SPARSEKERNELS_FIGURES";
    /// <summary>Set to 1 for the long variants (50 kills, longer fuzzing, the soak runs).</summary>
    public const string LongVariable = "SPARSEKERNELS_LONG_TESTS";
    private static readonly object s_lock = new();

    public static bool Long => Environment.GetEnvironmentVariable(LongVariable) == "1";

    public static void Record(string check, Dictionary<string, object> values)
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } path) return;
        values["check"] = check;
        values["long"] = Long;
        lock (s_lock) File.AppendAllText(path, JsonSerializer.Serialize(values) + "\n");
    }
}
