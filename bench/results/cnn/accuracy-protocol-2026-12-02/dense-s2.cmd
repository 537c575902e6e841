dotnet /work/cnn-cli/SparseKernels.Cli.dll train --model lenet5 --seed 2 --epochs 20 --threads 1 -o /work/cnn-acc/out/dense-s2
