using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Autograd;

/// <summary>A graph under test: builds its output from inputs on <paramref name="b"/>; returns the output and the nodes to differentiate.</summary>
public delegate (Var Output, Var[] Wrt) GraphBuilder(ITensorBackend b, Tape t);

public static class AutogradSupport
{
    /// <summary>Random values with |v| in [0.1, 1] (away from ReLU's kink).</summary>
    public static float[] Values(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)((0.1 + 0.9 * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1));
        return v;
    }

    public static DenseTensor Dense(Random rng, int rows, int cols) => DenseTensor.FromArray(rows, cols, Values(rng, rows * cols));

    /// <summary>L = sum(output * r) in double, r fixed.</summary>
    private static double Objective(DenseTensor output, float[] r)
    {
        var o = output.ToArray();
        double s = 0;
        for (int i = 0; i < o.Length; i++) s += (double)o[i] * r[i];
        return s;
    }

    /// <summary>
    /// Finite-difference check on the CPU backend of the gradient of L = sum(output . r) (r random) with respect to
    /// each node in Wrt, whose host arrays are perturbed in place by +-eps (central differences; the objective is
    /// summed in double). Tolerance: |fd - analytic| &lt;= atol + rtol |fd|. Up to <paramref name="probes"/>
    /// elements per input are probed.
    /// </summary>
    public static void GradCheck(GraphBuilder build, Random rng, float eps = 1e-2f, double atol = 2e-3, double rtol = 2e-2, int probes = 40)
    {
        var cpu = CpuTensorBackend.Instance;
        float[] r;
        float[][] analytic;
        float[][] data;
        using (var t = new Tape(cpu))
        {
            var (output, wrt) = build(cpu, t);
            r = Values(rng, (int)output.Value.Length);
            t.Backward(output, DenseTensor.FromArray(output.Value.Rows, output.Value.Cols, r));
            analytic = wrt.Select(w => (float[])(w.Grad ?? throw new AssertionException("no gradient reached an input")).ToArray().Clone()).ToArray();
            data = wrt.Select(w => w.Value.HostData).ToArray();
            foreach (var w in wrt) w.ZeroGrad();
        }
        double Eval()
        {
            using var t = new Tape(cpu);
            var (output, wrt) = build(cpu, t);
            foreach (var w in wrt) if (!ReferenceEquals(w.Value.HostData, data[Array.IndexOf(wrt, w)])) Assert.Fail("the graph builder must reuse the same input arrays");
            return Objective(output.Value, r);
        }
        double center = Eval();
        for (int i = 0; i < data.Length; i++)
        {
            var idx = Enumerable.Range(0, data[i].Length).OrderBy(_ => rng.Next()).Take(probes).ToArray();
            var fd = new double[idx.Length];
            var an = new float[idx.Length];
            int kinks = 0;
            for (int j = 0; j < idx.Length; j++)
            {
                float keep = data[i][idx[j]];
                data[i][idx[j]] = keep + eps; double plus = Eval();
                data[i][idx[j]] = keep - eps; double minus = Eval();
                data[i][idx[j]] = keep;
                fd[j] = (plus - minus) / (2.0 * eps);
                an[j] = analytic[i][idx[j]];
                // A ReLU whose input crosses 0 within +-eps makes the function non-differentiable there: the one-sided
                // differences then disagree by the jump in slope, which exceeds the central difference's own error.
                // Such a probe proves nothing either way and is left out (a wrong gradient on a smooth stretch has
                // agreeing one-sided differences and still fails). (See the count check below for how many may be left out.)
                double right = (plus - center) / eps, left = (center - minus) / eps;
                double err = Math.Abs(fd[j] - an[j]);
                if (err > atol + rtol * Math.Abs(fd[j]) && Math.Abs(right - left) > 1.5 * err)
                {
                    TestContext.Out.WriteLine($"input {i} element {idx[j]}: kink within eps (one-sided {left:G4} / {right:G4}, analytic {an[j]:G4}); probe left out");
                    fd[j] = an[j];
                    kinks++;
                }
            }
            // Enough probes must remain: three quarters of them, or 6 on a small input (a 9-element bias may have 3 kinks).
            int needed = Math.Min(idx.Length, Math.Max(6, 3 * idx.Length / 4));
            Assert.That(idx.Length - kinks, Is.GreaterThanOrEqualTo(needed), $"input {i}: {kinks} of {idx.Length} probes sit on a kink; the check would prove too little");
            Approx.AssertAllClose(an, fd, atol, rtol, $"gradient of input {i} (analytic vs central differences, eps {eps})");
        }
    }

    /// <summary>Runs the graph forward and backward (seed r) on the CPU and on <paramref name="device"/>; compares output and gradients.</summary>
    public static void DeviceAgrees(ITensorBackend device, GraphBuilder build, Random rng, double atol = 1e-4, double rtol = 1e-3)
    {
        (float[] Out, float[][] Grads) Run(ITensorBackend b, float[]? seed)
        {
            using var t = new Tape(b);
            var (output, wrt) = build(b, t);
            seed ??= Values(rng, (int)output.Value.Length);
            using var s = b.Upload(DenseTensor.FromArray(output.Value.Rows, output.Value.Cols, seed));
            t.Backward(output, s);
            var grads = wrt.Select(w => w.Grad!.ToArray().ToArray()).ToArray();
            foreach (var w in wrt) w.ZeroGrad();
            return (output.Value.ToArray().ToArray(), grads);
        }
        var (cpuOut, cpuGrads) = RunWithSeed(CpuTensorBackend.Instance, out float[] used);
        var (devOut, devGrads) = Run(device, used);
        Approx.AssertAllClose(devOut, cpuOut, atol, rtol, "forward output (device vs CPU)");
        for (int i = 0; i < cpuGrads.Length; i++)
            Approx.AssertAllClose(devGrads[i], cpuGrads[i], atol, rtol, $"gradient of input {i} (device vs CPU)");

        (float[], float[][]) RunWithSeed(ITensorBackend b, out float[] seed)
        {
            using var t = new Tape(b);
            var (output, wrt) = build(b, t);
            seed = Values(rng, (int)output.Value.Length);
            t.Backward(output, DenseTensor.FromArray(output.Value.Rows, output.Value.Cols, seed));
            var grads = wrt.Select(w => w.Grad!.ToArray().ToArray()).ToArray();
            foreach (var w in wrt) w.ZeroGrad();
            return (output.Value.ToArray().ToArray(), grads);
        }
    }
}
