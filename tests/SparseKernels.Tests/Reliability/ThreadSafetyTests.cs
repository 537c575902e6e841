using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runs;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Reliability;

/// <summary>
/// Thread-safety (issue 17): devices opened, kernels looked up (the kernel cache), device ops launched and the CPU backend
/// (its shared workers, per-thread jobs and array pool) used from several threads at once. A fixed schedule: 8 threads x
/// a fixed number of iterations, released together by a <see cref="Barrier"/> each round; every result is compared bit for
/// bit with the single-threaded result.
/// </summary>
[NonParallelizable]
public class ThreadSafetyTests
{
    private const int Threads = 8;

    private static int Rounds => Figures.Long ? 200 : 20;

    /// <summary>Runs body(thread, round) on <see cref="Threads"/> threads, each round started together; rethrows the
    /// failures.</summary>
    private static void Together(int rounds, Action<int, int> body)
    {
        using var barrier = new Barrier(Threads);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            for (int r = 0; r < rounds; r++)
            {
                barrier.SignalAndWait();
                try { body(t, r); }
                catch (Exception e) { errors.Enqueue(e); }
            }
        })
        { IsBackground = true, Name = $"stress {t}" }).ToArray();
        foreach (var th in threads) th.Start();
        foreach (var th in threads)
            if (!th.Join(TimeSpan.FromMinutes(5))) Assert.Fail($"{th.Name} did not finish in 5 minutes (deadlock?)");
        if (!errors.IsEmpty) throw new AggregateException(errors);
    }

    private static void Record(string what, int calls)
        => Figures.Record("threads", new() { ["case"] = what, ["calls"] = calls, ["threads"] = Threads });

    private static void Same(float[] got, float[] expected, string what)
    {
        if (!got.AsSpan().SequenceEqual(expected)) throw new AssertionException($"{what} differs from the single-threaded result");
    }

    [Test]
    public void TheCpuBackend_FromEightThreads_GivesTheSingleThreadedResults()
    {
        var rng = new Random(21);
        // big enough for the shared workers (work > CpuBackend.SerialWork), with empty and long rows
        var inputs = Enumerable.Range(0, Threads).Select(t =>
        {
            var a = TestData.Csr(rng, 300 + t, 200, 0.1, emptyRows: 3, longRow: true);
            var b = TestData.Dense(rng, 200, 64 + t);
            var x = TestData.Dense(rng, 300 + t, 48);
            var y = TestData.Dense(rng, 200, 48);
            return (a, b, x, y);
        }).ToArray();
        var cpu = new CpuBackend(2);
        var expectSpmm = inputs.Select(i => cpu.SpmmCsr(i.a, i.b).ToArray()).ToArray();
        var expectSddmm = inputs.Select(i => cpu.SddmmCsr(i.a, i.x, i.y).Values.ToArray()).ToArray();
        var expectTransposed = inputs.Select(i => cpu.SpmmCsrTransposed(i.a, i.x).ToArray()).ToArray();
        int calls = 0;
        Together(Rounds, (t, r) =>
        {
            int i = (t + r) % Threads;   // each round every thread takes another input
            var c = cpu.SpmmCsr(inputs[i].a, inputs[i].b).ToArray();
            var s = cpu.SddmmCsr(inputs[i].a, inputs[i].x, inputs[i].y).Values.ToArray();
            var tr = cpu.SpmmCsrTransposed(inputs[i].a, inputs[i].x).ToArray();   // its transpose plan is cached per matrix
            Same(tr, expectTransposed[i], $"SpmmCsrTransposed of input {i} (thread {t}, round {r})");
            Same(c, expectSpmm[i], $"SpmmCsr of input {i} (thread {t}, round {r})");
            Same(s, expectSddmm[i], $"SddmmCsr of input {i} (thread {t}, round {r})");
            Interlocked.Add(ref calls, 3);
        });
        Record("CPU backend SpmmCsr, SddmmCsr, SpmmCsrTransposed (shared workers, cached transpose plans)", calls);
    }

    [Test]
    public void TrainingRunsOnTheSharedCpuBackend_FromEightThreads_MatchTheSingleThreadedRun()
    {
        var (train, test) = WorkedValuesTests.Synthetic(features: 24, classes: 4, count: 128);
        var options = new RunOptions
        {
            Layers = [24, 32, 4],
            Epochs = 2,
            BatchSize = 16,
            Seed = 5,
            Method = new SparseKernels.Sparsity.SparsityOptions { Method = "rigl", Sparsity = 0.7, UpdateEvery = 3, EndFraction = 1 },
        };
        float[][] Weights()
        {
            using var run = new TrainingRun(options, CpuTensorBackend.Instance, train, test);
            run.Run();
            return run.Model.Layers.SelectMany(l => new[]
            {
                l.Weight.Value.ToArray(), l.Bias.Value.ToArray(),
                l.IsSparse ? l.Sparse!.Matrix.ColumnIndices.Select(c => (float)c).ToArray() : [],
            }).ToArray();
        }
        var expect = Weights();
        int runs = 0;
        Together(Figures.Long ? 20 : 3, (t, r) =>
        {
            var got = Weights();
            for (int l = 0; l < expect.Length; l++)
                if (!got[l].AsSpan().SequenceEqual(expect[l])) throw new AssertionException($"layer {l} differs (thread {t}, round {r})");
            Interlocked.Increment(ref runs);
        });
        Record("RigL training runs on CpuTensorBackend.Instance", runs);
    }

    [Test]
    [Category("Gpu")]
    public void DevicesOpenedAndUsedFromEightThreads_GiveTheSingleThreadedResults()
    {
        var shared = TestDevice.Get();
        var preference = shared.Kind == DeviceKind.Cuda ? DevicePreference.Cuda : DevicePreference.Emulated;
        var rng = new Random(22);
        var a = TestData.Csr(rng, 67, 45, 0.2, emptyRows: 2, longRow: true);
        var bHost = TestData.Dense(rng, 45, 32);
        var versions = new[] { SpmmCsrVersion.V1, SpmmCsrVersion.V2, SpmmCsrVersion.V3 };
        using var aShared = a.ToDevice(shared);
        using var bShared = bHost.ToDevice(shared);
        var expect = versions.Select(v =>
        {
            using var c = SpmmCsr.Compute(shared, aShared, bShared, v);
            return c.ToArray();
        }).ToArray();
        string[] names = shared.KernelNames.Take(16).ToArray();
        var kernelsSeen = new System.Collections.Concurrent.ConcurrentDictionary<string, Kernel>();
        int calls = 0;
        Together(Figures.Long ? 50 : 4, (t, r) =>
        {
            // every thread opens its own device object (the emulator / the CUDA context is shared underneath) ...
            using (var device = Devices.Open(preference))
            using (var aOwn = a.ToDevice(device))
            using (var b = bHost.ToDevice(device))
            using (var c = SpmmCsr.Compute(device, aOwn, b, versions[(t + r) % 3]))
            {
                if (!c.ToArray().AsSpan().SequenceEqual(expect[(t + r) % 3]))
                    throw new AssertionException($"SpmmCsr {versions[(t + r) % 3]} on a device opened by thread {t} differs (round {r})");
            }
            // ... and all look up kernels in the shared device's cache at once: one object per name ...
            foreach (var n in names)
            {
                var k = ((IDevice)shared).GetKernel(n);
                if (!ReferenceEquals(kernelsSeen.GetOrAdd(n, k), k))
                    throw new AssertionException($"the kernel cache returned two objects for '{n}'");
            }
            // ... and launch on the shared device with the shared matrix (its cached row order, V2/V3)
            var v = versions[t % 3];
            using var c2 = SpmmCsr.Compute(shared, aShared, bShared, v);
            Same(c2.ToArray(), expect[t % 3], $"SpmmCsr {v} on the shared device (thread {t}, round {r})");
            Interlocked.Add(ref calls, 2 + names.Length);
        });
        Record($"device opens, SpmmCsr V1/V2/V3 launches and kernel lookups ({shared.Kind})", calls);
    }
}
