namespace SparseKernels.Tensors;

/// <summary>
/// Reuses host float arrays by exact length: a training step asks for the same shapes every step (activations,
/// gradients, scratch), so after the first step every request is served from arrays returned by disposed tensors
/// (<see cref="DenseTensor.Rent"/>) and the step allocates no tensor data. Arrays are handed out uninitialised
/// (whoever rents one writes every element). At most <see cref="MaxRetainedBytes"/> are kept; beyond that a
/// returned array is left to the garbage collector. Thread-safe (one lock per rent or return).
/// </summary>
internal sealed class HostArrayPool
{
    private readonly Dictionary<int, Stack<float[]>> _free = [];
    private readonly Lock _lock = new();
    private long _retained;

    /// <summary>The most bytes the pool keeps while they are not rented (default 1 GiB).</summary>
    public long MaxRetainedBytes { get; set; } = 1L << 30;
    /// <summary>Arrays created because none of the length was free (after warm-up this stops growing).</summary>
    public long Created { get; private set; }
    /// <summary>Bytes of the arrays the pool holds now, not rented.</summary>
    public long RetainedBytes { get { lock (_lock) return _retained; } }

    /// <summary>An array of exactly <paramref name="length"/> floats, uninitialised.</summary>
    public float[] Rent(int length)
    {
        lock (_lock)
        {
            if (_free.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                _retained -= 4L * length;
                return stack.Pop();
            }
            Created++;
        }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Gives an array back; the caller must not touch it afterwards.</summary>
    public void Return(float[] array)
    {
        lock (_lock)
        {
            if (_retained + 4L * array.Length > MaxRetainedBytes) return;
            if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
            _retained += 4L * array.Length;
        }
    }

    /// <summary>Drops every free array (e.g. after evaluation at another batch size).</summary>
    public void Clear()
    {
        lock (_lock) { _free.Clear(); _retained = 0; }
    }
}
