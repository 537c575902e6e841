using System.Security.Cryptography;
using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>A checkpoint could not be used: corrupt, another format version, or another model than asked for.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Training state after an epoch: weights, CSR patterns, biases, optimizer state and step count, RNG state,
/// epochs done, the metrics so far, and the sparsity method's name and state (<see cref="IStatefulHook.WriteState"/>:
/// GMP's and IMP's masks, IMP's levels and rewind weights, a KD ticket's teacher; "" and nothing for a plain run).
/// File layout: magic "SKCKPT\r\n" (8 bytes), format version (int32; 2 since the method state, 3 since the layer stack:
/// the payload opens with the model's spec text instead of an MLP's layer sizes; version 2 files are read as MLPs,
/// except a KD ticket's, whose teacher was stored by sizes and is refused; 4 since the mid-epoch state: a checkpoint
/// written inside an epoch also holds the epoch's <see cref="EpochProgress"/> - shuffled order, next step, running sums -
/// so an interrupted epoch continues bit for bit; versions 2 and 3 are still read), payload length
/// (int64), SHA-256 of the payload (32 bytes), payload. Written to "&lt;path&gt;.tmp" and then renamed over the old
/// file (File.Move with overwrite), so a crash leaves the previous checkpoint intact.
/// </summary>
public static class Checkpoint
{
    /// <summary>The format version written; <see cref="Load(string, ITensorBackend, ModelSpec, IReadOnlyList{bool}?, Optimizer, TrainRng, IStatefulHook?)"/> reads it and versions 2 and 3, and rejects others.</summary>
    public const int Version = 4;
    private static readonly byte[] Magic = "SKCKPT\r\n"u8.ToArray();

    /// <summary>What a checkpoint holds besides the model and the optimizer state.</summary>
    /// <param name="EpochsDone">Epochs finished when it was written.</param>
    /// <param name="RngState">The run's <see cref="TrainRng.State"/>.</param>
    /// <param name="OptimizerSteps">The optimizer's <see cref="Optimizer.StepCount"/>.</param>
    /// <param name="OptimizerName">The optimizer's <see cref="Optimizer.Name"/>.</param>
    /// <param name="MetricsJsonLines">The metrics of the finished epochs, one JSON line each.</param>
    public sealed record State(int EpochsDone, ulong RngState, long OptimizerSteps, string OptimizerName,
                               IReadOnlyList<string> MetricsJsonLines)
    {
        /// <summary>Where the unfinished epoch stood (a mid-epoch checkpoint), or null after a whole epoch.</summary>
        public EpochProgress? Partial { get; init; }
    }

    /// <summary>Writes the model's weights and biases, the optimizer state, the RNG state, the metrics and <paramref name="method"/>'s state (when given) to <paramref name="path"/>, atomically (through <c>path.tmp</c> and a rename). Throws <see cref="IOException"/> when the file cannot be written.</summary>
    public static void Save(string path, Sequential model, Optimizer optimizer, TrainRng rng, int epochsDone,
        IReadOnlyList<string> metricsJsonLines, IStatefulHook? method = null, EpochProgress? partial = null)
    {
        // The body streams to path.tmp behind a placeholder header (no copy of the model in memory: a large sparse
        // model's checkpoint is hundreds of MB); its length and SHA-256 are filled in afterwards.
        string tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20))
        {
            int head = Magic.Length + 4 + 8 + 32;
            f.Write(new byte[head]);
            using (var w = new BinaryWriter(f, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                w.Write(model.Spec.Text);
                foreach (var layer in model.Layers)
                {
                    WriteLayer(w, layer);
                    foreach (var p in new[] { layer.Weight, layer.Bias })
                    {
                        w.Write(p.State.Length);
                        foreach (var s in p.State) WriteFloats(w, s.IsOnDevice ? s.ToArray() : s.HostData);
                    }
                }
                w.Write(optimizer.Name); w.Write(optimizer.StepCount); w.Write(rng.State); w.Write(epochsDone);
                w.Write(metricsJsonLines.Count); foreach (var line in metricsJsonLines) w.Write(line);
                w.Write(method?.Name ?? "");
                method?.WriteState(w);
                w.Write(partial is not null);
                if (partial is { } pe)
                {
                    w.Write(pe.Epoch); w.Write(pe.NextStep); WriteInts(w, pe.Order); w.Write(pe.LossSum); w.Write(pe.Correct);
                    w.Write(pe.Seen); w.Write(pe.PeakDeviceBytes); w.Write(pe.Seconds); w.Write(pe.LearningRate); w.Write(pe.SkippedBatches);
                }
            }
            long length = f.Position - head;
            f.Flush();
            f.Position = head;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            for (int got; (got = f.Read(buffer)) > 0;) hash.AppendData(buffer, 0, got);
            f.Position = 0;
            using (var w = new BinaryWriter(f, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Magic); w.Write(Version); w.Write(length); w.Write(hash.GetHashAndReset());
            }
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Loads a checkpoint onto <paramref name="backend"/>, checking it against the expected layer sizes, the expected
    /// sparse layers (null: the checkpoint says which layers are CSR - GMP, IMP and KD tickets turn layers CSR as they
    /// prune), the optimizer's name and the run's sparsity method (same name; its state is restored into
    /// <paramref name="method"/>, null for a run without one). Restores the optimizer's state and step count and the
    /// RNG state.
    /// </summary>
    public static (Sequential Model, State State) Load(string path, ITensorBackend backend, IReadOnlyList<int> expectedSizes,
        IReadOnlyList<bool>? expectedSparse, Optimizer optimizer, TrainRng rng, IStatefulHook? method = null)
        => Load(path, backend, ModelSpec.Mlp(expectedSizes), expectedSparse, optimizer, rng, method);

    /// <summary>
    /// Loads a checkpoint onto <paramref name="backend"/>, checking it against the expected architecture
    /// (<paramref name="expected"/>'s text), the expected sparse weight layers (null: the checkpoint says which), the
    /// optimizer's name and the run's sparsity method (as the overload with layer sizes). Version-2 checkpoints
    /// (before the layer stack) are read as the MLP of their layer sizes.
    /// </summary>
    public static (Sequential Model, State State) Load(string path, ITensorBackend backend, ModelSpec expected,
        IReadOnlyList<bool>? expectedSparse, Optimizer optimizer, TrainRng rng, IStatefulHook? method = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (!File.Exists(path)) throw new CheckpointException($"Checkpoint not found: {path}.");
        byte[] all = File.ReadAllBytes(path);
        int head = Magic.Length + 4 + 8 + 32;
        if (all.Length < head || !all.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException($"{path} is not a SparseKernels checkpoint (bad magic or shorter than the {head}-byte header).");
        int version = BitConverter.ToInt32(all, Magic.Length);
        if (version is not (2 or 3 or Version))
        {
            throw new CheckpointException($"{path} has checkpoint format version {version} (at byte {Magic.Length}); this build reads "
                + $"version {Version} (and 3, and 2: the MLP checkpoints before the layer stack).");
        }
        long length = BitConverter.ToInt64(all, Magic.Length + 4);
        if (length != all.Length - head) throw new CheckpointException($"{path} is truncated or padded: the header says {length} payload bytes, the file has {all.Length - head}.");
        var body = all.AsSpan(head);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(all.AsSpan(Magic.Length + 12, 32)))
            throw new CheckpointException($"{path} is corrupt: the SHA-256 checksum of its payload does not match its header.");
        using var r = new BinaryReader(new MemoryStream(all, head, (int)length));
        try
        {
            ModelSpec spec;
            try { spec = version == 2 ? ModelSpec.Mlp(ReadInts(r)) : ModelSpec.Parse(r.ReadString()); }
            catch (ArgumentException e) { throw new CheckpointException($"{path} holds a model this build cannot read: {e.Message}", e); }
            if (spec.Text != expected.Text)
                throw new CheckpointException($"{path} holds a {Describe(spec)} model but the run asks for {Describe(expected)}; use another output folder or the matching model.");
            var layers = new List<(DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias)>();
            var states = new List<float[][]>();
            for (int i = 0; i < spec.WeightMatrices.Count; i++)
            {
                try { layers.Add(ReadLayer(r, spec.WeightMatrices[i].Rows, spec.WeightMatrices[i].Cols)); }
                catch (InvalidDataException e) { throw new CheckpointException($"{path}: layer {i}: {e.Message}", e); }
                for (int p = 0; p < 2; p++)
                {
                    var slots = new float[ReadLength(r, 4)][];
                    for (int s = 0; s < slots.Length; s++) slots[s] = ReadFloats(r);
                    states.Add(slots);
                }
            }
            string optName = r.ReadString();
            if (optName != optimizer.Name) throw new CheckpointException($"{path} was trained with optimizer '{optName}' but this run uses '{optimizer.Name}'.");
            long optSteps = r.ReadInt64(); ulong rngState = r.ReadUInt64(); int epochs = r.ReadInt32();
            var lines = new string[ReadLength(r, 1)];
            for (int i = 0; i < lines.Length; i++) lines[i] = r.ReadString();
            string methodName = r.ReadString(), runMethod = method?.Name ?? "";
            if (methodName != runMethod)
                throw new CheckpointException($"{path} was trained with {MethodText(methodName)} but this run uses {MethodText(runMethod)}; resume with the same sparsity method.");
            if (version == 2 && methodName == "kd-ticket")
                throw new CheckpointException($"{path} is a version-2 KD-ticket checkpoint; its teacher is stored in the format before the layer stack, which this build does not read. Start the run again.");
            for (int i = 0; i < layers.Count && expectedSparse is not null; i++)
            {
                bool sparse = layers[i].Csr is not null;
                if (sparse != expectedSparse[i])
                    throw new CheckpointException($"{path}: layer {i} is {(sparse ? "sparse" : "dense")} in the checkpoint but {(expectedSparse[i] ? "sparse" : "dense")} in this run; use matching Sparsity.");
            }
            var model = Sequential.FromHost(backend, spec, layers);
            EpochProgress? partial = null;
            try
            {
                int k = 0;
                foreach (var p in model.Parameters)
                {
                    var slots = states[k++];
                    p.State = slots.Select(a =>
                    {
                        if (a.Length != p.Value.Length) throw new CheckpointException($"{path}: optimizer state of {p.Name} has {a.Length} values for {p.Value.Length} weights.");
                        var host = DenseTensor.FromArray(p.Value.Rows, p.Value.Cols, a);
                        return backend.Device is null ? host : backend.Upload(host);
                    }).ToArray();
                }
                try { method?.ReadState(r, model); }
                catch (InvalidDataException e) { throw new CheckpointException($"{path}: the {methodName} state does not fit this run: {e.Message}", e); }
                if (version >= 4 && r.ReadBoolean())
                {
                    int pEpoch = r.ReadInt32(), pNext = r.ReadInt32();
                    var order = ReadInts(r);
                    double lossSum = r.ReadDouble();
                    long correct = r.ReadInt64(), seen = r.ReadInt64(), peak = r.ReadInt64();
                    double seconds = r.ReadDouble();
                    float lr = r.ReadSingle();
                    partial = new EpochProgress(pEpoch, pNext, order, lossSum, correct, seen, peak, seconds, lr, r.ReadInt32());
                    if (pEpoch != epochs || pNext < 1 || order.Any(x => (uint)x >= (uint)order.Length))
                    {
                        throw new CheckpointException($"{path}: the mid-epoch state (epoch {pEpoch + 1}, step {pNext}) does not follow "
                            + $"its {epochs} finished epochs or holds an invalid order.");
                    }
                }
                if (r.BaseStream.Position != r.BaseStream.Length)
                    throw new CheckpointException($"{path} has {r.BaseStream.Length - r.BaseStream.Position} unread bytes after the {MethodText(methodName)} state; it was written by another build.");
            }
            catch { model.Dispose(); throw; }
            optimizer.StepCount = optSteps;
            rng.State = rngState;
            return (model, new State(epochs, rngState, optSteps, optName, lines) { Partial = partial });
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException or OverflowException
                                  or ArgumentException)   // FormatException: a corrupt string length (found by FuzzTests)
        {
            throw new CheckpointException($"{path} ends early or holds an impossible length ({e.Message}); it was written by another build.", e);
        }
    }

    private static string Describe(ModelSpec s) => s.MlpSizes is { } sizes ? string.Join('-', sizes) : s.Text;

    private static string MethodText(string name) => name == "" ? "no sparsity method (plain, dense or static)" : $"the sparsity method '{name}'";

    /// <summary>A layer's weight and bias: the sparse flag, then the CSR arrays (row offsets, column indices, values) or the dense out x in values, then the bias.</summary>
    internal static void WriteLayer(BinaryWriter w, WeightLayer layer)
    {
        w.Write(layer.IsSparse);
        if (layer.IsSparse)
        {
            var csr = layer.Sparse!.ToHost();
            WriteInts(w, csr.RowOffsets); WriteInts(w, csr.ColumnIndices); WriteFloats(w, csr.Values);
        }
        else WriteFloats(w, layer.Weight.Value.IsOnDevice ? layer.Weight.Value.ToArray() : layer.Weight.Value.HostData);
        WriteFloats(w, layer.Bias.Value.IsOnDevice ? layer.Bias.Value.ToArray() : layer.Bias.Value.HostData);
    }

    /// <summary>What <see cref="WriteLayer"/> wrote, for an out x in layer (host tensors); InvalidDataException when it does not fit.</summary>
    internal static (DenseTensor? Dense, CsrMatrix? Csr, DenseTensor Bias) ReadLayer(BinaryReader r, int outF, int inF)
    {
        DenseTensor? dense = null; CsrMatrix? csr = null;
        if (r.ReadBoolean())
        {
            var ro = ReadInts(r); var ci = ReadInts(r); var v = ReadFloats(r);
            try { csr = new CsrMatrix(outF, inF, ro, ci, v); }
            catch (CsrFormatException e) { throw new InvalidDataException($"its CSR pattern is invalid: {e.Message}", e); }
        }
        else
        {
            var d = ReadFloats(r);
            if (d.Length != (long)outF * inF) throw new InvalidDataException($"{d.Length} dense weights for {outF}x{inF}.");
            dense = DenseTensor.FromArray(outF, inF, d);
        }
        var b = ReadFloats(r);
        if (b.Length != outF) throw new InvalidDataException($"{b.Length} bias values for {outF} outputs.");
        return (dense, csr, DenseTensor.FromArray(outF, 1, b));
    }

    internal static void WriteInts(BinaryWriter w, int[] a)
    {
        w.Write(a.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
    }
    internal static void WriteFloats(BinaryWriter w, float[] a) { w.Write(a.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan())); }
    internal static int[] ReadInts(BinaryReader r) { var a = new int[ReadLength(r, 4)]; for (int i = 0; i < a.Length; i++) a[i] = r.ReadInt32(); return a; }
    internal static float[] ReadFloats(BinaryReader r)
    {
        var a = new float[ReadLength(r, 4)];
        var bytes = r.ReadBytes(a.Length * 4);
        if (bytes.Length != a.Length * 4) throw new EndOfStreamException("The checkpoint ends inside an array.");
        Buffer.BlockCopy(bytes, 0, a, 0, bytes.Length);
        return a;
    }

    /// <summary>An array length that the rest of the payload can hold (elements of <paramref name="size"/> bytes).</summary>
    private static int ReadLength(BinaryReader r, int size)
    {
        int n = r.ReadInt32();
        long left = r.BaseStream.Length - r.BaseStream.Position;
        if (n < 0 || (long)n * size > left)
        {
            throw new InvalidDataException(
                $"at byte {r.BaseStream.Position - 4} of the payload: an array of {n} elements where {left} bytes are left");
        }
        return n;
    }
}
