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
