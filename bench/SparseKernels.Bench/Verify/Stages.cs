namespace SparseKernels.Bench.Verify;

/// <summary>One stage of <c>SparseKernels.Bench verify</c>: a name, what it measures, and the code that runs it.</summary>
public sealed record Stage(string Name, string Description, Func<VerifyContext, StageResult> Run);

/// <summary>
/// The stages of the GPU verification run (bench/gpu/verify.sh), in the order verify.sh calls them.
/// Adding a stage is one line here (and one line in verify.sh's stage table, with its time budget).
/// </summary>
public static class Stages
{
    public static readonly IReadOnlyList<Stage> All =
    [
        new("env", "device, driver, CUDA libraries found and the folders searched, kernel images", EnvStage.Run),
        new("roofline", "the two ceilings: device-to-device copy bandwidth and SGEMM fp32 rate", RooflineStage.Run),
        new("spmm", "SpMM, every SpmmCsrVersion vs every cuSPARSE CSR algorithm and cuBLAS fp32/TF32, roofline floor", MatmulStages.Spmm),
        new("sddmm", "SDDMM, every SddmmCsrVersion vs cuSPARSE SDDMM and cuBLAS fp32/TF32, roofline floor", MatmulStages.Sddmm),
        new("topology", "top-k select vs one device copy and a full sort; RigL update of a 4096x4096 layer at 90 %", TopologyStage.Run),
        new("training-step", "784-4096-4096-4096-10, batch 1024, dense vs 90 % RigL ERK: step time, device time per op, weights + gradients + optimizer state", TrainingStepStage.RunStage),
    ];

    public static Stage? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));
}

/// <summary>What a stage ends with: failed checks (a wrong result or an error) and lines for the run's summary.</summary>
public sealed class StageResult
{
    public List<string> Failures { get; } = [];
    public List<string> SummaryLines { get; } = [];
    public bool StoppedByBudget { get; set; }
    public bool Passed => Failures.Count == 0;
}
