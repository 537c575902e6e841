using System.Globalization;
using System.Text;

namespace SparseKernels.Tensors;

/// <summary>
/// A .smtx file is malformed or unreadable. <see cref="Path"/> is the file, <see cref="Line"/> the
/// 1-based line (0 when the problem is not on a line, e.g. a missing file), <see cref="Position"/> the
/// 1-based number on that line (0 when it does not apply) and <see cref="Row"/> the matrix row (-1 when
/// it does not apply). The message names all of them.
/// </summary>
public sealed class SmtxFormatException : Exception
{
    /// <summary>The file that was read.</summary>
    public string Path { get; }
    /// <summary>The 1-based line of the problem, or 0 when it is not on a line (e.g. a missing file).</summary>
    public int Line { get; }
    /// <summary>The 1-based number on the line where the problem is, or 0 when it does not apply.</summary>
    public long Position { get; }
    /// <summary>The matrix row concerned, or -1 when it does not apply.</summary>
    public int Row { get; }

    /// <summary>Creates the exception; the message names the file, the line, the position and the row where they apply, and the <paramref name="problem"/>.</summary>
    public SmtxFormatException(string path, int line, string problem, long position = 0, int row = -1, Exception? inner = null)
        : base(Format(path, line, problem, position, row), inner)
    {
        Path = path; Line = line; Position = position; Row = row;
    }

    private static string Format(string path, int line, string problem, long position, int row)
    {
        var sb = new StringBuilder();
        sb.Append(path);
        if (line > 0) sb.Append(CultureInfo.InvariantCulture, $", line {line}");
        if (position > 0) sb.Append(CultureInfo.InvariantCulture, $", number {position}");
        if (row >= 0) sb.Append(CultureInfo.InvariantCulture, $" (row {row})");
        sb.Append(": ").Append(problem);
        return sb.ToString();
    }
}

/// <summary>
/// Reads and writes the DLMC .smtx sparsity-pattern format: line 1 <c>rows, cols, nnz</c>, line 2 the
/// rows+1 CSR row offsets, line 3 the nnz column indices (numbers separated by spaces or commas; no values).
/// </summary>
public static class SmtxFile
{
    /// <summary>
    /// Reads and validates <paramref name="path"/>. Values are drawn from <paramref name="values"/>, uniform in
    /// [-1, -0.05] U [0.05, 1] (never zero), or are all 1 when it is null.
    /// </summary>
    /// <exception cref="SmtxFormatException">The file is missing, unreadable or malformed; the message names the file, line and position.</exception>
    public static CsrMatrix Read(string path, Random? values = null)
    {
        var (rows, cols, offsets, columns) = ReadPattern(path);
        var v = new float[columns.Length];
        if (values is null) v.AsSpan().Fill(1f);
        else
            for (int i = 0; i < v.Length; i++)
            {
                float m = 0.05f + 0.95f * values.NextSingle();
                v[i] = values.Next(2) == 0 ? -m : m;
            }
        return new CsrMatrix(rows, cols, offsets, columns, v);
    }

    /// <summary>Reads and validates the pattern only: shape, row offsets and column indices.</summary>
    /// <exception cref="SmtxFormatException">The file is missing, unreadable or malformed.</exception>
    public static (int Rows, int Cols, int[] RowOffsets, int[] ColumnIndices) ReadPattern(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            string why = e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : $"cannot read the file ({e.Message})";
            throw new SmtxFormatException(path, 0, why, inner: e);
        }

        var reader = new Reader(path, bytes);

        // Line 1: rows, cols, nnz
        reader.BeginLine(1, "the header 'rows, cols, nnz'");
        int rows = reader.NextInt("rows", 1);
        int cols = reader.NextInt("cols", 2);
        int nnz = reader.NextInt("nnz", 3);
        reader.EndLine(3, "header numbers");
        if (rows < 0 || cols < 0 || nnz < 0)
            throw new SmtxFormatException(path, 1, $"the header gives a negative size: rows {rows}, cols {cols}, nnz {nnz}.");
        if ((long)rows * cols < nnz)
            throw new SmtxFormatException(path, 1, $"the header gives nnz {nnz}, more than rows x cols = {(long)rows * cols}.");

        // Every number takes at least one byte: a header that claims more numbers than the file has bytes is refused
        // before the arrays are allocated (a corrupt header never asks for gigabytes).
        if (rows + 1L + nnz > bytes.Length)
        {
            throw new SmtxFormatException(path, 1, $"the header claims {rows} rows and {nnz} nonzeros ({rows + 1L + nnz} numbers) "
                + $"but the file has only {bytes.Length} bytes; it is truncated or its header is wrong.");
        }

        Runtime.HostMemory.Check((rows + 1L) * 4 + nnz * 8L, $"The .smtx file {path} ({rows} rows, {nnz} nonzeros)");
        // Line 2: rows + 1 offsets
        var offsets = new int[rows + 1];
        reader.BeginLine(2, $"the {rows + 1} row offsets");
        for (int i = 0; i <= rows; i++)
        {
            int o = reader.NextInt("row offset", i + 1, expectedCount: rows + 1);
            offsets[i] = o;
            if (i == 0 && o != 0)
                throw new SmtxFormatException(path, 2, $"the row offsets must start at 0 but start at {o}.", 1, 0);
            if (i > 0 && o < offsets[i - 1])
                throw new SmtxFormatException(path, 2, $"row offsets decrease: offset[{i - 1}] = {offsets[i - 1]} > offset[{i}] = {o}.", i + 1, i - 1);
            if (o > nnz)
                throw new SmtxFormatException(path, 2, $"row offset {o} is past nnz = {nnz} from the header.", i + 1, Math.Max(i - 1, 0));
        }
        reader.EndLine(rows + 1, "row offsets");
        if (offsets[rows] != nnz)
            throw new SmtxFormatException(path, 2, $"the last row offset is {offsets[rows]} but the header gives nnz {nnz}; they must be equal.", rows + 1, rows - 1);

        // Line 3: nnz column indices
        var columns = new int[nnz];
        reader.BeginLine(3, $"the {nnz} column indices");
        int row = 0;
        for (int p = 0; p < nnz; p++)
        {
            while (offsets[row + 1] <= p) row++;
            int c = reader.NextInt("column index", p + 1, expectedCount: nnz, row: row);
            columns[p] = c;
            if ((uint)c >= (uint)cols)
                throw new SmtxFormatException(path, 3, $"column index {c} is out of range [0, {cols}).", p + 1, row);
            if (p > offsets[row] && c <= columns[p - 1])
                throw new SmtxFormatException(path, 3, c == columns[p - 1]
                    ? $"duplicate column index {c} in the row."
                    : $"column indices of the row are not sorted: {c} follows {columns[p - 1]}.", p + 1, row);
        }
        reader.EndLine(nnz, "column indices");
        reader.ExpectEnd();

        try { CsrMatrix.Validate(rows, cols, offsets, columns, nnz); }
        catch (CsrFormatException e)
        {
            // Not reachable after the checks above; kept so that any violation still names the file and line.
            int line = e.Array == CsrArray.ColumnIndices ? 3 : 2;
            throw new SmtxFormatException(path, line, e.Message, e.Position >= 0 ? e.Position + 1 : 0, e.Row, e);
        }
        return (rows, cols, offsets, columns);
    }

    /// <summary>Writes the pattern of <paramref name="matrix"/> (a host matrix) to <paramref name="path"/>; values are not stored.</summary>
    public static void Write(string path, CsrMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(matrix);
        var ro = matrix.RowOffsets; var ci = matrix.ColumnIndices;
        using var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        w.NewLine = "\n";
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{matrix.Rows}, {matrix.Cols}, {matrix.Nnz}"));
        WriteInts(w, ro);
        WriteInts(w, ci);
    }

    private static void WriteInts(StreamWriter w, int[] values)
    {
        Span<char> buf = stackalloc char[16];
        for (int i = 0; i < values.Length; i++)
        {
            if (i > 0) w.Write(' ');
            values[i].TryFormat(buf, out int n, default, CultureInfo.InvariantCulture);
            w.Write(buf[..n]);
        }
        w.Write('\n');
    }

    /// <summary>A forward-only tokenizer over the file bytes that knows its line number.</summary>
    private sealed class Reader(string path, byte[] bytes)
    {
        private int _pos;
        private int _line;          // the line being read (1-based)
        private int _lineEnd;       // index of the '\n' (or end) of the current line
        private string _what = "";

        public void BeginLine(int line, string what)
        {
            _what = what;
            // Skip to the start of the requested line: callers advance line by line.
            if (line > 1)
            {
                if (_lineEnd >= bytes.Length)
                    throw new SmtxFormatException(path, line, $"the file ends before line {line} ({what}); it is truncated.");
                _pos = _lineEnd + 1;
            }
            if (_pos >= bytes.Length && line > 0)
                throw new SmtxFormatException(path, line, $"the file ends before line {line} ({what}); it is truncated.");
            _line = line;
            int nl = Array.IndexOf(bytes, (byte)'\n', _pos);
            _lineEnd = nl < 0 ? bytes.Length : nl;
        }

        private static bool IsSeparator(byte b) => b is (byte)' ' or (byte)',' or (byte)'\t' or (byte)'\r';

        /// <summary>The next integer on the current line; a clear error when it is missing or not a number.</summary>
        public int NextInt(string name, long index, int expectedCount = 0, int row = -1)
        {
            while (_pos < _lineEnd && IsSeparator(bytes[_pos])) _pos++;
            if (_pos >= _lineEnd)
            {
                string expected = expectedCount > 0 ? $"; expected {expectedCount} numbers but found {index - 1}" : "";
                throw new SmtxFormatException(path, _line, $"the line ends before {name} number {index} of {_what}{expected} (truncated line?).", index, row);
            }
            int start = _pos;
            bool negative = false;
            if (bytes[_pos] is (byte)'-' or (byte)'+') { negative = bytes[_pos] == (byte)'-'; _pos++; }
            long value = 0;
            int digits = 0;
            while (_pos < _lineEnd && !IsSeparator(bytes[_pos]))
            {
                int d = bytes[_pos] - '0';
                if ((uint)d > 9)
                {
                    int end = _pos;
                    while (end < _lineEnd && !IsSeparator(bytes[end])) end++;
                    string token = Encoding.UTF8.GetString(bytes, start, Math.Min(end - start, 40));
                    throw new SmtxFormatException(path, _line, $"'{token}' is not an integer ({name}).", index, row);
                }
                value = value * 10 + d;
                if (value > int.MaxValue + 1L)
                    throw new SmtxFormatException(path, _line, $"{name} is too large for a 32-bit integer.", index, row);
                digits++;
                _pos++;
            }
            if (digits == 0)
                throw new SmtxFormatException(path, _line, $"'{Encoding.UTF8.GetString(bytes, start, _pos - start)}' is not an integer ({name}).", index, row);
            if (negative) value = -value;
            if (value > int.MaxValue)
                throw new SmtxFormatException(path, _line, $"{name} is too large for a 32-bit integer.", index, row);
            return (int)value;
        }

        /// <summary>Fails if the current line has more numbers than <paramref name="count"/>.</summary>
        public void EndLine(long count, string what)
        {
            while (_pos < _lineEnd && IsSeparator(bytes[_pos])) _pos++;
            if (_pos < _lineEnd)
                throw new SmtxFormatException(path, _line, $"the line has more than the {count} {what} expected.", count + 1);
        }

        /// <summary>Fails if anything but white space follows the last line.</summary>
        public void ExpectEnd()
        {
            int p = _lineEnd;
            int line = _line;
            for (; p < bytes.Length; p++)
            {
                byte b = bytes[p];
                if (b == (byte)'\n') { line++; continue; }
                if (b is (byte)' ' or (byte)'\t' or (byte)'\r') continue;
                throw new SmtxFormatException(path, line, "unexpected content after the three lines of the format.");
            }
        }
    }
}
