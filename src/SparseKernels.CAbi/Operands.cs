using System.Runtime.InteropServices;
using SparseKernels.Tensors;

namespace SparseKernels.CAbi;

/// <summary>sk_csr of sparsekernels.h: a CSR matrix given by its three arrays (host or device addresses).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SkCsr
{
    public long Rows, Cols, Nnz;
    public int* RowOffsets;
    public int* ColumnIndices;
    public float* Values;
}

/// <summary>sk_dense of sparsekernels.h: element (r, c) of a rows x cols float32 matrix is data[r * row_stride + c * col_stride].</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SkDense
{
    public float* Data;
    public long Rows, Cols, RowStride, ColStride;
}

/// <summary>
/// Checks of the operands at the boundary (null, negative or oversized counts, alignment, strides) and their copies
/// into and out of the engine's host arrays. Scratch arrays are kept per thread and per role, so a steady training
/// loop reuses them (the engine's own outputs are still allocated per call until it offers caller-buffer forms).
/// </summary>
internal static unsafe class Operands
{
    public const int Validate = 1;

    [ThreadStatic] private static Dictionary<(string, long), Array>? t_scratch;

    /// <summary>A per-thread scratch array of exactly <paramref name="length"/> elements for <paramref name="role"/>.</summary>
    public static T[] Scratch<T>(string role, long length)
    {
        var cache = t_scratch ??= [];
        if (cache.TryGetValue((role, length), out var a) && a is T[] typed) return typed;
        if (cache.Count > 64) cache.Clear();
        var fresh = GC.AllocateUninitializedArray<T>(checked((int)length));
        cache[(role, length)] = fresh;
        return fresh;
    }

    public static void NotNull(void* p, string op, string name)
    {
        if (p is null) throw new AbiException(Status.NullPointer, $"{op}: {name} is NULL.");
    }

    public static void Aligned(void* p, int bytes, string op, string name)
    {
        if (((nuint)p & (nuint)(bytes - 1)) != 0)
            throw new AbiException(Status.Alignment, $"{op}: {name} (0x{(nuint)p:x}) is not aligned to {bytes} bytes.");
    }

    public static void Array(void* p, long length, int elementBytes, string op, string name)
    {
        if (length < 0) throw new AbiException(Status.Shape, $"{op}: {name} has a negative length {length}.");
        if (length > int.MaxValue) throw new AbiException(Status.Shape, $"{op}: {name} has {length} elements; at most {int.MaxValue} " +
            $"are supported.");
        if (length > 0) NotNull(p, op, name);
        Aligned(p, elementBytes, op, name);
    }

    /// <summary>The shape of a CSR operand, checked (counts non-negative, within int32, nnz &lt;= rows x cols).</summary>
    public static (int Rows, int Cols, int Nnz) CsrShape(SkCsr* a, string op, string name)
    {
        NotNull(a, op, name);
        if (a->Rows < 0 || a->Cols < 0 || a->Nnz < 0)
            throw new AbiException(Status.Shape, $"{op}: {name} is {a->Rows}x{a->Cols} with {a->Nnz} nonzeros: a count is negative.");
        if (a->Rows >= int.MaxValue || a->Cols >= int.MaxValue || a->Nnz > int.MaxValue)
            throw new AbiException(Status.Shape, $"{op}: {name} is {a->Rows}x{a->Cols} with {a->Nnz} nonzeros: counts must fit in int32.");
        if (a->Nnz > a->Rows * a->Cols)
            throw new AbiException(Status.Shape, $"{op}: {name} is {a->Rows}x{a->Cols}; it cannot hold {a->Nnz} nonzeros.");
        Array(a->RowOffsets, a->Rows + 1, 4, op, $"{name}.row_offsets");
        Array(a->ColumnIndices, a->Nnz, 4, op, $"{name}.column_indices");
        return ((int)a->Rows, (int)a->Cols, (int)a->Nnz);
    }

    /// <summary>The CSR operand as an engine matrix on copies of its arrays (validated: ordered, unique, in-range indices).</summary>
    public static CsrMatrix HostCsr(SkCsr* a, string op, string name, bool values, string role)
    {
        var (rows, cols, nnz) = CsrShape(a, op, name);
        if (values) Array(a->Values, nnz, 4, op, $"{name}.values");
        var ro = Scratch<int>(role + ".ro", rows + 1);
        var ci = Scratch<int>(role + ".ci", nnz);
        var v = Scratch<float>(role + ".v", nnz);
        new ReadOnlySpan<int>(a->RowOffsets, rows + 1).CopyTo(ro);
        if (nnz > 0) new ReadOnlySpan<int>(a->ColumnIndices, nnz).CopyTo(ci);
        if (values && nnz > 0) new ReadOnlySpan<float>(a->Values, nnz).CopyTo(v);
        else if (!values) System.Array.Clear(v);
        if (ro[rows] != nnz)
            throw new AbiException(Status.InvalidCsr, $"{op}: {name}.row_offsets[{rows}] = {ro[rows]} but nnz = {nnz}.");
        try { return new CsrMatrix(rows, cols, ro, ci, v); }
        catch (CsrFormatException e) { throw new AbiException(Status.InvalidCsr, $"{op}: {name}: {e.Message}"); }
    }

    /// <summary>The shape of a dense operand, checked; expected rows/cols of -1 are not checked.</summary>
    public static (int Rows, int Cols) DenseShape(SkDense* d, string op, string name, long rows, long cols, bool output)
    {
        NotNull(d, op, name);
        if (d->Rows < 0 || d->Cols < 0)
            throw new AbiException(Status.Shape, $"{op}: {name} is {d->Rows}x{d->Cols}: a dimension is negative.");
        if ((rows >= 0 && d->Rows != rows) || (cols >= 0 && d->Cols != cols))
            throw new AbiException(Status.Shape, $"{op}: {name} is {d->Rows}x{d->Cols}; it must be {Dim(rows)}x{Dim(cols)}.");
        if (d->Rows * d->Cols > int.MaxValue)
            throw new AbiException(Status.Shape, $"{op}: {name} is {d->Rows}x{d->Cols}; at most {int.MaxValue} elements are supported.");
        if (d->RowStride < 0 || d->ColStride < 0)
            throw new AbiException(Status.Shape, $"{op}: {name} has negative strides ({d->RowStride}, {d->ColStride}).");
        if (output && ((d->Rows > 1 && d->RowStride == 0) || (d->Cols > 1 && d->ColStride == 0)))
            throw new AbiException(Status.Shape, $"{op}: {name} is an output with a zero stride ({d->RowStride}, {d->ColStride}): its " +
                $"elements would overlap.");
        if (d->Rows > 0 && d->Cols > 0) NotNull(d->Data, op, $"{name}.data");
        Aligned(d->Data, 4, op, $"{name}.data");
        return ((int)d->Rows, (int)d->Cols);
    }

    private static string Dim(long n) => n < 0 ? "any" : n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether the operand is row-major contiguous (what the device kernels take).</summary>
    public static bool RowMajor(SkDense* d) => (d->Cols <= 1 || d->ColStride == 1) && (d->Rows <= 1 || d->RowStride == d->Cols);

    /// <summary>The operand as a row-major engine tensor on a per-thread scratch copy (any strides; transposed views by tiles).</summary>
    public static DenseTensor Gather(SkDense* d, string role)
    {
        int rows = (int)d->Rows, cols = (int)d->Cols;
        var dst = Scratch<float>(role, (long)rows * cols);
        long rs = d->RowStride, cs = d->ColStride;
        float* src = d->Data;
        if (rows > 0 && cols > 0)
        {
            if (cs == 1)
            {
                for (int r = 0; r < rows; r++) new ReadOnlySpan<float>(src + r * rs, cols).CopyTo(dst.AsSpan(r * cols, cols));
            }
            else
            {
                const int T = 32;
                fixed (float* o = dst)
                    for (int c0 = 0; c0 < cols; c0 += T)
                        for (int r0 = 0; r0 < rows; r0 += T)
                        {
                            int c1 = Math.Min(cols, c0 + T), r1 = Math.Min(rows, r0 + T);
                            for (int c = c0; c < c1; c++)
                            {
                                float* s = src + c * cs;
                                for (int r = r0; r < r1; r++) o[(long)r * cols + c] = s[r * rs];
                            }
                        }
            }
        }
        return DenseTensor.FromArray(rows, cols, dst);
    }

    /// <summary>Writes a row-major rows x cols array into the operand (any strides).</summary>
    public static void Scatter(ReadOnlySpan<float> src, SkDense* d)
    {
        int rows = (int)d->Rows, cols = (int)d->Cols;
        long rs = d->RowStride, cs = d->ColStride;
        float* dst = d->Data;
        if (rows == 0 || cols == 0) return;
        if (cs == 1)
        {
            for (int r = 0; r < rows; r++) src.Slice(r * cols, cols).CopyTo(new Span<float>(dst + r * rs, cols));
            return;
        }
        const int T = 32;
        fixed (float* s = src)
            for (int r0 = 0; r0 < rows; r0 += T)
                for (int c0 = 0; c0 < cols; c0 += T)
                {
                    int c1 = Math.Min(cols, c0 + T), r1 = Math.Min(rows, r0 + T);
                    for (int r = r0; r < r1; r++)
                    {
                        float* o = dst + r * rs;
                        for (int c = c0; c < c1; c++) o[c * cs] = s[(long)r * cols + c];
                    }
                }
    }
}
