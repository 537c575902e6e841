using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>cuBLAS bindings (cublas_api.h, checked against CUDA 11.8; values unchanged in 12/13).</summary>
internal static unsafe partial class CublasNative
{
    private const string Lib = NativeLibraries.Cublas;

    public const int CUBLAS_STATUS_SUCCESS = 0;
    public const int CUBLAS_OP_N = 0;
    public const int CUBLAS_OP_T = 1;
    public const int CUBLAS_DEFAULT_MATH = 0;
    public const int CUBLAS_TF32_TENSOR_OP_MATH = 3;
    public const int CUBLAS_COMPUTE_32F = 68;
    public const int CUBLAS_COMPUTE_32F_FAST_TF32 = 77;
    public const int CUBLAS_GEMM_DEFAULT = -1;
    public const int CUDA_R_32F = 0; // library_types.h

    [LibraryImport(Lib)] internal static partial int cublasCreate_v2(out IntPtr handle);
    [LibraryImport(Lib)] internal static partial int cublasDestroy_v2(IntPtr handle);
    [LibraryImport(Lib)] internal static partial int cublasSetStream_v2(IntPtr handle, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cublasGetVersion_v2(IntPtr handle, out int version);
    [LibraryImport(Lib)] internal static partial int cublasSetMathMode(IntPtr handle, int mode);
    [LibraryImport(Lib)] internal static partial int cublasGetProperty(int type, out int value);
    [LibraryImport(Lib)]
    internal static partial int cublasSgemm_v2(IntPtr handle, int transa, int transb, int m, int n, int k,
        float* alpha, ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);
    [LibraryImport(Lib)]
    internal static partial int cublasGemmEx(IntPtr handle, int transa, int transb, int m, int n, int k,
        void* alpha, ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);

    /// <summary>The cublasStatus_t name (cuBLAS 11 has no cublasGetStatusName, so the table is here).</summary>
    public static string StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"unknown cublasStatus_t {status}",
    };

    /// <summary>The loaded library's version as major.minor.patch (cublasGetProperty: works without a GPU).</summary>
    public static string LibraryVersion()
    {
        NativeLibraries.Require(NativeLibraries.Cublas);
        Check(cublasGetProperty(0, out int major), nameof(cublasGetProperty));
        Check(cublasGetProperty(1, out int minor), nameof(cublasGetProperty));
        Check(cublasGetProperty(2, out int patch), nameof(cublasGetProperty));
        return $"{major}.{minor}.{patch}";
    }

    /// <summary>The one check for cuBLAS results.</summary>
    public static void Check(int status, string call)
    {
        if (status != CUBLAS_STATUS_SUCCESS) throw new CublasException(call, status, StatusName(status));
    }

    /// <summary>Column-major SGEMM C = alpha*op(A)*op(B) + beta*C (cuBLAS conventions), FP32 or TF32 tensor-core compute.</summary>
    public static void Sgemm(IntPtr handle, bool transA, bool transB, int m, int n, int k, float alpha, ulong a, int lda, ulong b, int ldb,
        float beta, ulong c, int ldc, bool tf32)
    {
        int opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N, opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
        if (tf32)
            Check(cublasGemmEx(handle, opA, opB, m, n, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c, CUDA_R_32F, ldc,
                CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT), nameof(cublasGemmEx));
        else
            Check(cublasSgemm_v2(handle, opA, opB, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc), nameof(cublasSgemm_v2));
    }
}

/// <summary>A cuBLAS handle, destroyed in its context.</summary>
internal sealed class CublasHandle : SafeHandle
{
    private readonly CudaContextHandle _context;
    // Detach the handle from its stream first: the stream may already be destroyed (device disposed before the handle).
    private static readonly Func<IntPtr, int> s_destroy = h => { CublasNative.cublasSetStream_v2(h, IntPtr.Zero); return CublasNative.cublasDestroy_v2(h); };
    private CublasHandle(CudaContextHandle context) : base(IntPtr.Zero, true) { _context = context; }
    public override bool IsInvalid => handle == IntPtr.Zero;

    public static CublasHandle Create(CudaContextHandle context)
    {
        NativeLibraries.Require(NativeLibraries.Cublas);
        var h = new CublasHandle(context);
        using var scope = context.Enter();
        CublasNative.Check(CublasNative.cublasCreate_v2(out IntPtr p), nameof(CublasNative.cublasCreate_v2));
        ContextBound.AddRef(context);
        h.SetHandle(p);
        return h;
    }

    public CudaContextHandle Context => _context;

    protected override bool ReleaseHandle() => ContextBound.Release(_context, s_destroy, handle);
}
