using System.Diagnostics;
using System.Globalization;
using SparseKernels.Cpu;
using SparseKernels.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

// Forward + both gradients (dx, dW) of one layer, batch-major x (batch x in), median wall time of `reps` runs after a
// warm-up, at `threads` threads (TorchSharp's intra-op pool and the engine's CpuBackend alike).
// Usage: SparseKernels.TorchSharp.Bench [threads=2] [reps=7] [shapes=256x512,1024x1024,4096x4096] [batch=128]
// (also: "profile ..." for the kernels alone, Profile.cs; "layer ..." for the time around them in TorchSharp, LayerProfile.cs)
if (args.Length > 0 && args[0] == "profile")
{
    Profile.Run(args);
    return;
}
if (args.Length > 0 && args[0] == "layer")
{
    LayerProfile.Run(args);
    return;
}
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
    // warm-up: at least 3 calls and 200 ms, so that every method on the path (ours and TorchSharp's managed wrappers)
    // has been re-jitted by tiered compilation and the steady state of a training loop is what gets timed
    var warm = Stopwatch.StartNew();
    for (int i = 0; i < 3 || warm.ElapsedMilliseconds < 200; i++) a();
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
Console.WriteLine("| out x in | sparsity | dense Linear | dense with mask | TorchSharp sparse (COO mm) | SparseLinear | " +
    "SparseLinear forward only | speed-up vs dense |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
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
        // TorchSharp's own sparse matmul: a COO weight built from the values (differentiable w.r.t. them), mm with x^T
        string tCoo;
        try
        {
            var csr = layer.ToCsr();
            var idx = new long[2 * csr.Nnz];
            for (int r = 0; r < csr.Rows; r++)
                for (int p = csr.RowOffsets[r]; p < csr.RowOffsets[r + 1]; p++) { idx[p] = r; idx[csr.Nnz + p] = csr.ColumnIndices[p]; }
            using var indices = tensor(idx, [2, csr.Nnz]);
            var vals = layer.Values.detach().clone().requires_grad_(true);
            double t = Median(() =>
            {
                using var scope = NewDisposeScope();
                x.grad = null; vals.grad = null;
                using var wsp = sparse_coo_tensor(indices, vals, [outF, inF]);
                mm(wsp, x.t()).sum().backward();
            });
            tCoo = string.Create(inv, $"{t:0.00}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            tCoo = "n/a (" + e.Message.Split('\n')[0].Trim() + ")";
        }
        double tSparse = Median(() =>
        {
            using var scope = NewDisposeScope();
            x.grad = null; layer.Values.grad = null;
            layer.forward(x).sum().backward();
        });
        double tForward = Median(() =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            layer.forward(x);
        });
        Console.WriteLine(string.Create(inv, $"| {outF}x{inF} | {s * 100:0} % | {tDense:0.00} | {tMask:0.00} | {tCoo} | " +
            $"{tSparse:0.00} | {tForward:0.00} | {tDense / tSparse:0.0}x |"));
    }
}
