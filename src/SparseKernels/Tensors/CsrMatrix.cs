using SparseKernels.Runtime;

namespace SparseKernels.Tensors;

/// <summary>A CSR array violates the format. Names the row and the position in the offending array.</summary>
public sealed class CsrFormatException : Exception
{
    /// <summary>The row of the violation, or -1 when it concerns the shape or no single row.</summary>
    public int Row { get; }
    /// <summary>The index into <see cref="Array"/> of the violation, or -1 when it does not apply.</summary>
    public long Position { get; }
    /// <summary>Which array holds the violation: <see cref="CsrArray.RowOffsets"/>, <see cref="CsrArray.ColumnIndices"/>, <see cref="CsrArray.Values"/> or <see cref="CsrArray.Shape"/>.</summary>
    public CsrArray Array { get; }
    /// <summary>Creates the exception; <paramref name="row"/>, <paramref name="position"/> and <paramref name="array"/> locate the violation (-1 and <see cref="CsrArray.Shape"/> when they do not apply).</summary>
    public CsrFormatException(string message, int row = -1, long position = -1, CsrArray array = CsrArray.Shape) : base(message) { Row = row; Position = position; Array = array; }
}

/// <summary>The part of a CSR matrix that a <see cref="CsrFormatException"/> is about.</summary>
public enum CsrArray
{
    /// <summary>The dimensions or the array lengths.</summary>
    Shape,
    /// <summary>The row offsets.</summary>
    RowOffsets,
    /// <summary>The column indices.</summary>
    ColumnIndices,
    /// <summary>The values.</summary>
    Values,
}

/// <summary>
/// A float32 matrix in compressed sparse row form: <see cref="RowOffsets"/> (rows+1), sorted unique
/// <see cref="ColumnIndices"/> within each row, and <see cref="Values"/> (nnz), on the host or on a
/// device. Host matrices are validated at construction; device matrices are copies of validated host
/// ones or outputs of our own kernels.
/// </summary>
public sealed class CsrMatrix : IDisposable
{
    private readonly int[]? _rowOffsets, _columnIndices;
    private readonly float[]? _values;
    private readonly DeviceBuffer<int>? _dRowOffsets, _dColumnIndices;
    private readonly DeviceBuffer<float>? _dValues;

    /// <summary>Builds a host CSR matrix from its arrays (not copied) and validates it.</summary>
    /// <exception cref="CsrFormatException">The arrays are not valid CSR; the message names the row and position.</exception>
    public CsrMatrix(int rows, int cols, int[] rowOffsets, int[] columnIndices, float[] values)
    {
        ArgumentNullException.ThrowIfNull(rowOffsets);
        ArgumentNullException.ThrowIfNull(columnIndices);
        ArgumentNullException.ThrowIfNull(values);
        Validate(rows, cols, rowOffsets, columnIndices, values.Length);
        Rows = rows; Cols = cols; Nnz = columnIndices.Length;
        _rowOffsets = rowOffsets; _columnIndices = columnIndices; _values = values;
    }

    private CsrMatrix(int rows, int cols, int nnz, DeviceBuffer<int> rowOffsets, DeviceBuffer<int> columnIndices, DeviceBuffer<float> values)
    {
        Rows = rows; Cols = cols; Nnz = nnz;
        _dRowOffsets = rowOffsets; _dColumnIndices = columnIndices; _dValues = values;
    }

    /// <summary>The number of rows (M).</summary>
    public int Rows { get; }
    /// <summary>The number of columns (K).</summary>
    public int Cols { get; }
    /// <summary>The number of stored nonzeros.</summary>
    public int Nnz { get; }
    /// <summary>Nonzeros divided by Rows x Cols, in [0, 1] (0 for an empty shape).</summary>
    public double Density => Rows == 0 || Cols == 0 ? 0 : (double)Nnz / ((double)Rows * Cols);
    /// <summary>1 - <see cref="Density"/>: the fraction of entries not stored.</summary>
    public double Sparsity => 1 - Density;
    /// <summary>Whether the arrays live on a device (<see cref="DeviceRowOffsets"/> ...) rather than on the host (<see cref="RowOffsets"/> ...).</summary>
    public bool IsOnDevice => _dValues is not null;
    /// <summary>The device holding the arrays, or null for a host matrix.</summary>
    public IDevice? Device => _dValues?.Device;

    /// <summary>The host row offsets (Rows + 1, from 0 to <see cref="Nnz"/>). Throws <see cref="InvalidOperationException"/> for a device matrix.</summary>
    public int[] RowOffsets => _rowOffsets ?? throw OnDevice();
    /// <summary>The host column index of each nonzero (Nnz, sorted and unique within a row). Throws <see cref="InvalidOperationException"/> for a device matrix.</summary>
    public int[] ColumnIndices => _columnIndices ?? throw OnDevice();
    /// <summary>The host value of each nonzero (Nnz, in the order of <see cref="ColumnIndices"/>). Throws <see cref="InvalidOperationException"/> for a device matrix.</summary>
    public float[] Values => _values ?? throw OnDevice();

    /// <summary>The row offsets on the device (Rows + 1 ints). Throws <see cref="InvalidOperationException"/> for a host matrix.</summary>
    public DeviceBuffer<int> DeviceRowOffsets => _dRowOffsets ?? throw OnHost();
    /// <summary>The column indices on the device (Nnz ints). Throws <see cref="InvalidOperationException"/> for a host matrix.</summary>
    public DeviceBuffer<int> DeviceColumnIndices => _dColumnIndices ?? throw OnHost();
    /// <summary>The values on the device (Nnz floats). Throws <see cref="InvalidOperationException"/> for a host matrix.</summary>
    public DeviceBuffer<float> DeviceValues => _dValues ?? throw OnHost();

    /// <summary>The number of nonzeros in row <paramref name="row"/> of a host matrix.</summary>
    public int RowLength(int row) => RowOffsets[row + 1] - RowOffsets[row];

    private int _patternVersion;

    /// <summary>
    /// Counts the calls of <see cref="NotifyPatternChanged"/>: data derived from the sparsity pattern and cached with
    /// this matrix (the row swizzle of the V2/V3 SpMM and SDDMM kernels) is rebuilt when it has changed.
    /// </summary>
    public int PatternVersion => Volatile.Read(ref _patternVersion);

    /// <summary>
    /// Tells the engine that this device matrix's pattern (<see cref="DeviceRowOffsets"/> or
    /// <see cref="DeviceColumnIndices"/>) was changed in place, e.g. by the framework that owns the arrays of a
    /// matrix wrapped with <see cref="SparseKernels.Embedding.External.WrapCsr"/>: what the engine cached about the
    /// old pattern (the row swizzle, computed on the host from the row offsets) is recomputed at the next launch
    /// that needs it. Call it after the change is complete on the device and before the next operation on this
    /// matrix. Changing only the values needs no call, and neither does a new pattern in a new matrix (a new
    /// wrapper has nothing cached). Forgetting the call after an in-place pattern change leaves a stale row order:
    /// results stay correct (any permutation of the rows covers each row once) but the load balance is that of
    /// the old pattern.
    /// </summary>
    public void NotifyPatternChanged() => Interlocked.Increment(ref _patternVersion);

    /// <summary>Checks CSR invariants and throws <see cref="CsrFormatException"/> naming the first violation.</summary>
    public static void Validate(int rows, int cols, ReadOnlySpan<int> rowOffsets, ReadOnlySpan<int> columnIndices, int valueCount)
    {
        if (rows < 0 || cols < 0)
            throw new CsrFormatException($"CSR shape {rows}x{cols} has a negative dimension.");
        if (rowOffsets.Length != rows + 1)
            throw new CsrFormatException($"CSR row offsets have length {rowOffsets.Length}; a matrix with {rows} rows needs {rows + 1}.", -1, -1, CsrArray.RowOffsets);
        if (valueCount != columnIndices.Length)
            throw new CsrFormatException($"CSR values have length {valueCount} but column indices have length {columnIndices.Length}; they must agree.", -1, -1, CsrArray.Values);
        if (rowOffsets[0] != 0)
            throw new CsrFormatException($"CSR row offsets must start at 0; row 0 starts at {rowOffsets[0]} (position 0).", 0, 0, CsrArray.RowOffsets);
        for (int r = 0; r < rows; r++)
        {
            int start = rowOffsets[r], end = rowOffsets[r + 1];
            if (end < start)
                throw new CsrFormatException($"CSR row offsets decrease at row {r}: offset[{r}] = {start} > offset[{r + 1}] = {end} (position {r + 1}).", r, r + 1, CsrArray.RowOffsets);
            if (end > columnIndices.Length)
                throw new CsrFormatException($"CSR row {r} ends at {end}, past the {columnIndices.Length} column indices (row offsets position {r + 1}).", r, r + 1, CsrArray.RowOffsets);
            for (int p = start; p < end; p++)
            {
                int c = columnIndices[p];
                if ((uint)c >= (uint)cols)
                    throw new CsrFormatException($"CSR column index {c} at position {p} (row {r}) is out of range [0, {cols}).", r, p, CsrArray.ColumnIndices);
                if (p > start && c <= columnIndices[p - 1])
                    throw new CsrFormatException(c == columnIndices[p - 1]
                        ? $"CSR row {r} has duplicate column index {c} at position {p}."
                        : $"CSR row {r} is not sorted: column index {c} at position {p} follows {columnIndices[p - 1]}.", r, p, CsrArray.ColumnIndices);
            }
        }
        if (rowOffsets[rows] != columnIndices.Length)
            throw new CsrFormatException($"CSR row offsets end at {rowOffsets[rows]} (position {rows}) but there are {columnIndices.Length} nonzeros; the last offset must equal nnz (row {rows - 1}).", rows - 1, rows, CsrArray.RowOffsets);
    }

    /// <summary>A copy on <paramref name="device"/>.</summary>
    public CsrMatrix ToDevice(IDevice device)
    {
        if (IsOnDevice) return CopyOnDevice(device);
        var ro = device.Allocate<int>(Rows + 1);
        var ci = device.Allocate<int>(Nnz);
        var v = device.Allocate<float>(Nnz);
        ro.CopyFrom(_rowOffsets); ci.CopyFrom(_columnIndices); v.CopyFrom(_values);
        return new CsrMatrix(Rows, Cols, Nnz, ro, ci, v);
    }

    private CsrMatrix CopyOnDevice(IDevice device)
    {
        var host = ToHost();
        return host.ToDevice(device);
    }

    /// <summary>A validated copy on the host.</summary>
    public CsrMatrix ToHost()
    {
        if (!IsOnDevice) return new CsrMatrix(Rows, Cols, (int[])_rowOffsets!.Clone(), (int[])_columnIndices!.Clone(), (float[])_values!.Clone());
        return new CsrMatrix(Rows, Cols, _dRowOffsets!.ToArray(), _dColumnIndices!.ToArray(), _dValues!.ToArray());
    }

    /// <summary>Wraps device arrays produced by our own kernels (taking ownership). Not validated on the device.</summary>
    internal static CsrMatrix FromDevice(int rows, int cols, int nnz, DeviceBuffer<int> rowOffsets, DeviceBuffer<int> columnIndices, DeviceBuffer<float> values)
        => new(rows, cols, nnz, rowOffsets, columnIndices, values);

    /// <summary>Same pattern, new values (host). The arrays of the pattern are shared, not copied.</summary>
    public CsrMatrix WithValues(float[] values)
    {
        if (values.Length != Nnz) throw new ArgumentException($"The matrix has {Nnz} nonzeros; {values.Length} values were given.", nameof(values));
        return new CsrMatrix(Rows, Cols, RowOffsets, ColumnIndices, values);
    }

    /// <summary>The nonzeros (values != 0) of a host dense tensor, in CSR form.</summary>
    public static CsrMatrix FromDense(DenseTensor dense)
    {
        ArgumentNullException.ThrowIfNull(dense);
        int rows = dense.Rows, cols = dense.Cols;
        float[] data = dense.HostData;
        var offsets = new int[rows + 1];
        long count = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * cols, cols);
            for (int c = 0; c < row.Length; c++) if (row[c] != 0f) count++;
            if (count > Array.MaxLength)
                throw new ArgumentException($"The {rows}x{cols} tensor has more nonzeros than a CSR array can hold.", nameof(dense));
            offsets[r + 1] = (int)count;
        }
        var ci = new int[count];
        var v = new float[count];
        int p = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * cols, cols);
            for (int c = 0; c < row.Length; c++)
                if (row[c] != 0f) { ci[p] = c; v[p] = row[c]; p++; }
        }
        return new CsrMatrix(rows, cols, offsets, ci, v);
    }

    /// <summary>A new host dense tensor with this matrix's values (zeros elsewhere).</summary>
    public DenseTensor ToDense()
    {
        var ro = RowOffsets; var ci = ColumnIndices; var v = Values;
        var dense = DenseTensor.Zeros(Rows, Cols);
        var data = dense.HostData;
        for (int r = 0; r < Rows; r++)
        {
            long rowStart = (long)r * Cols;
            for (int p = ro[r]; p < ro[r + 1]; p++) data[rowStart + ci[p]] = v[p];
        }
        return dense;
    }

    /// <summary>
    /// The transpose (Cols x Rows) on the host, values carried: a counting sort by column, O(nnz + rows + cols).
    /// Scanning rows in order keeps the column indices of each output row sorted.
    /// </summary>
    public CsrMatrix Transpose()
    {
        var ro = RowOffsets; var ci = ColumnIndices; var v = Values;
        var tOffsets = new int[Cols + 1];
        var tCols = new int[Nnz];
        var tValues = new float[Nnz];
        TransposeInto(Rows, Cols, ro, ci, v, tOffsets, tCols, tValues);
        return new CsrMatrix(Cols, Rows, tOffsets, tCols, tValues);
    }

    /// <summary>Counting-sort transpose of CSR arrays into caller-provided arrays (tOffsets: cols+1, tCols/tValues: nnz).</summary>
    internal static void TransposeInto(int rows, int cols, ReadOnlySpan<int> ro, ReadOnlySpan<int> ci, ReadOnlySpan<float> v,
        Span<int> tOffsets, Span<int> tCols, Span<float> tValues)
    {
        int nnz = ro[rows];
        tOffsets.Clear();
        for (int p = 0; p < nnz; p++) tOffsets[ci[p] + 1]++;
        for (int c = 0; c < cols; c++) tOffsets[c + 1] += tOffsets[c];
        // next[c] = where the next entry of output row c goes; reuse a rented buffer.
        int[] next = System.Buffers.ArrayPool<int>.Shared.Rent(Math.Max(cols, 1));
        try
        {
            tOffsets[..cols].CopyTo(next);
            for (int r = 0; r < rows; r++)
            {
                for (int p = ro[r]; p < ro[r + 1]; p++)
                {
                    int dst = next[ci[p]]++;
                    tCols[dst] = r;
                    tValues[dst] = v[p];
                }
            }
        }
        finally { System.Buffers.ArrayPool<int>.Shared.Return(next); }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _dRowOffsets?.Dispose(); _dColumnIndices?.Dispose(); _dValues?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"CsrMatrix {Rows}x{Cols}, nnz {Nnz} ({Sparsity:P1} sparse) on {(IsOnDevice ? _dValues!.Device.Name : "host")}";

    private InvalidOperationException OnDevice() => new($"This {Rows}x{Cols} CSR matrix lives on device '{_dValues!.Device.Name}'; call ToHost() first.");
    private InvalidOperationException OnHost() => new($"This {Rows}x{Cols} CSR matrix lives on the host; call ToDevice(device) first.");
}
