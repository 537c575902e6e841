dotnet /work/cnn-cli/SparseKernels.Cli.dll train --model lenet5 --method static --sparsity 0.98 --seed 1 --epochs 20 --threads 1 -o /work/cnn-acc/out/static98-s1
