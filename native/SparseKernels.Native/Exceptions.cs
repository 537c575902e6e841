namespace SparseKernels.Native;

/// <summary>A CUDA driver call failed. Carries the call, the result code and the driver's name and description of it.</summary>
public class CudaException : Exception
{
    public string Call { get; }
    public int Code { get; }
    public string ErrorName { get; }

    public CudaException(string call, int code, string errorName, string description, string? detail = null)
        : base($"{call} failed: {errorName} ({code}): {description}" + (detail is null ? "" : Environment.NewLine + detail))
    {
        Call = call; Code = code; ErrorName = errorName;
    }
}

/// <summary>A cuBLAS call failed.</summary>
public class CublasException : Exception
{
    public string Call { get; }
    public int Status { get; }
    public CublasException(string call, int status, string statusName)
        : base($"{call} failed: {statusName} ({status})") { Call = call; Status = status; }
}

/// <summary>A cuSPARSE call failed.</summary>
public class CusparseException : Exception
{
    public string Call { get; }
    public int Status { get; }
    public CusparseException(string call, int status, string statusName, string? description = null)
        : base($"{call} failed: {statusName} ({status})" + (description is null ? "" : ": " + description)) { Call = call; Status = status; }
}

/// <summary>
/// No usable CUDA: the driver library is missing, it is too old, there is no device, or a CUDA library
/// (cuBLAS, cuSPARSE) cannot be loaded. The message says which and why.
/// </summary>
public class CudaUnavailableException : Exception
{
    public CudaUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}
