using System.Runtime.InteropServices;
using System.Text;

namespace SparseKernels.Native;

/// <summary>
/// CUDA driver API bindings (cuda.h, checked against CUDA 11.8; the values used here are unchanged in
/// CUDA 12 and 13). Versioned symbols (_v2) are bound where cuda.h #defines the plain name to them.
/// Every result goes through <see cref="Check"/>, the single place that maps a CUresult to an exception.
/// </summary>
internal static unsafe partial class CudaDriver
{
    private const string Lib = NativeLibraries.Cuda;

    /// <summary>The oldest driver that can JIT our PTX (made by CUDA 11.8): cuDriverGetVersion >= 11080.</summary>
    public const int MinimumDriverVersion = 11080;

    // CUresult values used by name.
    public const int CUDA_SUCCESS = 0;
    public const int CUDA_ERROR_INVALID_VALUE = 1;
    public const int CUDA_ERROR_NOT_INITIALIZED = 3;
    public const int CUDA_ERROR_NO_DEVICE = 100;
    public const int CUDA_ERROR_NO_BINARY_FOR_GPU = 209;
    public const int CUDA_ERROR_NOT_FOUND = 500;

    // CUdevice_attribute
    public const int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
    public const int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
    public const int CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10;
    public const int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    // CUfunction_attribute
    public const int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
    public const int CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
    public const int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;

    // CUjit_option
    public const int CU_JIT_INFO_LOG_BUFFER = 3;
    public const int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
    public const int CU_JIT_ERROR_LOG_BUFFER = 5;
    public const int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    public const int CU_JIT_LOG_VERBOSE = 12;

    public const uint CU_STREAM_DEFAULT = 0;
    public const uint CU_STREAM_NON_BLOCKING = 1;
    public const uint CU_EVENT_DEFAULT = 0;

    [LibraryImport(Lib)] internal static partial int cuInit(uint flags);
    [LibraryImport(Lib)] internal static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] internal static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] internal static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] internal static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib)] internal static partial int cuDeviceGetAttribute(out int value, int attribute, int device);
    [LibraryImport(Lib)] internal static partial int cuDeviceTotalMem_v2(out nuint bytes, int device);
    [LibraryImport(Lib)] internal static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [LibraryImport(Lib)] internal static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Lib)] internal static partial int cuCtxSetCurrent(IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxPushCurrent_v2(IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxPopCurrent_v2(out IntPtr context);
    [LibraryImport(Lib)] internal static partial int cuCtxSynchronize();
    [LibraryImport(Lib)] internal static partial int cuStreamCreate(out IntPtr stream, uint flags);
    [LibraryImport(Lib)] internal static partial int cuStreamDestroy_v2(IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuStreamSynchronize(IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuEventCreate(out IntPtr ev, uint flags);
    [LibraryImport(Lib)] internal static partial int cuEventRecord(IntPtr ev, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuEventSynchronize(IntPtr ev);
    [LibraryImport(Lib)] internal static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);
    [LibraryImport(Lib)] internal static partial int cuEventDestroy_v2(IntPtr ev);
    [LibraryImport(Lib)] internal static partial int cuMemAlloc_v2(out ulong pointer, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemFree_v2(ulong pointer);
    [LibraryImport(Lib)] internal static partial int cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoD_v2(ulong destination, ulong source, nuint bytes);
    [LibraryImport(Lib)] internal static partial int cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuMemsetD32_v2(ulong destination, uint value, nuint count);
    [LibraryImport(Lib)] internal static partial int cuMemsetD32Async(ulong destination, uint value, nuint count, IntPtr stream);
    [LibraryImport(Lib)] internal static partial int cuMemGetInfo_v2(out nuint free, out nuint total);
    [LibraryImport(Lib)] internal static partial int cuModuleLoadDataEx(out IntPtr module, void* image, uint numOptions, int* options, void** optionValues);
    [LibraryImport(Lib)] internal static partial int cuModuleUnload(IntPtr module);
    [LibraryImport(Lib)] internal static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, byte* name);
    [LibraryImport(Lib)]
    internal static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, IntPtr stream, void** kernelParams, void** extra);
    [LibraryImport(Lib)] internal static partial int cuFuncGetAttribute(out int value, int attribute, IntPtr function);
    [LibraryImport(Lib)] internal static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int numBlocks, IntPtr function, int blockSize, nuint dynamicSMemSize);
    [LibraryImport(Lib)] internal static partial int cuGetErrorName(int error, out IntPtr name);
    [LibraryImport(Lib)] internal static partial int cuGetErrorString(int error, out IntPtr description);

    /// <summary>The one check: throws <see cref="CudaException"/> with the driver's name and description of a failed result.</summary>
    public static void Check(int result, string call, string? detail = null)
    {
        if (result != CUDA_SUCCESS) throw Error(result, call, detail);
    }

    /// <summary>The exception for a failed result (cuGetErrorName/String work before cuInit).</summary>
    public static CudaException Error(int result, string call, string? detail = null)
        => new(call, result, ErrorName(result), ErrorDescription(result), detail);

    public static string ErrorName(int result)
    {
        try
        {
            if (cuGetErrorName(result, out IntPtr p) == CUDA_SUCCESS && p != IntPtr.Zero) return Marshal.PtrToStringUTF8(p) ?? $"CUresult {result}";
        }
        catch (Exception e) when (e is CudaUnavailableException or DllNotFoundException or EntryPointNotFoundException) { }
        return $"unknown CUresult {result}";
    }

    public static string ErrorDescription(int result)
    {
        try
        {
            if (cuGetErrorString(result, out IntPtr p) == CUDA_SUCCESS && p != IntPtr.Zero) return Marshal.PtrToStringUTF8(p) ?? "";
        }
        catch (Exception e) when (e is CudaUnavailableException or DllNotFoundException or EntryPointNotFoundException) { }
        return "(no description: the driver does not know this code)";
    }

    // ---- helpers used by the engine (no raw pointers leave this assembly) ----

    public static string DeviceName(int device)
    {
        byte* buffer = stackalloc byte[256];
        Check(cuDeviceGetName(buffer, 256, device), nameof(cuDeviceGetName));
        return Marshal.PtrToStringUTF8((IntPtr)buffer) ?? $"CUDA device {device}";
    }

    public static int DeviceAttribute(int device, int attribute)
    {
        Check(cuDeviceGetAttribute(out int value, attribute, device), $"{nameof(cuDeviceGetAttribute)}({attribute})");
        return value;
    }

    public static void CopyHostToDevice(ulong destination, ReadOnlySpan<byte> source, IntPtr stream)
    {
        if (source.IsEmpty) return;
        fixed (byte* p = source)
        {
            Check(cuMemcpyHtoDAsync_v2(destination, p, (nuint)source.Length, stream), nameof(cuMemcpyHtoDAsync_v2));
            // The host span is only pinned for this call: wait until the copy has read it.
            Check(cuStreamSynchronize(stream), nameof(cuStreamSynchronize));
        }
    }

    public static void CopyDeviceToHost(Span<byte> destination, ulong source, IntPtr stream)
    {
        if (destination.IsEmpty) return;
        fixed (byte* p = destination)
        {
            Check(cuMemcpyDtoHAsync_v2(p, source, (nuint)destination.Length, stream), nameof(cuMemcpyDtoHAsync_v2));
            Check(cuStreamSynchronize(stream), nameof(cuStreamSynchronize));
        }
    }

    /// <summary>
    /// Loads a module image (fatbin, cubin or NUL-terminated PTX) into the current context with the JIT's
    /// error and info logs captured; a failed load throws <see cref="CudaException"/> with the JIT error log.
    /// </summary>
    public static IntPtr LoadModule(ReadOnlySpan<byte> image, string what, out string infoLog)
    {
        const int LogSize = 16 * 1024;
        byte[] errorLog = new byte[LogSize], info = new byte[LogSize];
        int* options = stackalloc int[5];
        void** values = stackalloc void*[5];
        int result;
        IntPtr module;
        fixed (byte* img = image)
        fixed (byte* err = errorLog)
        fixed (byte* inf = info)
        {
            options[0] = CU_JIT_ERROR_LOG_BUFFER; values[0] = err;
            options[1] = CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES; values[1] = (void*)(nuint)LogSize;
            options[2] = CU_JIT_INFO_LOG_BUFFER; values[2] = inf;
            options[3] = CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES; values[3] = (void*)(nuint)LogSize;
            options[4] = CU_JIT_LOG_VERBOSE; values[4] = (void*)(nuint)1;
            result = cuModuleLoadDataEx(out module, img, 5, options, values);
        }
        infoLog = CString(info);
        if (result != CUDA_SUCCESS)
        {
            string log = CString(errorLog);
            throw Error(result, $"{nameof(cuModuleLoadDataEx)}({what})",
                string.IsNullOrWhiteSpace(log) ? "JIT error log: (empty)" : "JIT error log:" + Environment.NewLine + log.TrimEnd());
        }
        return module;
    }

    private static string CString(byte[] buffer)
    {
        int n = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, n < 0 ? buffer.Length : n);
    }

    public static IntPtr GetFunction(IntPtr module, string name)
    {
        int n = Encoding.UTF8.GetMaxByteCount(name.Length) + 1;
        Span<byte> utf8 = n <= 512 ? stackalloc byte[n] : new byte[n];
        int written = Encoding.UTF8.GetBytes(name, utf8);
        utf8[written] = 0;
        fixed (byte* p = utf8)
        {
            int r = cuModuleGetFunction(out IntPtr function, module, p);
            Check(r, $"{nameof(cuModuleGetFunction)}(\"{name}\")");
            return function;
        }
    }

    /// <summary>
    /// Launches with the argument addresses built on the stack from <paramref name="args"/>:
    /// no boxing, no allocation. The arguments are pinned for the call (the driver copies them).
    /// </summary>
    public static void Launch(IntPtr function, Dim3 grid, Dim3 block, int sharedBytes, IntPtr stream, ref KernelArgs args)
    {
        void** pointers = stackalloc void*[KernelArgs.MaxArgs];
        new Span<IntPtr>(pointers, KernelArgs.MaxArgs).Clear();
        fixed (KernelArgs* a = &args)
        {
            a->FillPointers(pointers);
            Check(cuLaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, checked((uint)sharedBytes), stream, pointers, null),
                nameof(cuLaunchKernel));
        }
    }
}
