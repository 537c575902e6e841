dotnet /work/cnn-cli/SparseKernels.Cli.dll train --model lenet5 --method rigl --sparsity 0.95 --seed 2 --epochs 20 --threads 1 -o /work/cnn-acc/out/rigl95-s2
