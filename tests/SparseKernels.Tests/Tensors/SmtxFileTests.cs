using NUnit.Framework;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Tensors;

public class SmtxFileTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "sk-smtx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string WriteText(string text)
    {
        string path = Path.Combine(_dir, "m.smtx");
        File.WriteAllText(path, text);
        return path;
    }

    [Test]
    public void ReadsTheFormat()
    {
        string path = WriteText("3, 4, 5\n0 2 2 5 \n1 3 0 1 2\n");
        var a = SmtxFile.Read(path);
        Assert.That((a.Rows, a.Cols, a.Nnz), Is.EqualTo((3, 4, 5)));
        Assert.That(a.RowOffsets, Is.EqualTo(new[] { 0, 2, 2, 5 }));
        Assert.That(a.ColumnIndices, Is.EqualTo(new[] { 1, 3, 0, 1, 2 }));
        Assert.That(a.Values, Is.All.EqualTo(1f));
    }

    [Test]
    public void ReadsWithoutFinalNewlineAndWithCrLf()
    {
        Assert.That(SmtxFile.Read(WriteText("2, 2, 1\n0 1 1\n1")).ColumnIndices, Is.EqualTo(new[] { 1 }));
        Assert.That(SmtxFile.Read(WriteText("2, 2, 1\r\n0 1 1\r\n1\r\n")).ColumnIndices, Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void RandomValuesAreNeverSmallOrZero()
    {
        var a = TestData.Csr(TestRng.Fresh(), 40, 50, 0.3);
        string path = Path.Combine(_dir, "r.smtx");
        SmtxFile.Write(path, a);
        var b = SmtxFile.Read(path, TestRng.Fresh());
        Assert.That(b.Values.Select(Math.Abs), Is.All.InRange(0.05f, 1f));
        Assert.That(b.Values.Any(v => v < 0) && b.Values.Any(v => v > 0), Is.True, "both signs");
    }

    private static IEnumerable<TestCaseData> Patterns()
    {
        yield return new TestCaseData(7, 96, 0.4, 2, false).SetName("Odd 7x96");
        yield return new TestCaseData(60, 30, 0.1, 20, true).SetName("EmptyRows and LongRow");
        yield return new TestCaseData(0, 0, 0.0, 0, false).SetName("Empty 0x0");
        yield return new TestCaseData(5, 8, 0.0, 0, false).SetName("NoNonzeros");
    }

    [TestCaseSource(nameof(Patterns))]
    public void WriteReadRoundTrip(int rows, int cols, double density, int emptyRows, bool longRow)
    {
        var a = TestData.Csr(TestRng.Fresh(), rows, cols, density, emptyRows, longRow);
        string path = Path.Combine(_dir, "rt.smtx");
        SmtxFile.Write(path, a);
        var b = SmtxFile.Read(path);
        CsrMatrixTests.AssertSame(b, a.WithValues(Enumerable.Repeat(1f, a.Nnz).ToArray()));
        var (r, c, ro, ci) = SmtxFile.ReadPattern(path);
        Assert.That((r, c, ro, ci), Is.EqualTo((a.Rows, a.Cols, a.RowOffsets, a.ColumnIndices)));
    }

    [Test]
    public void MissingFile()
    {
        string path = Path.Combine(_dir, "nope.smtx");
        var e = Assert.Throws<SmtxFormatException>(() => SmtxFile.Read(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("not found"));
        Assert.That(e.Path, Is.EqualTo(path));
    }

    // (file text, line, words the message must contain, position on the line or 0, row or -1)
    private static IEnumerable<TestCaseData> BadFiles()
    {
        TestCaseData Case(string name, string text, int line, string word, long position = 0, int row = -1)
            => new TestCaseData(text, line, word, position, row).SetName(name);
        yield return Case("Empty file", "", 1, "truncated");
        yield return Case("Header with two numbers", "3, 4\n0 1 1 1\n2\n", 1, "nnz", 3);
        yield return Case("Header not a number", "3, x4, 1\n0 1 1 1\n2\n", 1, "'x4' is not an integer", 2);
        yield return Case("Header with four numbers", "3, 4, 1, 9\n0 1 1 1\n2\n", 1, "more than the 3", 4);
        yield return Case("Negative size", "-3, 4, 1\n0 1 1 1\n2\n", 1, "negative");
        yield return Case("Nnz larger than the matrix", "2, 2, 5\n0 1 1\n2\n", 1, "more than rows x cols");
        yield return Case("Header only", "3, 4, 1\n", 2, "truncated");
        yield return Case("Truncated offsets line", "3, 4, 2\n0 1 2\n1 2\n", 2, "expected 4 numbers but found 3", 4);
        yield return Case("Too many offsets", "3, 4, 2\n0 1 1 2 2\n1 2\n", 2, "more than the 4", 5);
        yield return Case("Offset not a number", "3, 4, 2\n0 1 1.5 2\n1 2\n", 2, "'1.5' is not an integer", 3);
        yield return Case("Offsets not starting at 0", "3, 4, 2\n1 1 1 2\n1 2\n", 2, "start at 0", 1, 0);
        yield return Case("Offsets decreasing", "3, 4, 2\n0 2 1 2\n1 2 \n", 2, "decrease", 3, 1);
        yield return Case("Offsets past nnz", "3, 4, 2\n0 1 3 2\n1 2\n", 2, "past nnz", 3, 1);
        yield return Case("Last offset not nnz", "3, 4, 3\n0 1 1 2\n1 2 3\n", 2, "last row offset is 2", 4, 2);
        yield return Case("Offset too large", "3, 4, 2\n0 99999999999 1 2\n1 2\n", 2, "too large", 2);
        yield return Case("Missing column line", "3, 4, 2\n0 1 1 2\n", 3, "truncated");
        yield return Case("Truncated column line", "3, 4, 3\n0 1 1 3\n1 2\n", 3, "expected 3 numbers but found 2", 3, 2);
        yield return Case("Too many columns", "3, 4, 2\n0 1 1 2\n1 2 3\n", 3, "more than the 2", 3);
        yield return Case("Column not a number", "3, 4, 3\n0 1 1 3\n1 0 abc\n", 3, "'abc' is not an integer", 3, 2);
        yield return Case("Column out of range", "3, 4, 3\n0 1 1 3\n1 0 4\n", 3, "out of range [0, 4)", 3, 2);
        yield return Case("Negative column", "3, 4, 3\n0 1 1 3\n1 -1 2\n", 3, "out of range", 2, 2);
        yield return Case("Unsorted columns", "3, 4, 4\n0 1 1 4\n1 0 3 2\n", 3, "not sorted", 4, 2);
        yield return Case("Duplicate columns", "3, 4, 4\n0 1 1 4\n1 0 2 2\n", 3, "duplicate", 4, 2);
        yield return Case("Content after the last line", "3, 4, 2\n0 1 1 2\n1 2\n\n7\n", 5, "unexpected content");
    }

    [TestCaseSource(nameof(BadFiles))]
    public void BadFileNamesFileLineAndPosition(string text, int line, string word, long position, int row)
    {
        string path = WriteText(text);
        var e = Assert.Throws<SmtxFormatException>(() => SmtxFile.Read(path))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain(path).And.Contain($"line {line}").And.Contain(word));
        Assert.That(e.Line, Is.EqualTo(line), "line");
        if (position > 0)
        {
            Assert.That(e.Position, Is.EqualTo(position), "position");
            Assert.That(e.Message, Does.Contain($"number {position}"));
        }
        if (row >= 0)
        {
            Assert.That(e.Row, Is.EqualTo(row), "row");
            Assert.That(e.Message, Does.Contain($"row {row}"));
        }
    }

    [TestCaseSource(typeof(Dlmc), nameof(Dlmc.Files))]
    public void ReadsEveryDlmcFile(string relative)
    {
        string path = Dlmc.PathOf(relative);
        var header = File.ReadLines(path).First().Split(',').Select(s => int.Parse(s.Trim())).ToArray();
        var a = SmtxFile.Read(path, TestRng.Fresh());
        Assert.That((a.Rows, a.Cols, a.Nnz), Is.EqualTo((header[0], header[1], header[2])));
        Assert.That(a.Values.Select(Math.Abs), Is.All.InRange(0.05f, 1f));
        // The folder name is the target sparsity.
        if (double.TryParse(Path.GetFileName(Path.GetDirectoryName(path)), System.Globalization.CultureInfo.InvariantCulture, out double target))
            Assert.That(a.Sparsity, Is.EqualTo(target).Within(0.01), "sparsity vs folder name");
        TestContext.Out.WriteLine(a.ToString());
    }

    [Test]
    public void DlmcFileRoundTrips()
    {
        string path = Dlmc.PathOf("transformer/magnitude_pruning/0.9/body_encoder_layer_0_ffn_conv1_fully_connected.smtx");
        var a = SmtxFile.Read(path);
        string copy = Path.Combine(_dir, "copy.smtx");
        SmtxFile.Write(copy, a);
        CsrMatrixTests.AssertSame(SmtxFile.Read(copy), a);
    }
}
