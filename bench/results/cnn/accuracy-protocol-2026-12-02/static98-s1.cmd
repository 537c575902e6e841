dotnet /tmp/cnn2/cli/SparseKernels.Cli.dll train --model lenet5 --method static --sparsity 0.98 --epochs 20 --seed 1 --threads 1 -o /tmp/cnn2/runs/static98-s1
