namespace SparseKernels.Training;

/// <summary>
/// Replica <see cref="Index"/> of <see cref="Count"/> in data-parallel training: it trains on the contiguous slice
/// [len x Index / Count, len x (Index + 1) / Count) of every global batch (every replica shuffles alike, from the seed).
/// </summary>
internal readonly record struct DataShard(int Index, int Count)
{
    /// <summary>This replica's slice of a global batch.</summary>
    public Span<int> Of(Span<int> batch) => batch[Start(batch.Length)..Start(batch.Length, Index + 1)];

    /// <summary>Where replica <paramref name="index"/> (default: this one) starts in a global batch of
    /// <paramref name="length"/> samples.</summary>
    public int Start(int length, int? index = null) => (int)((long)length * (index ?? Index) / Count);

    /// <summary>This replica's number of samples in a global batch of <paramref name="length"/>.</summary>
    public int Length(int length) => Start(length, Index + 1) - Start(length);
}
