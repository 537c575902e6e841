dotnet /tmp/cnn2/cli/SparseKernels.Cli.dll train --model lenet5 --method rigl --sparsity 0.9 --epochs 20 --seed 1 --threads 1 -o /tmp/cnn2/runs/rigl90-s1
