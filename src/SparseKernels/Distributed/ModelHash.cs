using System.Runtime.InteropServices;
using SparseKernels.Training;

namespace SparseKernels.Distributed;

/// <summary>
/// 64-bit FNV-1a fingerprints of a model's topology (each layer's CSR row offsets and column indices, or a masked
/// dense layer's mask) and of its values (every parameter's fp32 bits), compared across replicas: equal on every
/// rank, or the replicas have diverged. Deterministic across processes (System.HashCode is not).
/// </summary>
internal static class ModelHash
{
    private const ulong Offset = 14695981039346656037UL, Prime = 1099511628211UL;

    /// <summary>The topology fingerprint: per layer its index, CSR or dense, and the pattern (or mask).</summary>
    public static ulong Topology(Sequential model, Func<int, bool[]?>? mask = null)
    {
        ulong h = Offset;
        foreach (var l in model.Layers)
        {
            h = Add(h, l.Index);
            if (l.Sparse is { } sw)
            {
                var csr = sw.ToHost();
                h = Add(h, 1);
                h = Add(h, MemoryMarshal.AsBytes(csr.RowOffsets.AsSpan()));
                h = Add(h, MemoryMarshal.AsBytes(csr.ColumnIndices.AsSpan()));
            }
            else if (mask?.Invoke(l.Index) is { } m)
            {
                h = Add(h, 2);
                h = Add(h, MemoryMarshal.AsBytes(m.AsSpan()));
            }
        }
        return h;
    }

    /// <summary>The values fingerprint: every parameter's fp32 bits, in order.</summary>
    public static ulong Values(Sequential model)
    {
        ulong h = Offset;
        foreach (var p in model.Parameters)
        {
            var v = p.Value.IsOnDevice ? p.Value.ToArray() : p.Value.HostData;
            h = Add(h, MemoryMarshal.AsBytes(v.AsSpan()));
        }
        return h;
    }

    private static ulong Add(ulong h, int value) => Add(h, MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in value)));

    private static ulong Add(ulong h, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes) h = (h ^ b) * Prime;
        return h;
    }
}
