using NUnit.Framework;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Cpu;

/// <summary>Shared shapes and naive dense computations for the CPU reference and backend tests.</summary>
public static class CpuCases
{
    /// <summary>A sparse operand: MxK CSR, plus the dense width N of the other operand.</summary>
    public sealed record SparseCase(string Name, Func<Random, CsrMatrix> Make, int N)
    {
        public override string ToString() => Name;
    }

    private static readonly SparseCase[] s_sparse =
    [
        new("Odd 7x96 nnz333 N40", r => TestData.CsrExact(r, 7, 96, 333), 40),
        new("EmptyRows 50x30 N17", r => TestData.Csr(r, 50, 30, 0.2, emptyRows: 10), 17),
        new("LongRow 20x1000 N9", r => TestData.Csr(r, 20, 1000, 0.01, emptyRows: 3, longRow: true), 9),
        new("N1 33x45", r => TestData.Csr(r, 33, 45, 0.3), 1),
        new("Wide N67 19x23", r => TestData.Csr(r, 19, 23, 0.4), 67),
        new("N37 64x64 dense", r => TestData.Csr(r, 64, 64, 1.0), 37),
        new("ZeroRows 0x10 N5", r => TestData.Csr(r, 0, 10, 0.5), 5),
        new("ZeroK 6x0 N5", r => TestData.Csr(r, 6, 0, 0.5), 5),
        new("ZeroN 6x7 N0", r => TestData.Csr(r, 6, 7, 0.5), 0),
        new("NoNonzeros 12x9 N8", r => TestData.Csr(r, 12, 9, 0.0), 8),
        new("Big 300x200 N33", r => TestData.Csr(r, 300, 200, 0.05, emptyRows: 30, longRow: true), 33),
    ];

    public static IEnumerable<TestCaseData> Sparse() => s_sparse.Select(c => new TestCaseData(c).SetName(c.Name));

    /// <summary>Every DLMC file with a small N (kept small so the suite stays fast).</summary>
    public static IEnumerable<TestCaseData> Dlmc() => Support.Dlmc.Files().Select(f => new TestCaseData(f).SetName(f));

    /// <summary>Naive dense C = op(A) op(B) in double, from row-major arrays.</summary>
    public static double[] DenseProduct(DenseTensor a, DenseTensor b, bool ta = false, bool tb = false)
    {
        int m = ta ? a.Cols : a.Rows, k = ta ? a.Rows : a.Cols, n = tb ? b.Rows : b.Cols;
        var c = new double[(long)m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)(ta ? a[p, i] : a[i, p]) * (tb ? b[j, p] : b[p, j]);
                c[(long)i * n + j] = s;
            }
        return c;
    }

    public static DenseTensor Transposed(DenseTensor d)
    {
        var t = DenseTensor.Zeros(d.Cols, d.Rows);
        for (int r = 0; r < d.Rows; r++) for (int c = 0; c < d.Cols; c++) t[c, r] = d[r, c];
        return t;
    }

    /// <summary>Expected SDDMM values in double: for each nonzero (i, j), dot(X[i,:], Y[j,:]), via dense X.Y^T.</summary>
    public static double[] SddmmExpected(CsrMatrix pattern, DenseTensor x, DenseTensor y)
    {
        var full = DenseProduct(x, y, tb: true);
        var v = new double[pattern.Nnz];
        for (int i = 0; i < pattern.Rows; i++)
            for (int p = pattern.RowOffsets[i]; p < pattern.RowOffsets[i + 1]; p++)
                v[p] = full[(long)i * pattern.Cols + pattern.ColumnIndices[p]];
        return v;
    }

    public static IEnumerable<TestCaseData> MatmulShapes()
    {
        int[][] shapes = [[7, 5, 3], [1, 1, 1], [37, 53, 29], [4, 300, 33], [33, 17, 520], [0, 5, 4], [5, 0, 4], [5, 4, 0], [65, 260, 18],
            // a . b^T with a long reduction (GemmNt: several 4096-parts, odd tiles, a tail shorter than a vector) and short, wide
            // products split over columns (a convolution's W . col)
            [20, 9001, 25], [3, 4100, 130], [50, 1030, 7], [20, 25, 1500], [45, 300, 1100]];
        foreach (var s in shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    yield return new TestCaseData(s[0], s[1], s[2], ta, tb).SetName($"DenseGemm {s[0]}x{s[1]}x{s[2]} ta={ta} tb={tb}");
    }

    public static IEnumerable<int> Lengths() => [0, 1, 7, 8, 33, 1000, 300_001];
}
