using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Embedding;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>The cached row swizzle of the V2/V3 kernels on device matrices whose pattern changes in place (wrapped CSR).</summary>
[Category("Gpu")]
public class RowSwizzleTests
{
    /// <summary>Two patterns of the same shape and nonzero count with different row-length orders.</summary>
    private static (CsrMatrix First, CsrMatrix Second) TwoPatterns(Random rng)
    {
        // First: row 0 long, the others short. Second: the same nnz with row 5 long and row 0 empty.
        int[] lengths1 = [9, 1, 2, 0, 3, 1, 2];
        int[] lengths2 = [0, 2, 1, 3, 1, 9, 2];
        return (Build(rng, lengths1, 12), Build(rng, lengths2, 12));
    }

    private static CsrMatrix Build(Random rng, int[] lengths, int cols)
    {
        var offsets = new int[lengths.Length + 1];
        var columns = new List<int>();
        for (int r = 0; r < lengths.Length; r++)
        {
            offsets[r + 1] = offsets[r] + lengths[r];
            columns.AddRange(Enumerable.Range(0, cols).OrderBy(_ => rng.Next()).Take(lengths[r]).Order());
        }
        var values = columns.Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return new CsrMatrix(lengths.Length, cols, offsets, columns.ToArray(), values);
    }

    /// <summary>Overwrites the wrapped arrays (owned by "another framework") with <paramref name="p"/>'s pattern and values.</summary>
    private static void OverwriteInPlace(CsrMatrix owner, CsrMatrix p)
    {
        owner.DeviceRowOffsets.CopyFrom(p.RowOffsets);
        owner.DeviceColumnIndices.CopyFrom(p.ColumnIndices);
        owner.DeviceValues.CopyFrom(p.Values);
    }

    private static CsrMatrix Wrap(IDevice device, CsrMatrix owner) =>
        External.WrapCsr(device, owner.Rows, owner.Cols, owner.Nnz, External.AddressOf(owner.DeviceRowOffsets),
            External.AddressOf(owner.DeviceColumnIndices), External.AddressOf(owner.DeviceValues));

    [Test]
    public void WrappedPatternChangedInPlaceGetsAFreshSwizzleAfterNotify()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var (first, second) = TwoPatterns(rng);
        using var owner = first.ToDevice(device);
        using var view = Wrap(device, owner);
        Assert.That(RowSwizzle.For(view).ToArray(), Is.EqualTo(RowSwizzle.Order(first.RowOffsets)), "the first pattern's order");

        OverwriteInPlace(owner, second);
        view.NotifyPatternChanged();
        Assert.That(RowSwizzle.For(view).ToArray(), Is.EqualTo(RowSwizzle.Order(second.RowOffsets)), "the order of the pattern written in place");
        Assert.That(RowSwizzle.Order(second.RowOffsets), Is.Not.EqualTo(RowSwizzle.Order(first.RowOffsets)), "the test's patterns order differently");
    }

    [Test]
    public void SwizzleIsReusedWhileThePatternIsUnchanged()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var (first, _) = TwoPatterns(rng);
        using var a = first.ToDevice(device);
        var s1 = RowSwizzle.For(a);
        a.DeviceValues.CopyFrom(first.Values.Select(v => -v).ToArray());   // values only: no notification needed
        Assert.That(RowSwizzle.For(a), Is.SameAs(s1));
        a.NotifyPatternChanged();
        var s2 = RowSwizzle.For(a);
        Assert.That(s2.ToArray(), Is.EqualTo(RowSwizzle.Order(first.RowOffsets)));
    }

    [TestCase(SpmmCsrVersion.V2, SddmmCsrVersion.V2)]
    [TestCase(SpmmCsrVersion.V3, SddmmCsrVersion.V3)]
    public void KernelsOnAWrappedMatrixFollowAnInPlacePatternChange(SpmmCsrVersion spmm, SddmmCsrVersion sddmm)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var (first, second) = TwoPatterns(rng);
        var b = TestData.Dense(rng, first.Cols, 8);
        var x = TestData.Dense(rng, first.Rows, 20);
        var y = TestData.Dense(rng, first.Cols, 20);
        using var owner = first.ToDevice(device);
        using var view = Wrap(device, owner);
        using var dB = b.ToDevice(device);
        using var dX = x.ToDevice(device);
        using var dY = y.ToDevice(device);
        using var dC = DenseTensor.Allocate(device, first.Rows, 8);
        using var dOut = device.Allocate<float>(first.Nnz);
        var (atol, rtol) = OpsTestSupport.DotTolerance(20);

        foreach (var (p, notify) in new[] { (first, false), (second, true), (first, false) })
        {
            // The third round changes the pattern back without a notification: the stale order is still a
            // permutation of the rows, so the results stay correct (only the balance is the old pattern's).
            OverwriteInPlace(owner, p);
            if (notify) view.NotifyPatternChanged();
            device.Fill32(dC.DeviceData, TestDevice.PoisonBits);
            device.Fill32(dOut, TestDevice.PoisonBits);
            SpmmCsr.Run(device, view, dB, dC, spmm);
            SddmmCsr.Run(device, dX, dY, view, dOut, sddmm);
            Approx.AssertAllClose(dC.ToArray(), CpuReference.SpmmCsr(p, b).HostData, atol, rtol, $"spmm {spmm} after in-place change (notified {notify})", 8);
            Approx.AssertAllClose(dOut.ToArray(), CpuReference.SddmmCsr(p, x, y).Values, atol, rtol, $"sddmm {sddmm} after in-place change (notified {notify})");
        }
    }
}
