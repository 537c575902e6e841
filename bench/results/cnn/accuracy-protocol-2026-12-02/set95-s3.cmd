dotnet /work/cnn-cli/SparseKernels.Cli.dll train --model lenet5 --method set --sparsity 0.95 --seed 3 --epochs 20 --threads 1 -o /work/cnn-acc/out/set95-s3
