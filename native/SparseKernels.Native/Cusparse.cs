using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>cuSPARSE generic-API bindings (cusparse.h, checked against CUDA 11.8; values unchanged in 12).</summary>
internal static unsafe partial class CusparseNative
{
    private const string Lib = NativeLibraries.Cusparse;

    public const int CUSPARSE_STATUS_SUCCESS = 0;
    public const int CUSPARSE_INDEX_32I = 2;
    public const int CUSPARSE_INDEX_BASE_ZERO = 0;
    public const int CUSPARSE_ORDER_COL = 1;
    public const int CUSPARSE_ORDER_ROW = 2;
    public const int CUSPARSE_OPERATION_NON_TRANSPOSE = 0;
    public const int CUSPARSE_OPERATION_TRANSPOSE = 1;
    public const int CUSPARSE_SPMM_ALG_DEFAULT = 0;
    public const int CUSPARSE_SPMM_CSR_ALG1 = 4;
    public const int CUSPARSE_SPMM_CSR_ALG2 = 6;
    public const int CUSPARSE_SPMM_CSR_ALG3 = 12;
    public const int CUSPARSE_SDDMM_ALG_DEFAULT = 0;
    public const int CUDA_R_32F = 0;

    [LibraryImport(Lib)] internal static partial int cusparseCreate(out IntPtr handle);
    [LibraryImport(Lib)] internal static partial int cusparseDestroy(IntPtr handle);
    [LibraryImport(Lib)] internal static partial int cusparseSetStream(IntPtr handle, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cusparseGetVersion(IntPtr handle, out int version);
    [LibraryImport(Lib)] internal static partial int cusparseGetProperty(int type, out int value);
    [LibraryImport(Lib)]
    internal static partial int cusparseCreateCsr(out IntPtr descr, long rows, long cols, long nnz,
        ulong rowOffsets, ulong colInd, ulong values, int rowOffsetsType, int colIndType, int idxBase, int valueType);
    [LibraryImport(Lib)] internal static partial int cusparseDestroySpMat(IntPtr descr);
    [LibraryImport(Lib)] internal static partial int cusparseCreateDnMat(out IntPtr descr, long rows, long cols, long ld, ulong values, int valueType, int order);
    [LibraryImport(Lib)] internal static partial int cusparseDestroyDnMat(IntPtr descr);
    [LibraryImport(Lib)]
    internal static partial int cusparseSpMM_bufferSize(IntPtr handle, int opA, int opB, void* alpha, IntPtr matA, IntPtr matB,
        void* beta, IntPtr matC, int computeType, int alg, out nuint bufferSize);
    [LibraryImport(Lib)]
    internal static partial int cusparseSpMM(IntPtr handle, int opA, int opB, void* alpha, IntPtr matA, IntPtr matB,
        void* beta, IntPtr matC, int computeType, int alg, ulong externalBuffer);
    [LibraryImport(Lib)]
    internal static partial int cusparseSpMM_preprocess(IntPtr handle, int opA, int opB, void* alpha, IntPtr matA, IntPtr matB,
        void* beta, IntPtr matC, int computeType, int alg, ulong externalBuffer);
    [LibraryImport(Lib)]
    internal static partial int cusparseSDDMM_bufferSize(IntPtr handle, int opA, int opB, void* alpha, IntPtr matA, IntPtr matB,
        void* beta, IntPtr matC, int computeType, int alg, out nuint bufferSize);
    [LibraryImport(Lib)]
    internal static partial int cusparseSDDMM_preprocess(IntPtr handle, int opA, int opB, void* alpha, IntPtr matA, IntPtr matB,
        void* beta, IntPtr matC, int computeType, int alg, ulong externalBuffer);
    [LibraryImport(Lib)]
    internal static partial int cusparseSDDMM(IntPtr handle, int opA, int opB, void* alpha, IntPtr matA, IntPtr matB,
        void* beta, IntPtr matC, int computeType, int alg, ulong externalBuffer);
    [LibraryImport(Lib)] internal static partial IntPtr cusparseGetErrorName(int status);
    [LibraryImport(Lib)] internal static partial IntPtr cusparseGetErrorString(int status);

    /// <summary>The loaded library's version as major.minor.patch (cusparseGetProperty: works without a GPU).</summary>
    public static string LibraryVersion()
    {
        NativeLibraries.Require(NativeLibraries.Cusparse);
        Check(cusparseGetProperty(0, out int major), nameof(cusparseGetProperty));
        Check(cusparseGetProperty(1, out int minor), nameof(cusparseGetProperty));
        Check(cusparseGetProperty(2, out int patch), nameof(cusparseGetProperty));
        return $"{major}.{minor}.{patch}";
    }

    /// <summary>The one check for cuSPARSE results, with cuSPARSE's own name and description of the status.</summary>
    public static void Check(int status, string call)
    {
        if (status == CUSPARSE_STATUS_SUCCESS) return;
        string name = Marshal.PtrToStringUTF8(cusparseGetErrorName(status)) ?? $"cusparseStatus_t {status}";
        string? description = Marshal.PtrToStringUTF8(cusparseGetErrorString(status));
        throw new CusparseException(call, status, name, description);
    }

    /// <summary>C = alpha*op(A)*B + beta*C, FP32, with the given workspace (query its size with <see cref="SpmmBufferSize"/>).</summary>
    public static long SpmmBufferSize(IntPtr handle, bool transA, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, int alg)
    {
        Check(cusparseSpMM_bufferSize(handle, Op(transA), CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, a, b, &beta, c, CUDA_R_32F, alg, out nuint size),
            nameof(cusparseSpMM_bufferSize));
        return (long)size;
    }

    public static void Spmm(IntPtr handle, bool transA, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, int alg, ulong buffer)
        => Check(cusparseSpMM(handle, Op(transA), CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, a, b, &beta, c, CUDA_R_32F, alg, buffer), nameof(cusparseSpMM));

    /// <summary>cusparseSpMM_preprocess: analyses A once for later SpMM calls with the same operands (CSR ALG3 uses it).</summary>
    public static void SpmmPreprocess(IntPtr handle, bool transA, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, int alg, ulong buffer)
        => Check(cusparseSpMM_preprocess(handle, Op(transA), CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, a, b, &beta, c, CUDA_R_32F, alg, buffer),
            nameof(cusparseSpMM_preprocess));

    /// <summary>cusparseSDDMM_preprocess alone (once per pattern and operands); then <see cref="SddmmCompute"/> per product.</summary>
    public static void SddmmPreprocess(IntPtr handle, bool transA, bool transB, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, ulong buffer)
        => Check(cusparseSDDMM_preprocess(handle, Op(transA), Op(transB), &alpha, a, b, &beta, c, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, buffer),
            nameof(cusparseSDDMM_preprocess));

    /// <summary>cusparseSDDMM alone, after <see cref="SddmmPreprocess"/> with the same operands and buffer.</summary>
    public static void SddmmCompute(IntPtr handle, bool transA, bool transB, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, ulong buffer)
        => Check(cusparseSDDMM(handle, Op(transA), Op(transB), &alpha, a, b, &beta, c, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, buffer), nameof(cusparseSDDMM));

    /// <summary>SDDMM: C = alpha*(op(A)*op(B)) sampled at C's pattern + beta*C.</summary>
    public static long SddmmBufferSize(IntPtr handle, bool transA, bool transB, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta)
    {
        Check(cusparseSDDMM_bufferSize(handle, Op(transA), Op(transB), &alpha, a, b, &beta, c, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, out nuint size),
            nameof(cusparseSDDMM_bufferSize));
        return (long)size;
    }

    public static void Sddmm(IntPtr handle, bool transA, bool transB, IntPtr a, IntPtr b, IntPtr c, float alpha, float beta, ulong buffer)
    {
        Check(cusparseSDDMM_preprocess(handle, Op(transA), Op(transB), &alpha, a, b, &beta, c, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, buffer),
            nameof(cusparseSDDMM_preprocess));
        Check(cusparseSDDMM(handle, Op(transA), Op(transB), &alpha, a, b, &beta, c, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, buffer), nameof(cusparseSDDMM));
    }

    private static int Op(bool transpose) => transpose ? CUSPARSE_OPERATION_TRANSPOSE : CUSPARSE_OPERATION_NON_TRANSPOSE;
}

/// <summary>A cuSPARSE handle, destroyed in its context.</summary>
internal sealed class CusparseHandle : SafeHandle
{
    private readonly CudaContextHandle _context;
    // Detach the handle from its stream first: the stream may already be destroyed (device disposed before the handle).
    private static readonly Func<IntPtr, int> s_destroy = h => { CusparseNative.cusparseSetStream(h, IntPtr.Zero); return CusparseNative.cusparseDestroy(h); };
    private CusparseHandle(CudaContextHandle context) : base(IntPtr.Zero, true) { _context = context; }
    public override bool IsInvalid => handle == IntPtr.Zero;
    public CudaContextHandle Context => _context;

    public static CusparseHandle Create(CudaContextHandle context)
    {
        NativeLibraries.Require(NativeLibraries.Cusparse);
        var h = new CusparseHandle(context);
        using var scope = context.Enter();
        CusparseNative.Check(CusparseNative.cusparseCreate(out IntPtr p), nameof(CusparseNative.cusparseCreate));
        ContextBound.AddRef(context);
        h.SetHandle(p);
        return h;
    }

    protected override bool ReleaseHandle() => ContextBound.Release(_context, s_destroy, handle);
}

/// <summary>A cuSPARSE sparse-matrix descriptor (a host object: destroyed without a context).</summary>
internal sealed class CusparseSpMatHandle : SafeHandle
{
    public CusparseSpMatHandle() : base(IntPtr.Zero, true) { }
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>A 32-bit-index, zero-based FP32 CSR descriptor over device arrays.</summary>
    public static CusparseSpMatHandle Csr(long rows, long cols, long nnz, DevicePtr rowOffsets, DevicePtr columnIndices, DevicePtr values)
    {
        var h = new CusparseSpMatHandle();
        CusparseNative.Check(CusparseNative.cusparseCreateCsr(out IntPtr d, rows, cols, nnz, rowOffsets.Address, columnIndices.Address, values.Address,
            CusparseNative.CUSPARSE_INDEX_32I, CusparseNative.CUSPARSE_INDEX_32I, CusparseNative.CUSPARSE_INDEX_BASE_ZERO, CusparseNative.CUDA_R_32F),
            nameof(CusparseNative.cusparseCreateCsr));
        h.SetHandle(d);
        return h;
    }

    protected override bool ReleaseHandle() => CusparseNative.cusparseDestroySpMat(handle) == 0;
}

/// <summary>A cuSPARSE dense-matrix descriptor (host object).</summary>
internal sealed class CusparseDnMatHandle : SafeHandle
{
    public CusparseDnMatHandle() : base(IntPtr.Zero, true) { }
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>A row-major FP32 dense matrix (leading dimension = cols, at least 1).</summary>
    public static CusparseDnMatHandle RowMajor(long rows, long cols, DevicePtr values)
    {
        var h = new CusparseDnMatHandle();
        CusparseNative.Check(CusparseNative.cusparseCreateDnMat(out IntPtr d, rows, cols, Math.Max(1, cols), values.Address, CusparseNative.CUDA_R_32F,
            CusparseNative.CUSPARSE_ORDER_ROW), nameof(CusparseNative.cusparseCreateDnMat));
        h.SetHandle(d);
        return h;
    }

    protected override bool ReleaseHandle() => CusparseNative.cusparseDestroyDnMat(handle) == 0;
}
