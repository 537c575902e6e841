using System.Runtime.CompilerServices;
using SparseKernels.Runtime;

namespace SparseKernels.Ops;

/// <summary>The kernels the launchers in <see cref="SparseKernels.Ops"/> use, by index into <see cref="KernelCache"/>.</summary>
internal enum KernelId
{
    SpmmCsrV1,
    SddmmCsrV1,
    SpmmCsrV2Scalar,
    SpmmCsrV2Vec4,
    SddmmCsrV2Scalar,
    SddmmCsrV2Vec4,
    MaskedGemmV1,
    ElementwiseAdd,
    ElementwiseMul,
    ElementwiseScale,
    ElementwiseAxpy,
    ElementwiseRelu,
    ElementwiseReluBackward,
    ElementwiseAddRowBias,
    ElementwiseFill,
    TopkSelectKeysV1,
    TopkSelectHistogramV1,
    TopkSelectMarkV1,
    TopkSelectTileCountsV1,
    TopkSelectCompactV1,
    GradientGrowScoresV1,
    GrowExcludePresentV1,
    GrowGatherV1,
    RandomGrowScoresV1,
    CsrRebuildRowOffsetsV1,
    CsrRebuildMergeV1,
    DeviceSortBitonicStepV1,
    MaskCsrRowCountsV1,
    MaskCsrFillV1,
    MaskFromCsrV1,
    SpmmCsrV3Scalar,
    SpmmCsrV3Vec4,
    SddmmCsrV3Scalar,
    SddmmCsrV3Vec4,
    MaskedGemmV2,
    TopkSelectHistogramV2,
}

/// <summary>
/// Per-device cache of <see cref="Kernel"/> handles: the first launch of a kernel on a device looks it
/// up with <see cref="IDevice.GetKernel"/>, later launches read an array slot (no allocation, no
/// string lookup). Keyed weakly by the device object, so a disposed and collected device drops its entry.
/// </summary>
internal static class KernelCache
{
    /// <summary>The extern "C" names, indexed by <see cref="KernelId"/>.</summary>
    internal static readonly string[] Names =
    [
        "spmm_csr_v1",
        "sddmm_csr_v1",
        "spmm_csr_v2_scalar",
        "spmm_csr_v2_vec4",
        "sddmm_csr_v2_scalar",
        "sddmm_csr_v2_vec4",
        "masked_gemm_v1",
        "elementwise_add",
        "elementwise_mul",
        "elementwise_scale",
        "elementwise_axpy",
        "elementwise_relu",
        "elementwise_relu_backward",
        "elementwise_add_row_bias",
        "elementwise_fill",
        "topk_select_keys_v1",
        "topk_select_histogram_v1",
        "topk_select_mark_v1",
        "topk_select_tile_counts_v1",
        "topk_select_compact_v1",
        "gradient_grow_scores_v1",
        "grow_exclude_present_v1",
        "grow_gather_v1",
        "random_grow_scores_v1",
        "csr_rebuild_row_offsets_v1",
        "csr_rebuild_merge_v1",
        "device_sort_bitonic_step_v1",
        "mask_csr_row_counts_v1",
        "mask_csr_fill_v1",
        "mask_from_csr_v1",
        "spmm_csr_v3_scalar",
        "spmm_csr_v3_vec4",
        "sddmm_csr_v3_scalar",
        "sddmm_csr_v3_vec4",
        "masked_gemm_v2",
        "topk_select_histogram_v2",
    ];

    private static readonly ConditionalWeakTable<IDevice, Kernel?[]> s_tables = new();

    public static Kernel Get(IDevice device, KernelId id)
    {
        if (!s_tables.TryGetValue(device, out var table))
            table = s_tables.GetValue(device, static _ => new Kernel?[Names.Length]);
        // A race between two first launches looks the kernel up twice; both get the same handle.
        return table[(int)id] ??= device.GetKernel(Names[(int)id]);
    }
}
