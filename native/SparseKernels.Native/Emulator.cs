using System.Reflection;
using System.Runtime.InteropServices;

namespace SparseKernels.Native;

/// <summary>
/// P/Invoke to libsparsekernels_emu.so, the emulated device: kernels compiled for the CPU (native/emulator).
/// Device memory is host memory from the emulator's arena; launches take the argument array exactly as
/// cuLaunchKernel does.
/// </summary>
internal static unsafe partial class Emulator
{
    public const string LibraryName = "sparsekernels_emu";
    public const int AbiVersion = 2;
    public const int ErrorCapacity = 2048;

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_abi_version")]
    public static partial int AbiVersionOfLibrary();

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_kernel_count")]
    public static partial int KernelCount();

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_kernel_name")]
    private static partial byte* KernelNameNative(int index);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_kernel_param_count")]
    public static partial int KernelParamCount(byte* name);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_launch")]
    public static partial int Launch(byte* kernel, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint sharedBytes, void** args, byte* error, int errorCapacity);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_malloc")]
    public static partial void* Malloc(ulong bytes);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_free")]
    public static partial int Free(void* ptr);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_park")]
    public static partial int Park(void* ptr, int parked);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_check_range")]
    public static partial int CheckRange(void* ptr, ulong bytes, byte* error, int errorCapacity);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_memcpy")]
    public static partial void Memcpy(void* dst, void* src, ulong bytes);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_memset32")]
    public static partial void Memset32(void* dst, uint value, ulong count);

    [LibraryImport(LibraryName, EntryPoint = "sk_emu_mem_info")]
    public static partial void MemInfo(ulong* freeBytes, ulong* totalBytes);

    /// <summary>Null when the library loads and speaks our ABI; otherwise why not.</summary>
    public static string? Probe()
    {
        if (!NativeLibrary.TryLoad(LibraryName, typeof(Emulator).Assembly, null, out _))
            return $"lib{LibraryName}.so was not built: run `cmake -S . -B build -DCMAKE_CXX_COMPILER=clang++-14 && cmake --build build` (it must be next to the application or on the library path)";
        try
        {
            int v = AbiVersionOfLibrary();
            if (v != AbiVersion) return $"lib{LibraryName}.so speaks ABI version {v}, this build expects {AbiVersion}: rebuild it with cmake";
        }
        catch (EntryPointNotFoundException e) { return $"lib{LibraryName}.so is not the emulated-device library: {e.Message}"; }
        return null;
    }

    public static string[] KernelNames()
    {
        int n = KernelCount();
        var names = new List<string>(n);
        for (int i = 0; i < n; i++)
        {
            byte* p = KernelNameNative(i);
            if (p != null) names.Add(Marshal.PtrToStringUTF8((IntPtr)p)!);
        }
        return names.ToArray();
    }

    private static readonly Lock s_imagesLock = new();
    private static readonly Dictionary<string, IntPtr> s_images = new(StringComparer.Ordinal);

    /// <summary>
    /// Loads a second device image (a library of kernels compiled like the emulator's own, linked
    /// against libsparsekernels_emu.so, e.g. libsparsekernels_emu_tests.so): its kernels register
    /// themselves and become launchable by name. Loading the same path twice is a no-op.
    /// </summary>
    public static void LoadImage(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Emulated device image '{full}' does not exist (build it with cmake).", full);
        lock (s_imagesLock)
        {
            if (s_images.ContainsKey(full)) return;
            // The image's DT_NEEDED libsparsekernels_emu.so must resolve to the instance we already use.
            if (Probe() is string why) throw new InvalidOperationException(why);
            _ = KernelCount();
            s_images[full] = NativeLibrary.Load(full);
        }
    }

    public static string ErrorText(byte* buffer) => Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "";

    internal static Assembly Assembly => typeof(Emulator).Assembly;
}

/// <summary>Device memory of the emulated device, freed through the library.</summary>
internal sealed unsafe class EmulatorMemoryHandle : DeviceMemoryHandle
{
    public EmulatorMemoryHandle(DevicePtr pointer, long bytes) : base(pointer, bytes, ownsHandle: true) { }

    protected override bool ReleaseHandle() => Emulator.Free((void*)handle) == 0;
}

/// <summary>The typed, pointer-free operations EmulatedDevice uses (all raw pointers stay in this project).</summary>
internal static unsafe class EmulatorOps
{
    /// <summary>Allocates device memory (poisoned with 0xFF bytes); Null when the arena is exhausted.</summary>
    public static DevicePtr Allocate(long bytes) => new((ulong)Emulator.Malloc((ulong)bytes));

    /// <summary>
    /// Parks a live allocation in a caching allocator's free list (accesses are then reported as use after free)
    /// or takes it back out; false when the address is not an allocation in the expected state.
    /// </summary>
    public static bool Park(DevicePtr pointer, bool parked) => Emulator.Park((void*)pointer.Address, parked ? 1 : 0) == 0;

    public static void CopyIn<T>(ReadOnlySpan<T> source, DevicePtr destination) where T : unmanaged
    {
        if (source.IsEmpty) return;
        fixed (T* s = source) Emulator.Memcpy((void*)destination.Address, s, (ulong)source.Length * (ulong)sizeof(T));
    }

    public static void CopyOut<T>(DevicePtr source, Span<T> destination) where T : unmanaged
    {
        if (destination.IsEmpty) return;
        fixed (T* d = destination) Emulator.Memcpy(d, (void*)source.Address, (ulong)destination.Length * (ulong)sizeof(T));
    }

    public static void Copy(DevicePtr source, DevicePtr destination, long bytes)
    {
        if (bytes > 0) Emulator.Memcpy((void*)destination.Address, (void*)source.Address, (ulong)bytes);
    }

    public static void Fill32(DevicePtr destination, uint bits, long count)
    {
        if (count > 0) Emulator.Memset32((void*)destination.Address, bits, (ulong)count);
    }

    /// <summary>Null when [pointer, pointer+bytes) lies inside one live allocation, else why not.</summary>
    public static string? CheckRange(DevicePtr pointer, long bytes)
    {
        byte* error = stackalloc byte[Emulator.ErrorCapacity];
        return Emulator.CheckRange((void*)pointer.Address, (ulong)bytes, error, Emulator.ErrorCapacity) == 0 ? null : Emulator.ErrorText(error);
    }

    public static (long Free, long Total) MemoryInfo()
    {
        ulong free, total;
        Emulator.MemInfo(&free, &total);
        return ((long)free, (long)total);
    }

    public static int ParamCount(byte[] nameUtf8Z)
    {
        fixed (byte* n = nameUtf8Z) return Emulator.KernelParamCount(n);
    }

    /// <summary>
    /// Runs a kernel to completion. Returns 0 on success; otherwise the emulator's code (1 bad launch,
    /// 2 a check failed) and its message in <paramref name="message"/>. Allocates only on failure.
    /// </summary>
    public static int Launch(byte[] nameUtf8Z, Dim3 grid, Dim3 block, uint sharedBytes, ref KernelArgs args, out string? message)
    {
        void** pointers = stackalloc void*[KernelArgs.MaxArgs];
        byte* error = stackalloc byte[Emulator.ErrorCapacity];
        error[0] = 0;
        int rc;
        fixed (byte* name = nameUtf8Z)
        {
            args.FillPointers(pointers);
            rc = Emulator.Launch(name, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, pointers, error, Emulator.ErrorCapacity);
        }
        message = rc == 0 ? null : Emulator.ErrorText(error);
        return rc;
    }
}
