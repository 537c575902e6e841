// The mask-update schedule of dynamic sparse training (Evci et al. 2020, eq. 1; google-research/rigl
// rigl/sparse_optimizers_base.py SparseSETOptimizerBase.is_mask_update_iter and get_drop_fraction):
// a_t = a/2 (1 + cos(pi t / T_end)) (cosine_decay from a over end_step - begin_step, begin_step = 0), and an update
// every dT steps from t = 0 to t = T_end inclusive (begin_step <= t <= end_step; last_update_step starts at -dT, so
// the first update is at t = 0). At T_end a_t = 0, so that update moves nothing (RigL still skips that weight update).
// SET uses the same schedule (the RigL paper's SET baseline).
// Departs from the reference: our t counts every training step, the mask-update steps included; RigL's global_step
// does not advance on a RigL mask-update iteration, so RigL makes T weight updates plus the mask iterations where we
// make T - (floor(T_end / dT) + 1).
namespace SparseKernels.Sparsity;

internal static class DropSchedule
{
    public static double CosineFraction(double alpha, long t, long tEnd) => tEnd <= 0 ? 0 : alpha / 2 * (1 + Math.Cos(Math.PI * t / tEnd));

    /// <summary>T_end in steps for a run of <paramref name="totalSteps"/>.</summary>
    public static long EndStep(double endFraction, long totalSteps) => (long)Math.Floor(endFraction * totalSteps);

    /// <summary>Whether step t updates the mask: t % dT == 0 and 0 &lt;= t &lt;= T_end.</summary>
    public static bool IsUpdateStep(long t, int every, long tEnd) => t >= 0 && t % every == 0 && t <= tEnd;

    /// <summary>Weights dropped (and grown) in a layer of nnz nonzeros at step t: floor(a_t x nnz).</summary>
    public static long Count(double alpha, long t, long tEnd, long nnz) => (long)Math.Floor(CosineFraction(alpha, t, tEnd) * nnz);
}
