using NUnit.Framework;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Tensors;

public class CsrMatrixTests
{
    private static CsrFormatException Invalid(int rows, int cols, int[] offsets, int[] columns, int? values = null)
        => Assert.Throws<CsrFormatException>(() => _ = new CsrMatrix(rows, cols, offsets, columns, new float[values ?? columns.Length]))!;

    [Test]
    public void OffsetsNotStartingAtZero()
    {
        var e = Invalid(2, 4, [1, 2, 3], [0, 1, 2]);
        Assert.That(e.Message, Does.Contain("row 0").And.Contain("position 0"));
        Assert.That((e.Row, e.Position, e.Array), Is.EqualTo((0, 0L, CsrArray.RowOffsets)));
    }

    [Test]
    public void DecreasingOffsets()
    {
        var e = Invalid(3, 4, [0, 2, 1, 3], [0, 1, 2]);
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("position 2"));
        Assert.That((e.Row, e.Position), Is.EqualTo((1, 2L)));
    }

    [Test]
    public void OffsetsEndingBeforeNnz()
    {
        var e = Invalid(2, 4, [0, 1, 2], [0, 1, 2]);
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("position 2").And.Contain("nnz"));
        Assert.That((e.Row, e.Position), Is.EqualTo((1, 2L)));
    }

    [Test]
    public void OffsetsRunningPastNnz()
    {
        var e = Invalid(2, 4, [0, 1, 4], [0, 1, 2]);
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("position 2"));
        Assert.That((e.Row, e.Position), Is.EqualTo((1, 2L)));
    }

    [Test]
    public void WrongOffsetsLength()
    {
        var e = Invalid(3, 4, [0, 1, 2], [0, 1]);
        Assert.That(e.Message, Does.Contain("length 3").And.Contain("3 rows needs 4"));
        Assert.That(e.Array, Is.EqualTo(CsrArray.RowOffsets));
    }

    [Test]
    public void ValuesLengthDiffersFromColumns()
    {
        var e = Invalid(2, 4, [0, 1, 2], [0, 1], values: 3);
        Assert.That(e.Message, Does.Contain("values have length 3").And.Contain("column indices have length 2"));
    }

    [Test]
    public void NegativeShape()
    {
        var e = Invalid(-1, 4, [0], []);
        Assert.That(e.Message, Does.Contain("-1x4"));
    }

    [TestCase(4)]
    [TestCase(-1)]
    public void ColumnOutOfRange(int bad)
    {
        var e = Invalid(2, 4, [0, 1, 3], [2, 0, bad]);
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("position 2").And.Contain($"{bad}").And.Contain("[0, 4)"));
        Assert.That((e.Row, e.Position, e.Array), Is.EqualTo((1, 2L, CsrArray.ColumnIndices)));
    }

    [Test]
    public void UnsortedColumns()
    {
        var e = Invalid(2, 5, [0, 1, 4], [2, 0, 3, 1]);
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("position 3").And.Contain("not sorted"));
        Assert.That((e.Row, e.Position), Is.EqualTo((1, 3L)));
    }

    [Test]
    public void DuplicateColumns()
    {
        var e = Invalid(3, 5, [0, 1, 1, 4], [2, 0, 3, 3]);
        Assert.That(e.Message, Does.Contain("row 2").And.Contain("position 3").And.Contain("duplicate"));
        Assert.That((e.Row, e.Position), Is.EqualTo((2, 3L)));
    }

    [Test]
    public void ValidMatricesIncludingEmptyOnesConstruct()
    {
        Assert.DoesNotThrow(() => _ = new CsrMatrix(0, 0, [0], [], []));
        Assert.DoesNotThrow(() => _ = new CsrMatrix(3, 0, [0, 0, 0, 0], [], []));
        Assert.DoesNotThrow(() => _ = new CsrMatrix(2, 3, [0, 3, 3], [0, 1, 2], [1, 2, 3]));
    }

    private static IEnumerable<TestCaseData> Shapes()
    {
        yield return new TestCaseData(7, 96, 0.5, 0, false).SetName("Odd 7x96");
        yield return new TestCaseData(50, 30, 0.2, 10, false).SetName("EmptyRows 50x30");
        yield return new TestCaseData(20, 1000, 0.01, 3, true).SetName("LongRow 20x1000");
        yield return new TestCaseData(1, 1, 1.0, 0, false).SetName("OneByOne");
        yield return new TestCaseData(0, 5, 0.5, 0, false).SetName("ZeroRows");
        yield return new TestCaseData(5, 0, 0.5, 0, false).SetName("ZeroCols");
        yield return new TestCaseData(9, 9, 0.0, 0, false).SetName("NoNonzeros");
    }

    [TestCaseSource(nameof(Shapes))]
    public void DenseRoundTrip(int rows, int cols, double density, int emptyRows, bool longRow)
    {
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, rows, cols, density, emptyRows, longRow);
        var dense = a.ToDense();
        Assert.That((dense.Rows, dense.Cols), Is.EqualTo((rows, cols)));
        // Every entry of the dense form is the CSR value or zero, and the nonzero count matches.
        int nonzero = dense.HostData.Count(x => x != 0);
        Assert.That(nonzero, Is.EqualTo(a.Nnz));
        for (int r = 0; r < rows; r++)
            for (int p = a.RowOffsets[r]; p < a.RowOffsets[r + 1]; p++)
                Assert.That(dense[r, a.ColumnIndices[p]], Is.EqualTo(a.Values[p]));
        var back = CsrMatrix.FromDense(dense);
        AssertSame(back, a);
    }

    [Test]
    public void FromDenseSkipsZerosOnly()
    {
        var d = DenseTensor.FromArray(3, 4, [0, 1.5f, 0, -2, 0, 0, 0, 0, float.Epsilon, 0, 0, 3]);
        var a = CsrMatrix.FromDense(d);
        Assert.That(a.RowOffsets, Is.EqualTo(new[] { 0, 2, 2, 4 }));
        Assert.That(a.ColumnIndices, Is.EqualTo(new[] { 1, 3, 0, 3 }));
        Assert.That(a.Values, Is.EqualTo(new[] { 1.5f, -2, float.Epsilon, 3 }));
    }

    [TestCaseSource(nameof(Shapes))]
    public void TransposeMatchesDenseTranspose(int rows, int cols, double density, int emptyRows, bool longRow)
    {
        var rng = TestRng.Fresh();
        var a = TestData.Csr(rng, rows, cols, density, emptyRows, longRow);
        var t = a.Transpose();
        Assert.That((t.Rows, t.Cols, t.Nnz), Is.EqualTo((cols, rows, a.Nnz)));
        var d = a.ToDense(); var td = t.ToDense();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                Assert.That(td[c, r], Is.EqualTo(d[r, c]), $"element ({r}, {c})");
        AssertSame(t.Transpose(), a);
    }

    [Test]
    public void TransposeOfExactPattern()
    {
        var a = TestData.CsrExact(TestRng.Fresh(), 7, 96, 333);
        var t = a.Transpose();
        AssertSame(CsrMatrix.FromDense(Transposed(a.ToDense())), t);
    }

    private static DenseTensor Transposed(DenseTensor d)
    {
        var t = DenseTensor.Zeros(d.Cols, d.Rows);
        for (int r = 0; r < d.Rows; r++) for (int c = 0; c < d.Cols; c++) t[c, r] = d[r, c];
        return t;
    }

    internal static void AssertSame(CsrMatrix actual, CsrMatrix expected)
    {
        Assert.That((actual.Rows, actual.Cols, actual.Nnz), Is.EqualTo((expected.Rows, expected.Cols, expected.Nnz)), "shape and nnz");
        Assert.That(actual.RowOffsets, Is.EqualTo(expected.RowOffsets), "row offsets");
        Assert.That(actual.ColumnIndices, Is.EqualTo(expected.ColumnIndices), "column indices");
        Assert.That(actual.Values, Is.EqualTo(expected.Values), "values");
    }
}
