// The drop fraction of dynamic sparse training (Evci et al. 2020, eq. 1): a_t = a/2 (1 + cos(pi t / T_end)) for
// t < T_end, mask updates every dT steps (t > 0, t % dT == 0), none from T_end on. SET uses the same schedule here
// (as in the RigL paper's SET baseline).
namespace SparseKernels.Sparsity;

public static class DropSchedule
{
    public static double CosineFraction(double alpha, long t, long tEnd) => tEnd <= 0 ? 0 : alpha / 2 * (1 + Math.Cos(Math.PI * t / tEnd));

    /// <summary>T_end in steps for a run of <paramref name="totalSteps"/>.</summary>
    public static long EndStep(double endFraction, long totalSteps) => (long)Math.Floor(endFraction * totalSteps);

    public static bool IsUpdateStep(long t, int every, long tEnd) => t > 0 && t % every == 0 && t < tEnd;

    /// <summary>Weights dropped (and grown) in a layer of nnz nonzeros at step t: floor(a_t x nnz).</summary>
    public static long Count(double alpha, long t, long tEnd, long nnz) => (long)Math.Floor(CosineFraction(alpha, t, tEnd) * nnz);
}
