using System.IO.Compression;
using SparseKernels.Autograd;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Training;

/// <summary>Images (samples x features, row-major, normalised) and their labels, on the host.</summary>
public sealed class ImageDataset(float[] images, int[] labels, int features, int classes, string source)
{
    /// <summary>The pixels, Count x Features row-major, standardised.</summary>
    public float[] Images { get; } = images;
    /// <summary>The class of each sample, in [0, Classes).</summary>
    public int[] Labels { get; } = labels;
    /// <summary>Pixels per image (784 for Fashion-MNIST).</summary>
    public int Features { get; } = features;
    /// <summary>The number of classes (10 for Fashion-MNIST).</summary>
    public int Classes { get; } = classes;
    /// <summary>The number of samples.</summary>
    public int Count => Labels.Length;
    /// <summary>Where the data came from (a folder and split), for logs.</summary>
    public string Source { get; } = source;

    /// <summary>The first <paramref name="count"/> samples (all when count is larger).</summary>
    public ImageDataset Take(int count)
    {
        count = Math.Min(count, Count);
        return new ImageDataset(Images.AsSpan(0, count * Features).ToArray(), Labels.AsSpan(0, count).ToArray(), Features, Classes, Source);
    }
}

/// <summary>
/// Reads Fashion-MNIST from the gzip IDX files of Debian's dataset-fashion-mnist
/// (/usr/share/datasets/fashion-mnist) or any folder holding the same four files. Pixels are scaled to
/// [0, 1] and standardised with the training set's mean 0.2860 and standard deviation 0.3530.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist installs the files.</summary>
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";
    /// <summary>The training set's pixel mean and standard deviation (after scaling to [0, 1]) used to standardise the pixels.</summary>
    public const float Mean = 0.2860f, Std = 0.3530f;
    private const string HowToGet = "install it with `apt-get install dataset-fashion-mnist` (files in " + DefaultFolder + ") or pass a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz";

    /// <summary>Loads the training (60,000) and test (10,000) splits from <paramref name="folder"/> (default <see cref="DefaultFolder"/>). Throws <see cref="FileNotFoundException"/>, <see cref="IdxFormatException"/> (a malformed file) or <see cref="InvalidDataException"/> (the files disagree) saying how to get the data.</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(string? folder = null)
    {
        folder ??= DefaultFolder;
        return (LoadSplit(folder, "train"), LoadSplit(folder, "t10k"));
    }

    /// <summary>Loads one split, <paramref name="prefix"/> <c>train</c> or <c>t10k</c>, from the gzip IDX files in <paramref name="folder"/>. Throws <see cref="FileNotFoundException"/>, <see cref="IdxFormatException"/> (a malformed file) or <see cref="InvalidDataException"/> (the files disagree) saying how to get the data.</summary>
    public static ImageDataset LoadSplit(string folder, string prefix)
    {
        string imagesPath = Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz");
        string labelsPath = Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz");
        var (n, rows, cols, pixels) = ReadIdx(imagesPath, 0x803, 3);
        var (nl, _, _, labelBytes) = ReadIdx(labelsPath, 0x801, 1);
        if (nl != n) throw new InvalidDataException($"{labelsPath} holds {nl} labels but {imagesPath} holds {n} images; {HowToGet}.");
        int features = rows * cols;
        var images = new float[(long)n * features];
        for (long i = 0; i < images.LongLength; i++) images[i] = (pixels[i] / 255f - Mean) / Std;
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = labelBytes[i];
            if (labels[i] > 9) throw new InvalidDataException($"{labelsPath}: label {labels[i]} of sample {i} is outside [0, 9]; the file is corrupt; {HowToGet}.");
        }
        return new ImageDataset(images, labels, features, 10, imagesPath);
    }

    /// <summary>
    /// Reads a gzip IDX file. The header's claim (count x rows x cols) is checked against the gzip trailer's ISIZE (the
    /// decompressed length mod 2^32, RFC 1952) and against the array size limit before the data array is allocated, and
    /// the data are read exactly (a gzip bomb or a wrong header never allocates more than the file holds).
    /// </summary>
    internal static (int N, int Rows, int Cols, byte[] Data) ReadIdx(string path, int magic, int dims)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Fashion-MNIST file not found: {path}; {HowToGet}.", path);
        try
        {
            using var file = File.OpenRead(path);
            uint? isize = null;
            if (file.Length >= 18)
            {
                Span<byte> t = stackalloc byte[4];
                file.Seek(-4, SeekOrigin.End);
                file.ReadExactly(t);
                isize = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(t);
                file.Seek(0, SeekOrigin.Begin);
            }
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            int header = 4 + 4 * dims;
            var head = new byte[header];
            int got = gz.ReadAtLeast(head, header, throwOnEndOfStream: false);
            if (got < header)
                throw new IdxFormatException(path, got, $"{got} bytes after decompression, shorter than the {header}-byte IDX header; "
                    + $"the file is corrupt; {HowToGet}.");
            int BE(int o) => (head[o] << 24) | (head[o + 1] << 16) | (head[o + 2] << 8) | head[o + 3];
            if (BE(0) != magic)
                throw new IdxFormatException(path, 0, $"IDX magic 0x{BE(0):X8}, expected 0x{magic:X8}; "
                    + $"not a Fashion-MNIST {(dims == 3 ? "image" : "label")} file; {HowToGet}.");
            int n = BE(4), rows = dims == 3 ? BE(8) : 1, cols = dims == 3 ? BE(12) : 1;
            long need = (long)n * rows * cols;
            if (n < 0 || rows <= 0 || cols <= 0 || (long)rows * cols > int.MaxValue || need > Array.MaxLength)
            {
                throw new IdxFormatException(path, 4, $"the header claims {n} x {rows} x {cols} values, "
                    + $"which no IDX file of this reader can hold; the file is corrupt; {HowToGet}.");
            }
            if (isize is uint size && size != (uint)(header + need))
            {
                throw new IdxFormatException(path, 4, $"the header says {n} x {rows} x {cols} ({header + need} bytes with the header) "
                    + "but the gzip "
                    + $"trailer says the file decompresses to {size} bytes (mod 2^32); the file is truncated or corrupt; {HowToGet}.");
            }
            // the bytes and the float32 copy the dataset makes of them
            Runtime.HostMemory.Check(need * 5, $"The IDX file {path} ({n} x {rows} x {cols})");
            var data = new byte[need];
            int read = gz.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (read < need)
                throw new IdxFormatException(path, header + read, $"the header says {n} x {rows} x {cols} "
                    + $"({header + need} bytes with the header) "
                    + $"but the data end after {header + read} bytes; the file is truncated or corrupt; {HowToGet}.");
            if (gz.ReadByte() >= 0)
                throw new IdxFormatException(path, header + need, $"more data follow the {n} x {rows} x {cols} values the header gives; "
                    + $"the file is corrupt; {HowToGet}.");
            return (n, rows, cols, data);
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException(path, -1, $"not a readable gzip file ({e.Message}); {HowToGet}.", e);
        }
        catch (EndOfStreamException e)
        {
            throw new IdxFormatException(path, -1, $"not a readable gzip file ({e.Message}); {HowToGet}.", e);
        }
    }
}

/// <summary>A malformed IDX (gzip) file: the file, the byte position in the decompressed data (-1: in the gzip
/// stream itself) and what is wrong.</summary>
public sealed class IdxFormatException(string path, long position, string problem, Exception? inner = null)
    : IOException(position >= 0 ? $"{path}, byte {position}: {problem}" : $"{path}: {problem}", inner)
{
    /// <summary>The file.</summary>
    public string Path { get; } = path;
    /// <summary>The byte offset in the decompressed data where the problem is (-1: the gzip stream itself is unreadable).</summary>
    public long Position { get; } = position;
}

/// <summary>
/// Feature-major batches (features x batch) of a dataset on a backend. On a device the whole dataset is
/// uploaded once and batches are gathered there (gather_columns_v1); only the sample indices travel per batch.
/// </summary>
public sealed class BatchSource : IDisposable
{
    private readonly DenseTensor? _deviceImages;
    private readonly DeviceBuffer<int>? _deviceLabels;

    /// <summary>Prepares batches of <paramref name="data"/> on <paramref name="backend"/>; on a device the whole dataset is uploaded once.</summary>
    public BatchSource(ImageDataset data, ITensorBackend backend)
    {
        Data = data; Backend = backend;
        if (backend.Device is { } device)
        {
            _deviceImages = DenseTensor.FromArray(data.Count, data.Features, data.Images).ToDevice(device);
            _deviceLabels = device.Allocate<int>(data.Count);
            _deviceLabels.CopyFrom(data.Labels);
        }
    }

    /// <summary>The dataset the batches come from.</summary>
    public ImageDataset Data { get; }
    /// <summary>The backend the batches are made on.</summary>
    public ITensorBackend Backend { get; }

    /// <summary>The batch of the given samples: x (features x n) and labels, both owned by the caller.</summary>
    public (DenseTensor X, Labels Labels) Get(ReadOnlySpan<int> index)
    {
        int n = index.Length, f = Data.Features;
        if (Backend.Device is { } device)
        {
            using var idx = device.Allocate<int>(n);
            idx.CopyFrom(index);
            var x = DenseTensor.Allocate(device, f, n);
            var lab = device.Allocate<int>(n);
            GatherColumns.Run(device, _deviceImages!, idx, x, _deviceLabels, lab);
            return (x, new Labels(lab));
        }
        // On the CPU backend the batch's array is rented from its pool (back there when the caller disposes x).
        var xt = Backend is CpuTensorBackend cpu ? cpu.Rent(f, n) : DenseTensor.FromArray(f, n, new float[f * n]);
        var xs = xt.HostData;
        var labels = new int[n];
        // Samples are rows of the dataset; the batch is feature-major: a blocked transpose (16 samples x 64 features).
        for (int b0 = 0; b0 < n; b0 += 16)
        {
            int b1 = Math.Min(n, b0 + 16);
            for (int b = b0; b < b1; b++) labels[b] = Data.Labels[index[b]];
            for (int j0 = 0; j0 < f; j0 += 64)
            {
                int j1 = Math.Min(f, j0 + 64);
                for (int b = b0; b < b1; b++)
                {
                    var row = Data.Images.AsSpan(index[b] * f, f);
                    for (int j = j0; j < j1; j++) xs[j * n + b] = row[j];
                }
            }
        }
        return (xt, new Labels(labels));
    }

    /// <inheritdoc/>
    public void Dispose() { _deviceImages?.Dispose(); _deviceLabels?.Dispose(); }
}
