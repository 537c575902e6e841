using System.CommandLine;
using SparseKernels.Cli;

// sparsekernels <command>: `info`, `train`; others are added as further subcommands.
var root = new RootCommand("SparseKernels: a CUDA sparse-training engine for .NET.");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
return root.Parse(args).Invoke();
