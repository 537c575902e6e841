using System.Runtime.InteropServices;
using System.Text;
using SparseKernels.Native;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.CAbi;

/// <summary>The status codes of sparsekernels.h (SK_OK ...): keep the two lists equal.</summary>
internal enum Status
{
    Ok = 0,
    InvalidArgument = 1,
    NullPointer = 2,
    Shape = 3,
    Alignment = 4,
    InvalidCsr = 5,
    Device = 6,
    Unsupported = 7,
    OutOfMemory = 8,
    Numeric = 9,
    BadHandle = 10,
    Internal = 99,
}

/// <summary>An error raised inside the library with the status it maps to.</summary>
internal sealed class AbiException(Status status, string message) : Exception(message)
{
    public Status Status { get; } = status;
}

/// <summary>
/// The thread-local last error (sk_last_error): a NUL-terminated UTF-8 copy in unmanaged memory owned by the thread,
/// valid until the next failing call on that thread. Every export catches every exception and maps it here: nothing
/// crosses the boundary as an exception.
/// </summary>
internal static unsafe class Errors
{
    [ThreadStatic] private static byte* t_message;
    [ThreadStatic] private static int t_capacity;
    [ThreadStatic] private static Status t_status;
    private static readonly byte* s_empty = (byte*)NativeMemory.AllocZeroed(1);

    public static byte* LastMessage => t_message is null ? s_empty : t_message;

    public static Status LastStatus => t_status;

    public static int Fail(Status status, string message)
    {
        t_status = status;
        int n = Encoding.UTF8.GetMaxByteCount(message.Length) + 1;
        if (t_capacity < n)
        {
            if (t_message is not null) NativeMemory.Free(t_message);
            t_message = (byte*)NativeMemory.Alloc((nuint)n);
            t_capacity = n;
        }
        int written = Encoding.UTF8.GetBytes(message, new Span<byte>(t_message, n - 1));
        t_message[written] = 0;
        return (int)status;
    }

    public static int Ok() => (int)Status.Ok;

    /// <summary>Maps an exception to a status and records its message (with the exception's type for unexpected ones).</summary>
    public static int From(Exception e, string op)
    {
        Status s = e switch
        {
            AbiException a => a.Status,
            CsrFormatException => Status.InvalidCsr,
            ArgumentNullException => Status.NullPointer,
            ArgumentException a when a.Message.Contains("NaN", StringComparison.Ordinal) => Status.Numeric,
            ArgumentOutOfRangeException => Status.Shape,
            ArgumentException => Status.InvalidArgument,
            CudaUnavailableException or CudaException or EmulatedLaunchException => Status.Device,
            NotSupportedException => Status.Unsupported,
            OutOfMemoryException => Status.OutOfMemory,
            OverflowException => Status.Shape,
            _ => Status.Internal,
        };
        string text = s == Status.Internal ? $"{op}: internal error ({e.GetType().Name}): {e.Message}" : Prefix(op, e.Message);
        return Fail(s, text);
    }

    private static string Prefix(string op, string message) => message.StartsWith(op, StringComparison.Ordinal) ? message : $"{op}: " +
        $"{message}";
}
