using System.Diagnostics;
using System.Globalization;
using SparseKernels.Cpu;
using SparseKernels.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

// Forward + both gradients (dx, dW) of one layer, batch-major x (batch x in), median wall time of `reps` runs after a
// warm-up, at `threads` threads (TorchSharp's intra-op pool and the engine's CpuBackend alike).
// Usage: SparseKernels.TorchSharp.Bench [threads=2] [reps=7] [shapes=256x512,1024x1024,4096x4096] [batch=128]
int threads = args.Length > 0 ? int.Parse(args[0]) : 2;
int reps = args.Length > 1 ? int.Parse(args[1]) : 7;
var shapes = (args.Length > 2 ? args[2] : "256x512,1024x1024,4096x4096").Split(',')
    .Select(s => s.Split('x')).Select(p => (Out: int.Parse(p[0]), In: int.Parse(p[1]))).ToArray();
int batch = args.Length > 3 ? int.Parse(args[3]) : 128;
double[] sparsities = [0.8, 0.9, 0.95, 0.98, 0.99];
torch.set_num_threads(threads);
var backend = new CpuBackend(threads);
var inv = CultureInfo.InvariantCulture;

double Median(Action a)
{
    a(); a();
    var t = new double[reps];
    for (int i = 0; i < reps; i++)
    {
        var sw = Stopwatch.StartNew();
        a();
        t[i] = sw.Elapsed.TotalMilliseconds;
    }
    Array.Sort(t);
    return t[reps / 2];
}

Console.WriteLine($"# SparseLinear vs TorchSharp {typeof(torch).Assembly.GetName().Version} (CPU), batch {batch}, {threads} threads, " +
    $"forward + dx + dW, median of {reps} (ms)");
Console.WriteLine("| out x in | sparsity | dense Linear | dense with mask | SparseLinear | speed-up vs dense |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
foreach (var (outF, inF) in shapes)
{
    manual_seed(0);
    var x = randn(batch, inF).requires_grad_(true);
    var dense = nn.Linear(inF, outF, hasBias: false);
    double tDense = Median(() =>
    {
        using var scope = NewDisposeScope();
        x.grad = null; dense.weight!.grad = null;
        dense.forward(x).sum().backward();
    });
    foreach (double s in sparsities)
    {
        using var layer = new SparseLinear(inF, outF, 1 - s, hasBias: false, seed: 1) { Backend = backend };
        var w = layer.ToDense().requires_grad_(true);
        var mask = layer.Mask();
        double tMask = Median(() =>
        {
            using var scope = NewDisposeScope();
            x.grad = null; w.grad = null;
            nn.functional.linear(x, w * mask).sum().backward();
        });
        double tSparse = Median(() =>
        {
            using var scope = NewDisposeScope();
            x.grad = null; layer.Values.grad = null;
            layer.forward(x).sum().backward();
        });
        Console.WriteLine(string.Create(inv, $"| {outF}x{inF} | {s * 100:0} % | {tDense:0.00} | {tMask:0.00} | {tSparse:0.00} | " +
            $"{tDense / tSparse:0.0}x |"));
    }
}
