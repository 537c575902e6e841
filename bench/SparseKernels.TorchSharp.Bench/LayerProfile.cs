using System.Diagnostics;
using System.Globalization;
using SparseKernels.Cpu;
using SparseKernels.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// Where a SparseLinear call's time goes beyond its kernels, median ms: layer [threads=2] [out x in=4096x4096]
/// [density=0.1] [batch=128] [reps=11]: the plan lookup (pattern comparison), the forward with and without autograd, and
/// forward + backward, beside the kernels alone.
/// </summary>
internal static unsafe class LayerProfile
{
    /// <summary>The process's minor page faults so far (/proc/self/stat, field 10).</summary>
    private static long MinorFaults() =>
        long.Parse(File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7],
            CultureInfo.InvariantCulture);

    public static void Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        int threads = args.Length > 1 ? int.Parse(args[1], inv) : 2;
        var shape = (args.Length > 2 ? args[2] : "4096x4096").Split('x');
        int outF = int.Parse(shape[0], inv), inF = int.Parse(shape[1], inv);
        double density = args.Length > 3 ? double.Parse(args[3], inv) : 0.1;
        int batch = args.Length > 4 ? int.Parse(args[4], inv) : 128;
        int reps = args.Length > 5 ? int.Parse(args[5], inv) : 11;
        torch.set_num_threads(threads);
        using var layer = new SparseLinear(inF, outF, density, hasBias: false, seed: 1) { Backend = new CpuBackend(threads) };
        manual_seed(0);
        var x = randn(batch, inF).requires_grad_(true);
        double Median(Action a)
        {
            var warm = Stopwatch.StartNew();
            for (int i = 0; i < 3 || warm.ElapsedMilliseconds < 200; i++) a();
            var t = new double[reps];
            for (int i = 0; i < reps; i++) { var sw = Stopwatch.StartNew(); a(); t[i] = sw.Elapsed.TotalMilliseconds; }
            Array.Sort(t);
            return t[reps / 2];
        }
        double plan = Median(() => layer.Return(layer.Rent(batch, true, true)));
        double fwdNoGrad = Median(() => { using var s = NewDisposeScope(); using var _ = no_grad(); layer.forward(x); });
        double fwdGrad = Median(() => { using var s = NewDisposeScope(); layer.forward(x); });
        double sum = Median(() => { using var s = NewDisposeScope(); x.grad = null; layer.Values.grad = null; layer.forward(x).sum(); });
        double full = Median(() =>
        {
            using var s = NewDisposeScope();
            x.grad = null; layer.Values.grad = null;
            layer.forward(x).sum().backward();
        });
        long f0 = MinorFaults();
        for (int i = 0; i < 10; i++)
        {
            using var s = NewDisposeScope();
            x.grad = null; layer.Values.grad = null;
            layer.forward(x).sum().backward();
        }
        long faults = (MinorFaults() - f0) / 10;
        var dyOnes = ones(batch, outF);
        double fullOnes = Median(() =>
        {
            using var s = NewDisposeScope();
            x.grad = null; layer.Values.grad = null;
            layer.forward(x).backward([dyOnes]);
        });
        Console.WriteLine(string.Create(inv,
            $"{outF}x{inF} density {density} batch {batch} threads {threads}: plan lookup {plan:0.000} ms, forward no_grad {fwdNoGrad:0.000}, " +
            $"forward with grad {fwdGrad:0.000}, + sum {sum:0.000}, forward + sum + backward {full:0.000}, " +
            $"forward + backward(contiguous dy) {fullOnes:0.000}; minor page faults per forward + backward {faults}"));
    }
}

