namespace SparseKernels.Cli.Results;

/// <summary>One finished run of the results grid, as stored (one JSON line) in the runs file.</summary>
internal sealed record RunResult(string Model, string Method, string Distribution, double Sparsity, ulong Seed, int Epochs,
    double TestAccuracy, double TrainSeconds, long StateBytes, long PeakBytes, long Nonzeros, long Weights, string Levels)
{
    /// <summary>Resident set size of the run's process after loading the data, before the model was built (0 in older runs).</summary>
    public long RssBeforeBytes { get; init; }
    /// <summary>Peak resident set size of the run's process (VmHWM; 0 in older runs, which ran in one shared process).</summary>
    public long PeakRssBytes { get; init; }
    /// <summary>Whether the peak was reset after loading the data, so PeakRssBytes - RssBeforeBytes is the run's own
    /// peak (false in runs measured before that reset, whose peak may be the data loading's).</summary>
    public bool PeakFromRunStart { get; init; }
    /// <summary>The folder of a run imported with <c>train results --import</c> (made by <c>train</c>, not by the grid;
    /// its time is not the grid's), or null for the grid's own runs.</summary>
    public string? Source { get; init; }
}
