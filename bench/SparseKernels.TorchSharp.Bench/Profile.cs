using System.Diagnostics;
using System.Globalization;
using SparseKernels.TorchSharp;
using SparseKernels.Training;

/// <summary>
/// The stages of SparseLinear's kernels without TorchSharp (CsrLinear on pinned arrays), median ms:
/// profile [threads=2] [out x in=4096x4096] [density=0.1] [batch=128] [reps=9].
/// </summary>
internal static unsafe class Profile
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
        var shape = (args.Length > 2 ? args[2] : "4096x4096").Split('x');
        int outF = int.Parse(shape[0], CultureInfo.InvariantCulture), inF = int.Parse(shape[1], CultureInfo.InvariantCulture);
        double density = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 0.1;
        int batch = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 128;
        int reps = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 9;
        var rng = new TrainRng(1);
        var p = Mlp.RandomPattern(outF, inF, density, rng);
        var plan = new CsrLinear(outF, inF, p.RowOffsets, p.ColumnIndices, threads);
        float[] F(long n)
        {
            var a = GC.AllocateUninitializedArray<float>(checked((int)n), pinned: true);
            for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            return a;
        }
        float[] x = F((long)batch * inF), v = F(p.Nnz), y = F((long)batch * outF), xT = F((long)batch * inF), yT = F((long)batch * outF);
        float[] tv = F(p.Nnz), dy = F((long)batch * outF), dx = F((long)batch * inF), dW = F(p.Nnz), dxT = F((long)batch * inF);
        double Median(Action a)
        {
            a(); a();
            var t = new double[reps];
            for (int i = 0; i < reps; i++) { var sw = Stopwatch.StartNew(); a(); t[i] = sw.Elapsed.TotalMilliseconds; }
            Array.Sort(t);
            return t[reps / 2];
        }
        fixed (float* px = x, pv = v, py = y, pxT = xT, pyT = yT, ptv = tv, pdy = dy, pdx = dx, pdW = dW,
            pdxT = dxT)
        {
            float* cx = px, cv = pv, cy = py, cxT = pxT, cyT = pyT, ctv = ptv, cdy = pdy, cdx = pdx, cdW = pdW, cdxT = pdxT;
            double fwd = Median(() => plan.Forward(cx, batch, cv, cy, cxT, cyT, null));
            double fwdT = Median(() => plan.Forward(cx, batch, cv, cy, cxT, cyT, ctv));
            double bW = Median(() => plan.Backward(cdy, outF, 1, batch, cxT, ctv, null, cdW, cyT, cdxT));
            double bX = Median(() => plan.Backward(cdy, outF, 1, batch, cxT, ctv, cdx, null, cyT, cdxT));
            double bB = Median(() => plan.Backward(cdy, 0, 0, batch, cxT, ctv, cdx, cdW, cyT, cdxT));
            double tr = Median(() => CsrLinear.Transpose(cx, inF, batch, inF, cxT, batch));
            double spmm = Median(() =>
            {
                fixed (int* ro = p.RowOffsets, ci = p.ColumnIndices) CsrLinear.SpmmRows(0, outF, ro, 1, ci, cv, cxT, batch, cyT);
            });
            double sddmm = Median(() =>
            {
                fixed (int* ro = p.RowOffsets, ci = p.ColumnIndices) CsrLinear.SddmmRows(0, outF, ro, 1, ci, cyT, cxT, batch, cdW);
            });
            double gflop = 2.0 * p.Nnz * batch / 1e6;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{outF}x{inF} density {density} nnz {p.Nnz} batch {batch} threads {threads}: forward {fwd:0.000} ms, forward+CSC values " +
                $"{fwdT:0.000}, backward dW only {bW:0.000}, dx only {bX:0.000}, both (dy broadcast) {bB:0.000}; 1 thread: transpose x " +
                $"{tr:0.000}, unblocked SpmmRows {spmm:0.000} ({gflop / spmm:0.0} GFLOP/s), " +
                $"unblocked SddmmRows {sddmm:0.000} ({gflop / sddmm:0.0} GFLOP/s)"));
        }
    }
}
