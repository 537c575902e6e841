using NUnit.Framework;

namespace SparseKernels.Tests.Support;

/// <summary>Element-wise comparison |x - ref| &lt;= atol + rtol*|ref| that reports the worst element.</summary>
public static class Approx
{
    public static void AssertAllClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double atol, double rtol, string what, int cols = 0)
    {
        var exp = new double[expected.Length];
        for (int i = 0; i < exp.Length; i++) exp[i] = expected[i];
        AssertAllClose(actual, exp, atol, rtol, what, cols);
    }

    public static void AssertAllClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double atol, double rtol, string what, int cols = 0)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        int worst = -1, bad = 0;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < actual.Length; i++)
        {
            double x = actual[i], r = expected[i];
            double err = Math.Abs(x - r), tol = atol + rtol * Math.Abs(r);
            double excess = double.IsNaN(err) ? double.PositiveInfinity : err - tol;
            if (excess > 0 || double.IsNaN(x) != double.IsNaN(r)) bad++;
            if (excess > worstExcess || worst < 0) { worstExcess = excess; worst = i; }
        }
        if (actual.Length == 0) return;
        string where = cols > 0 ? $"[{worst / cols}, {worst % cols}]" : $"[{worst}]";
        string report = $"{what}: worst element {where}: got {actual[worst]:R}, expected {expected[worst]:R}, |diff| = {Math.Abs(actual[worst] - expected[worst]):G4}, tolerance = {atol + rtol * Math.Abs(expected[worst]):G4} (atol {atol}, rtol {rtol}); {bad} of {actual.Length} elements out of tolerance";
        TestContext.Out.WriteLine(report);
        Assert.That(bad, Is.EqualTo(0), report);
    }
}
