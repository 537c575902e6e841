namespace SparseKernels.Cli.Results;

/// <summary>What the grid covers; every option of <c>train results</c> that shapes it.</summary>
internal sealed record Grid(string[] Models, string[] Methods, double[] Sparsities, string[] Distributions, int Seeds, int Epochs, int ImpLevels, int TrainLimit);
