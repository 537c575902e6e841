using SparseKernels.Cpu;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.TorchSharp;
using TorchSharp;
using static TorchSharp.torch;

// Checks what a user of the packages gets: the engine's CPU SpMM on a DLMC matrix, the kernel images embedded in the
// engine, the emulated device (runtimes/linux-x64/native), and one TorchSharp training step through SparseLinear.
// Usage: SparseKernels.Consumer <a DLMC .smtx file>. Exit 0 when all hold; a failure names the missing piece.
int failures = 0;
void Check(bool ok, string what) { Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}"); if (!ok) failures++; }

// 1. DLMC SpMM on the CPU against a plain loop
var a = SmtxFile.Read(args[0], new Random(1));
var rng = new Random(2);
int n = 33;
var bData = new float[a.Cols * n];
for (int i = 0; i < bData.Length; i++) bData[i] = (float)(rng.NextDouble() * 2 - 1);
var c = new CpuBackend(2).SpmmCsr(a, DenseTensor.FromArray(a.Cols, n, bData));
double maxErr = 0;
for (int r = 0; r < a.Rows; r++)
    for (int j = 0; j < n; j++)
    {
        double s = 0;
        for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++) s += a.Values[p] * bData[a.ColumnIndices[p] * n + j];
        maxErr = Math.Max(maxErr, Math.Abs(s - c.HostData[r * n + j]));
    }
Check(maxErr < 1e-3, $"CPU SpMM of {Path.GetFileName(args[0])} ({a.Rows}x{a.Cols}, nnz {a.Nnz}) x {a.Cols}x{n}: max error {maxErr:E2}");

// 2. kernel images embedded in the engine's assembly
var images = CudaEnvironment.KernelImages;
Check(images.Count > 0, $"kernel images in the package: {images.Count} ({string.Join(", ", images.Take(4))}, ...)");

// 3. the emulated device from runtimes/linux-x64/native
try
{
    using var dev = Devices.Open(DevicePreference.Emulated);
    Check(true, $"emulated device opens: {dev.Name}");
}
catch (Exception e) { Check(false, $"emulated device: {e.GetType().Name}: {e.Message}"); }

// 4. one TorchSharp training step through SparseLinear (forward, backward, SGD step)
using (var layer = new SparseLinear(64, 16, 0.2, seed: 1))
{
    var opt = optim.SGD(layer.parameters(), 0.1);
    manual_seed(0);
    var x = randn(8, 64); var target = randn(8, 16);
    float Loss() { using var _ = no_grad(); return nn.functional.mse_loss(layer.forward(x), target).item<float>(); }
    float before = Loss();
    opt.zero_grad();
    nn.functional.mse_loss(layer.forward(x), target).backward();
    opt.step();
    float after = Loss();
    Check(after < before, $"TorchSharp step through SparseLinear (nnz {layer.Nnz}): loss {before:F4} -> {after:F4}");
}
Console.WriteLine(failures == 0 ? "consumer: all checks passed" : $"consumer: {failures} check(s) failed");
return failures == 0 ? 0 : 1;
