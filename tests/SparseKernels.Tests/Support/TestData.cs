using SparseKernels.Tensors;

namespace SparseKernels.Tests.Support;

/// <summary>Fresh random test data: values are never zero; patterns can have empty rows and long rows.</summary>
public static class TestData
{
    /// <summary>
    /// Fashion-MNIST for the training tests: $SPARSEKERNELS_DATA/fashion-mnist when it holds the files (the GPU
    /// machine's packed copy, bench/gpu/verify.sh), else Debian's <see cref="SparseKernels.Training.FashionMnist.DefaultFolder"/>.
    /// </summary>
    public static string FashionMnistFolder
    {
        get
        {
            string? data = Environment.GetEnvironmentVariable("SPARSEKERNELS_DATA");
            if (!string.IsNullOrEmpty(data) && File.Exists(Path.Combine(data, "fashion-mnist", "train-images-idx3-ubyte.gz")))
                return Path.Combine(data, "fashion-mnist");
            return SparseKernels.Training.FashionMnist.DefaultFolder;
        }
    }

    /// <summary>A random value in [-1, -0.05] U [0.05, 1]: never zero, never tiny.</summary>
    public static float NonZero(Random rng)
    {
        float m = 0.05f + 0.95f * rng.NextSingle();
        return rng.Next(2) == 0 ? -m : m;
    }

    public static float[] NonZeroArray(Random rng, long length)
    {
        var a = new float[length];
        for (long i = 0; i < length; i++) a[i] = NonZero(rng);
        return a;
    }

    public static DenseTensor Dense(Random rng, int rows, int cols) => DenseTensor.FromArray(rows, cols, NonZeroArray(rng, (long)rows * cols));

    /// <summary>
    /// A random CSR matrix of about <paramref name="density"/>. <paramref name="emptyRows"/> rows are
    /// forced empty and, if <paramref name="longRow"/>, row 0 (or the first non-empty) is full.
    /// </summary>
    public static CsrMatrix Csr(Random rng, int rows, int cols, double density, int emptyRows = 0, bool longRow = false)
    {
        var empty = new HashSet<int>();
        while (empty.Count < Math.Min(emptyRows, rows)) empty.Add(rng.Next(rows));
        int full = longRow ? Enumerable.Range(0, rows).FirstOrDefault(r => !empty.Contains(r), -1) : -1;
        var offsets = new int[rows + 1];
        var cols_ = new List<int>();
        for (int r = 0; r < rows; r++)
        {
            if (!empty.Contains(r))
                for (int c = 0; c < cols; c++)
                    if (r == full || rng.NextDouble() < density) cols_.Add(c);
            offsets[r + 1] = cols_.Count;
        }
        return new CsrMatrix(rows, cols, offsets, cols_.ToArray(), NonZeroArray(rng, cols_.Count));
    }

    /// <summary>A CSR matrix with exactly <paramref name="nnz"/> nonzeros at random positions.</summary>
    public static CsrMatrix CsrExact(Random rng, int rows, int cols, int nnz)
    {
        var picked = new HashSet<long>();
        while (picked.Count < nnz) picked.Add((long)rng.Next(rows) * cols + rng.Next(cols));
        var sorted = picked.OrderBy(x => x).ToArray();
        var offsets = new int[rows + 1];
        var ci = new int[nnz];
        for (int i = 0; i < nnz; i++) { int r = (int)(sorted[i] / cols); ci[i] = (int)(sorted[i] % cols); offsets[r + 1]++; }
        for (int r = 0; r < rows; r++) offsets[r + 1] += offsets[r];
        return new CsrMatrix(rows, cols, offsets, ci, NonZeroArray(rng, nnz));
    }
}
