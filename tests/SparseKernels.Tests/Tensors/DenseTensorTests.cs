using NUnit.Framework;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Tensors;

public class DenseTensorTests
{
    [TestCase(7, 96)]
    [TestCase(1, 1)]
    [TestCase(33, 65)]
    [TestCase(0, 5)]
    [TestCase(5, 0)]
    public void TransposeSwapsIndices(int rows, int cols)
    {
        var d = TestData.Dense(TestRng.Fresh(), rows, cols);
        var t = d.Transpose();
        Assert.That((t.Rows, t.Cols), Is.EqualTo((cols, rows)));
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                Assert.That(t[c, r], Is.EqualTo(d[r, c]), $"element ({r}, {c})");
        Assert.That(t.Transpose().HostData, Is.EqualTo(d.HostData));
    }

    [Test]
    public void DenseToCsrToDenseKeepsEveryValue()
    {
        var rng = TestRng.Fresh();
        var d = TestData.Dense(rng, 13, 29);
        for (int i = 0; i < d.HostData.Length; i += 3) d.HostData[i] = 0; // a third of the entries are zero
        var back = CsrMatrix.FromDense(d).ToDense();
        Assert.That(back.HostData, Is.EqualTo(d.HostData));
    }
}
