using System.Security.Cryptography;
using SparseKernels.Autograd;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>A checkpoint could not be used: corrupt, another format version, or another model than asked for.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Training state after an epoch: weights, CSR patterns, biases, optimizer state and step count, RNG state,
/// epochs done and the metrics so far. File layout: magic "SKCKPT\r\n" (8 bytes), format version (int32),
/// payload length (int64), SHA-256 of the payload (32 bytes), payload. Written to "&lt;path&gt;.tmp" and then
/// renamed over the old file (File.Move with overwrite), so a crash leaves the previous checkpoint intact.
/// </summary>
public static class Checkpoint
{
    public const int Version = 1;
    private static readonly byte[] Magic = "SKCKPT\r\n"u8.ToArray();

    public sealed record State(int EpochsDone, ulong RngState, long OptimizerSteps, string OptimizerName, IReadOnlyList<string> MetricsJsonLines);

    public static void Save(string path, Mlp model, Optimizer optimizer, TrainRng rng, int epochsDone, IReadOnlyList<string> metricsJsonLines)
    {
        using var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            var sizes = model.Sizes;
            w.Write(sizes.Length); foreach (int s in sizes) w.Write(s);
            foreach (var layer in model.Layers)
            {
                w.Write(layer.IsSparse);
                if (layer.IsSparse)
                {
                    var csr = layer.Sparse!.ToHost();
                    WriteInts(w, csr.RowOffsets); WriteInts(w, csr.ColumnIndices); WriteFloats(w, csr.Values);
                }
                else WriteFloats(w, layer.Weight.Value.ToArray());
                WriteFloats(w, layer.Bias.Value.ToArray());
                foreach (var p in new[] { layer.Weight, layer.Bias })
                {
                    w.Write(p.State.Length);
                    foreach (var s in p.State) WriteFloats(w, s.ToArray());
                }
            }
            w.Write(optimizer.Name); w.Write(optimizer.StepCount); w.Write(rng.State); w.Write(epochsDone);
            w.Write(metricsJsonLines.Count); foreach (var line in metricsJsonLines) w.Write(line);
        }
        byte[] body = payload.ToArray();
        string tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        using (var w = new BinaryWriter(f))
        {
            w.Write(Magic); w.Write(Version); w.Write((long)body.Length); w.Write(SHA256.HashData(body)); w.Write(body);
            w.Flush();
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Loads a checkpoint onto <paramref name="backend"/>, checking it against the expected layer sizes and sparse
    /// layers and the optimizer's name. Restores the optimizer's state and step count and the RNG state.
    /// </summary>
    public static (Mlp Model, State State) Load(string path, ITensorBackend backend, IReadOnlyList<int> expectedSizes, IReadOnlyList<bool> expectedSparse, Optimizer optimizer, TrainRng rng)
    {
        if (!File.Exists(path)) throw new CheckpointException($"Checkpoint not found: {path}.");
        byte[] all = File.ReadAllBytes(path);
        int head = Magic.Length + 4 + 8 + 32;
        if (all.Length < head || !all.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException($"{path} is not a SparseKernels checkpoint (bad magic or shorter than the {head}-byte header).");
        int version = BitConverter.ToInt32(all, Magic.Length);
        if (version != Version) throw new CheckpointException($"{path} has checkpoint format version {version}; this build reads version {Version}.");
        long length = BitConverter.ToInt64(all, Magic.Length + 4);
        if (length != all.Length - head) throw new CheckpointException($"{path} is truncated or padded: the header says {length} payload bytes, the file has {all.Length - head}.");
        var body = all.AsSpan(head);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(all.AsSpan(Magic.Length + 12, 32)))
            throw new CheckpointException($"{path} is corrupt: the SHA-256 checksum of its payload does not match its header.");
        using var r = new BinaryReader(new MemoryStream(all, head, (int)length));
        var sizes = new int[r.ReadInt32()];
        for (int i = 0; i < sizes.Length; i++) sizes[i] = r.ReadInt32();
        if (!sizes.SequenceEqual(expectedSizes))
            throw new CheckpointException($"{path} holds a {string.Join('-', sizes)} model but the run asks for {string.Join('-', expectedSizes)}; use another output folder or matching --layers.");
        var layers = new List<(DenseTensor?, CsrMatrix?, DenseTensor)>();
        var states = new List<float[][]>();
        for (int i = 0; i + 1 < sizes.Length; i++)
        {
            bool sparse = r.ReadBoolean();
            if (sparse != expectedSparse[i])
                throw new CheckpointException($"{path}: layer {i} is {(sparse ? "sparse" : "dense")} in the checkpoint but {(expectedSparse[i] ? "sparse" : "dense")} in this run; use matching --sparsity.");
            DenseTensor? dense = null; CsrMatrix? csr = null;
            if (sparse)
            {
                var ro = ReadInts(r); var ci = ReadInts(r); var v = ReadFloats(r);
                try { csr = new CsrMatrix(sizes[i + 1], sizes[i], ro, ci, v); }
                catch (CsrFormatException e) { throw new CheckpointException($"{path}: layer {i}'s CSR pattern is invalid: {e.Message}", e); }
            }
            else dense = DenseTensor.FromArray(sizes[i + 1], sizes[i], ReadFloats(r));
            var bias = DenseTensor.FromArray(sizes[i + 1], 1, ReadFloats(r));
            layers.Add((dense, csr, bias));
            for (int p = 0; p < 2; p++)
            {
                var slots = new float[r.ReadInt32()][];
                for (int s = 0; s < slots.Length; s++) slots[s] = ReadFloats(r);
                states.Add(slots);
            }
        }
        string optName = r.ReadString();
        if (optName != optimizer.Name) throw new CheckpointException($"{path} was trained with optimizer '{optName}' but this run uses '{optimizer.Name}'.");
        long optSteps = r.ReadInt64(); ulong rngState = r.ReadUInt64(); int epochs = r.ReadInt32();
        var lines = new string[r.ReadInt32()];
        for (int i = 0; i < lines.Length; i++) lines[i] = r.ReadString();
        var model = Mlp.FromHost(backend, layers);
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
        optimizer.StepCount = optSteps;
        rng.State = rngState;
        return (model, new State(epochs, rngState, optSteps, optName, lines));
    }

    private static void WriteInts(BinaryWriter w, int[] a) { w.Write(a.Length); foreach (int x in a) w.Write(x); }
    private static void WriteFloats(BinaryWriter w, float[] a) { w.Write(a.Length); w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan())); }
    private static int[] ReadInts(BinaryReader r) { var a = new int[r.ReadInt32()]; for (int i = 0; i < a.Length; i++) a[i] = r.ReadInt32(); return a; }
    private static float[] ReadFloats(BinaryReader r)
    {
        var a = new float[r.ReadInt32()];
        var bytes = r.ReadBytes(a.Length * 4);
        if (bytes.Length != a.Length * 4) throw new CheckpointException("The checkpoint ends inside an array.");
        Buffer.BlockCopy(bytes, 0, a, 0, bytes.Length);
        return a;
    }
}
