using SparseKernels.Runtime;

namespace SparseKernels.Tensors;

/// <summary>A CSR array violates the format. Names the row and the position in the offending array.</summary>
public sealed class CsrFormatException : Exception
{
    public int Row { get; }
    public long Position { get; }
    public CsrFormatException(string message, int row = -1, long position = -1) : base(message) { Row = row; Position = position; }
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

    public int Rows { get; }
    public int Cols { get; }
    public int Nnz { get; }
    public double Density => Rows == 0 || Cols == 0 ? 0 : (double)Nnz / ((double)Rows * Cols);
    public double Sparsity => 1 - Density;
    public bool IsOnDevice => _dValues is not null;
    public IDevice? Device => _dValues?.Device;

    public int[] RowOffsets => _rowOffsets ?? throw OnDevice();
    public int[] ColumnIndices => _columnIndices ?? throw OnDevice();
    public float[] Values => _values ?? throw OnDevice();

    public DeviceBuffer<int> DeviceRowOffsets => _dRowOffsets ?? throw OnHost();
    public DeviceBuffer<int> DeviceColumnIndices => _dColumnIndices ?? throw OnHost();
    public DeviceBuffer<float> DeviceValues => _dValues ?? throw OnHost();

    public int RowLength(int row) => RowOffsets[row + 1] - RowOffsets[row];

    /// <summary>Checks CSR invariants and throws <see cref="CsrFormatException"/> naming the first violation.</summary>
    public static void Validate(int rows, int cols, ReadOnlySpan<int> rowOffsets, ReadOnlySpan<int> columnIndices, int valueCount)
    {
        if (rows < 0 || cols < 0)
            throw new CsrFormatException($"CSR shape {rows}x{cols} has a negative dimension.");
        if (rowOffsets.Length != rows + 1)
            throw new CsrFormatException($"CSR row offsets have length {rowOffsets.Length}; a matrix with {rows} rows needs {rows + 1}.");
        if (valueCount != columnIndices.Length)
            throw new CsrFormatException($"CSR values have length {valueCount} but column indices have length {columnIndices.Length}; they must agree.");
        if (rowOffsets[0] != 0)
            throw new CsrFormatException($"CSR row offsets must start at 0; row 0 starts at {rowOffsets[0]} (position 0).", 0, 0);
        for (int r = 0; r < rows; r++)
        {
            int start = rowOffsets[r], end = rowOffsets[r + 1];
            if (end < start)
                throw new CsrFormatException($"CSR row offsets decrease at row {r}: offset[{r}] = {start} > offset[{r + 1}] = {end} (position {r + 1}).", r, r + 1);
            if (end > columnIndices.Length)
                throw new CsrFormatException($"CSR row {r} ends at {end}, past the {columnIndices.Length} column indices (row offsets position {r + 1}).", r, r + 1);
            for (int p = start; p < end; p++)
            {
                int c = columnIndices[p];
                if ((uint)c >= (uint)cols)
                    throw new CsrFormatException($"CSR column index {c} at position {p} (row {r}) is out of range [0, {cols}).", r, p);
                if (p > start && c <= columnIndices[p - 1])
                    throw new CsrFormatException(c == columnIndices[p - 1]
                        ? $"CSR row {r} has duplicate column index {c} at position {p}."
                        : $"CSR row {r} is not sorted: column index {c} at position {p} follows {columnIndices[p - 1]}.", r, p);
            }
        }
        if (rowOffsets[rows] != columnIndices.Length)
            throw new CsrFormatException($"CSR row offsets end at {rowOffsets[rows]} (position {rows}) but there are {columnIndices.Length} nonzeros; the last offset must equal nnz.", rows - 1, rows);
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

    public void Dispose()
    {
        _dRowOffsets?.Dispose(); _dColumnIndices?.Dispose(); _dValues?.Dispose();
    }

    public override string ToString() => $"CsrMatrix {Rows}x{Cols}, nnz {Nnz} ({Sparsity:P1} sparse) on {(IsOnDevice ? _dValues!.Device.Name : "host")}";

    private InvalidOperationException OnDevice() => new($"This {Rows}x{Cols} CSR matrix lives on device '{_dValues!.Device.Name}'; call ToHost() first.");
    private InvalidOperationException OnHost() => new($"This {Rows}x{Cols} CSR matrix lives on the host; call ToDevice(device) first.");
}
