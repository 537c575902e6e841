dotnet /tmp/cnn2/cli/SparseKernels.Cli.dll train --model lenet5 --method set --sparsity 0.95 --epochs 20 --seed 1 --threads 1 -o /tmp/cnn2/runs/set95-s1
