using System.Runtime.InteropServices;
using NUnit.Framework;
using SparseKernels.Autograd;
using SparseKernels.Runs;
using SparseKernels.Sparsity;
using SparseKernels.Training;

namespace SparseKernels.Tests.Sparsity;

/// <summary>
/// --resume of the methods that prune as they train (GMP, IMP, KD ticket) is exact: a run stopped after epoch k and
/// resumed from its checkpoint ends bit for bit where the straight run ends (weights, CSR patterns, masks, optimizer
/// state, metrics, levels); a checkpoint of another method, or a method state that does not fit, is a clear error.
/// Same data and model as SparsityRunTests (784-64-10, 512 samples, 8 steps per epoch; CPU).
/// </summary>
public class SparsityResumeTests
{
    /// <summary>
    /// GMP: 3 epochs (24 steps), pruning every 3 steps up to step 18, so prunes fall before and after the resume
    /// points (steps 8 and 16), and the first step after them trains the masked layers without pruning. IMP / KD:
    /// 2 levels of 2 epochs each after level 0 (6 epochs), rewind to step 2. Layers become CSR below density 0.2, so
    /// at the resume points some are still dense with a mask and later turn CSR.
    /// </summary>
    private static RunOptions Options(string method, string dir, bool resume = false)
    {
        var o = SparsityRunTests.Options(method, dir, epochs: method == "gmp" ? 3 : 2, resume: resume);
        return o with { Method = o.Method! with { GmpEvery = 3, ImpLevels = 2, CsrBelowDensity = 0.2 } };
    }

    private static string TempDir() => Path.Combine(Path.GetTempPath(), "sk-resume-" + Guid.NewGuid().ToString("N"));

    private static int[] Bits(float[] a) => MemoryMarshal.Cast<float, int>(a.AsSpan()).ToArray();

    private static bool[]? MaskOf(SparsityMethod? m, int layer) => m switch { Gmp g => g.Mask(layer), LotteryTicket lt => lt.Mask(layer), _ => null };

    /// <summary>Everything that must match bit for bit after a resume, each with a name for the failure message.</summary>
    private static List<(string What, object Value)> Snapshot(TrainingRun run)
    {
        var s = new List<(string, object)>();
        void Layers(string prefix, Sequential model)
        {
            foreach (var l in model.Layers)
            {
                s.Add(($"{prefix}layer{l.Index} is CSR", l.IsSparse));
                if (l.Sparse is { } w)
                {
                    var h = w.ToHost();
                    s.Add(($"{prefix}layer{l.Index} row offsets", h.RowOffsets));
                    s.Add(($"{prefix}layer{l.Index} column indices", h.ColumnIndices));
                }
                s.Add(($"{prefix}layer{l.Index} weights", Bits(l.Weight.Value.ToArray())));
                s.Add(($"{prefix}layer{l.Index} bias", Bits(l.Bias.Value.ToArray())));
                foreach (var (st, k) in l.Weight.State.Select((st, k) => (st, k))) s.Add(($"{prefix}layer{l.Index} optimizer state {k}", Bits(st.ToArray())));
            }
        }
        Layers("", run.Model);
        foreach (var l in run.Model.Layers) s.Add(($"layer{l.Index} mask", (object?)MaskOf(run.Method, l.Index) ?? "none"));
        s.Add(("updates", run.Method!.Updates));
        s.Add(("optimizer steps", run.Optimizer.StepCount));
        s.Add(("rng", run.Rng.State));
        if (run.Method is Gmp g) s.Add(("gmp sparsity", g.CurrentSparsity));
        if (run.Method is LotteryTicket lt)
        {
            s.Add(("level", lt.Level));
            s.Add(("levels", lt.Levels.ToArray()));
            foreach (var l in run.Model.Layers) s.Add(($"layer{l.Index} rewind weights", lt.RewindWeights(l.Index) is { } rw ? Bits(rw) : "none"));
        }
        if (run.Method is KdTicket { Teacher: { } teacher }) Layers("teacher ", teacher);
        return s;
    }

    [TestCase("gmp", 1)]              // step 8: layer 0 dense with a mask, layer 1 still full
    [TestCase("gmp", 2)]              // step 16: layer 0 CSR, layer 1 dense with a mask
    [TestCase("imp", 2)]              // at the end of level 0 (rewind weights recorded, nothing pruned yet)
    [TestCase("imp", 3)]              // inside level 1
    [TestCase("imp", 4)]              // at the end of level 1
    [TestCase("kd-ticket", 2)]        // at the end of level 0 (no teacher yet)
    [TestCase("kd-ticket", 3)]        // inside level 1 (teacher taken, distillation loss on)
    public void ResumeIsExact(string method, int stopAfter)
    {
        var (train, test) = SparsityRunTests.Data();
        string a = TempDir(), b = TempDir();
        try
        {
            List<(string What, object Value)> straight, resumed;
            string[] straightLines, resumedLines;
            int totalEpochs;
            using (var run = new TrainingRun(Options(method, a), CpuTensorBackend.Instance, train, test))
            {
                run.Run();
                totalEpochs = run.TotalEpochs;
                straight = Snapshot(run);
                straightLines = run.MetricsJsonLines.ToArray();
            }
            List<(string What, object Value)> atStop, loaded;
            int updatesAtStop;
            using (var run = new TrainingRun(Options(method, b), CpuTensorBackend.Instance, train, test))
            {
                run.Run(stopAfterEpochs: stopAfter);
                atStop = Snapshot(run);
                updatesAtStop = run.Method!.Updates;
                bool masked = run.Model.Layers.Any(l => MaskOf(run.Method, l.Index) is not null);
                TestContext.Out.WriteLine($"at the stop: updates {updatesAtStop}, nnz {string.Join("/", run.Metrics[^1].NnzPerLayer)}, CSR {string.Join("/", run.Model.Layers.Select(l => l.IsSparse))}, masked-dense layer {masked}");
                if (method == "gmp") Assert.That(updatesAtStop > 0 && masked, "GMP has pruned before the stop and a layer is still dense with a mask");
                if (stopAfter == 3) Assert.That(masked, "inside level 1 a layer is dense with a mask");
            }
            using (var run = new TrainingRun(Options(method, b, resume: true), CpuTensorBackend.Instance, train, test))
            {
                Assert.That(run.EpochsDone, Is.EqualTo(stopAfter));
                loaded = Snapshot(run);
                run.Run();
                resumed = Snapshot(run);
                resumedLines = run.MetricsJsonLines.ToArray();
                Assert.That(run.Model.Layers.Any(l => l.IsSparse), "some layer has become CSR by the end");
                Assert.That(run.Method!.Updates, Is.GreaterThan(updatesAtStop), "pruning after the resume point");
            }
            // The checkpoint gives back the state of the run that wrote it (even what a later step would rebuild) ...
            Assert.That(loaded.Select(x => x.What), Is.EqualTo(atStop.Select(x => x.What)));
            for (int i = 0; i < atStop.Count; i++)
                Assert.That(loaded[i].Value, Is.EqualTo(atStop[i].Value), $"after loading: {atStop[i].What}");
            // ... and the resumed run ends where the straight one does.
            Assert.That(resumedLines, Has.Length.EqualTo(totalEpochs));
            for (int i = 0; i < totalEpochs; i++)
                Assert.That(SparsityRunTests.Deterministic(resumedLines[i]), Is.EqualTo(SparsityRunTests.Deterministic(straightLines[i])), $"epoch {i + 1} metrics");
            Assert.That(resumed.Select(x => x.What), Is.EqualTo(straight.Select(x => x.What)));
            for (int i = 0; i < straight.Count; i++)
                Assert.That(resumed[i].Value, Is.EqualTo(straight[i].Value), straight[i].What);
        }
        finally
        {
            foreach (var d in new[] { a, b }) if (Directory.Exists(d)) Directory.Delete(d, true);
        }
    }

    /// <summary>Writes a "gmp" state whose mask of layer 0 is one flag short.</summary>
    private sealed class ShortMaskGmp(SparsityOptions o) : SparsityMethod(o)
    {
        public override string Name => "gmp";
        public override void WriteState(BinaryWriter w)
        {
            base.WriteState(w);
            w.Write(0.5);
            LayerSurgery.WriteMasks(w, new Dictionary<int, bool[]> { [0] = new bool[784 * 64 - 1] });
        }
    }

    [Test]
    public void AnotherMethodsOrABadMethodStateIsAClearError()
    {
        var (train, test) = SparsityRunTests.Data();
        string dir = TempDir();
        try
        {
            var gmp = Options("gmp", dir) with { Epochs = 1 };
            using (var run = new TrainingRun(gmp, CpuTensorBackend.Instance, train, test)) run.Run();
            string ckpt = Path.Combine(dir, TrainingRun.CheckpointFile);
            byte[] good = File.ReadAllBytes(ckpt);

            var e = Assert.Throws<CheckpointException>(() => new TrainingRun(Options("imp", dir, resume: true), CpuTensorBackend.Instance, train, test))!;
            Assert.That(e.Message, Does.Contain(ckpt).And.Contain("'gmp'").And.Contain("'imp'"));
            e = Assert.Throws<CheckpointException>(() => new TrainingRun(gmp with { Method = null, Sparsity = [0], Resume = true }, CpuTensorBackend.Instance, train, test))!;
            Assert.That(e.Message, Does.Contain(ckpt).And.Contain("'gmp'").And.Contain("no sparsity method"));
            // Resumed with a lower --sparsity than the checkpoint's GMP has reached.
            e = Assert.Throws<CheckpointException>(() => new TrainingRun(gmp with { Resume = true, Method = gmp.Method! with { Sparsity = 0.01 } }, CpuTensorBackend.Instance, train, test))!;
            Assert.That(e.Message, Does.Contain(ckpt).And.Contain("gmp state").And.Contain("Sparsity"));

            // A mask one flag short of its layer.
            using (var model = Mlp.Create(CpuTensorBackend.Instance, [784, 64, 10], [0, 0], Initializers.ByName("kaiming-normal"), new TrainRng(1)))
                Checkpoint.Save(ckpt, model, new SgdOptimizer(), new TrainRng(1), 1, [], new ShortMaskGmp(gmp.Method!));
            e = Assert.Throws<CheckpointException>(() => new TrainingRun(gmp with { Resume = true }, CpuTensorBackend.Instance, train, test))!;
            Assert.That(e.Message, Does.Contain(ckpt).And.Contain("gmp state").And.Contain("layer 0's mask has 50175 flags for its 64x784 weights"));

            // A version-1 file (before method state).
            var v1 = (byte[])good.Clone();
            BitConverter.GetBytes(1).CopyTo(v1, 8);
            File.WriteAllBytes(ckpt, v1);
            e = Assert.Throws<CheckpointException>(() => new TrainingRun(gmp with { Resume = true }, CpuTensorBackend.Instance, train, test))!;
            Assert.That(e.Message, Does.Contain(ckpt).And.Contain("version 1").And.Contain($"version {Checkpoint.Version}"));
            Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(v1), "a refused checkpoint is left as it was");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }
}
