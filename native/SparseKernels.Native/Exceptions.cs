namespace SparseKernels.Native;

/// <summary>A CUDA driver call failed. Carries the call, the result code and the driver's name and description of it.</summary>
public class CudaException : Exception
{
    /// <summary>The driver function that failed, e.g. <c>cuMemAlloc_v2</c>.</summary>
    public string Call { get; }
    /// <summary>The <c>CUresult</c> the call returned (never 0, <c>CUDA_SUCCESS</c>).</summary>
    public int Code { get; }
    /// <summary>The driver's name for <see cref="Code"/>, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</summary>
    public string ErrorName { get; }

    /// <summary>Creates the exception for a failed driver call; the message joins the call, the code with its name and description, and <paramref name="detail"/> on a new line when given.</summary>
    public CudaException(string call, int code, string errorName, string description, string? detail = null)
        : base($"{call} failed: {errorName} ({code}): {description}" + (detail is null ? "" : Environment.NewLine + detail))
    {
        Call = call; Code = code; ErrorName = errorName;
    }
}

/// <summary>A cuBLAS call failed.</summary>
public class CublasException : Exception
{
    /// <summary>The cuBLAS function that failed, e.g. <c>cublasSgemm_v2</c>.</summary>
    public string Call { get; }
    /// <summary>The <c>cublasStatus_t</c> the call returned (never 0, <c>CUBLAS_STATUS_SUCCESS</c>).</summary>
    public int Status { get; }
    /// <summary>Creates the exception for a failed cuBLAS call; the message names the call and the status with its name.</summary>
    public CublasException(string call, int status, string statusName)
        : base($"{call} failed: {statusName} ({status})") { Call = call; Status = status; }
}

/// <summary>A cuSPARSE call failed.</summary>
public class CusparseException : Exception
{
    /// <summary>The cuSPARSE function that failed, e.g. <c>cusparseSpMM</c>.</summary>
    public string Call { get; }
    /// <summary>The <c>cusparseStatus_t</c> the call returned (never 0, <c>CUSPARSE_STATUS_SUCCESS</c>).</summary>
    public int Status { get; }
    /// <summary>Creates the exception for a failed cuSPARSE call; the message names the call, the status with its name and, when given, cuSPARSE's description of it.</summary>
    public CusparseException(string call, int status, string statusName, string? description = null)
        : base($"{call} failed: {statusName} ({status})" + (description is null ? "" : ": " + description)) { Call = call; Status = status; }
}

/// <summary>
/// No usable CUDA: the driver library is missing, it is too old, there is no device, or a CUDA library
/// (cuBLAS, cuSPARSE) cannot be loaded. The message says which and why.
/// </summary>
public class CudaUnavailableException : Exception
{
    /// <summary>Creates the exception with a message that says what is missing and why; <paramref name="inner"/> is the load or driver error behind it, if any.</summary>
    public CudaUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// An MPI call failed, or MPI cannot be used (its library is missing, the process was not started by mpirun). Carries
/// the call and MPI's error code with its text.
/// </summary>
public class MpiException : Exception
{
    /// <summary>The MPI function that failed, e.g. <c>MPI_Allreduce</c> (or <c>load</c> / <c>launch</c> when MPI cannot be used).</summary>
    public string Call { get; }
    /// <summary>The MPI error code (-1 when no MPI call was made).</summary>
    public int Code { get; }
    /// <summary>Creates the exception; the message names the call and the code with MPI's text for it.</summary>
    public MpiException(string call, int code, string text)
        : base(code < 0 ? text : $"{call} failed: MPI error {code}: {text}") { Call = call; Code = code; }
}

/// <summary>An NCCL call failed, or NCCL cannot be used (libnccl.so.2 is missing). Carries the call and the ncclResult_t
/// with NCCL's text.</summary>
public class NcclException : Exception
{
    /// <summary>The NCCL function that failed, e.g. <c>ncclAllReduce</c>.</summary>
    public string Call { get; }
    /// <summary>The <c>ncclResult_t</c> (never 0, <c>ncclSuccess</c>; -1 when the library could not be loaded).</summary>
    public int Result { get; }
    /// <summary>Creates the exception; the message names the call and the result with NCCL's text for it.</summary>
    public NcclException(string call, int result, string text)
        : base(result < 0 ? text : $"{call} failed: ncclResult_t {result}: {text}") { Call = call; Result = result; }
}
