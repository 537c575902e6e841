using System.Runtime.InteropServices;
using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Tests.Ops;

/// <summary>
/// A test double for the launchers: "device" memory is host memory (so tensors can be copied to it
/// and back), and <see cref="Launch"/> runs nothing but records the kernel, the geometry and the raw
/// argument slots. Lets the launch plumbing (checks, geometry, argument order, kernel cache) be tested
/// on a machine with neither a GPU nor the emulator.
/// </summary>
internal sealed unsafe class RecordingDevice : IDevice
{
    public sealed record Launched(string Kernel, LaunchConfig Config, ulong[] Args);

    private sealed class HostMemory : DeviceMemoryHandle
    {
        public HostMemory(long bytes) : base(new DevicePtr((ulong)NativeMemory.AllocZeroed((nuint)Math.Max(1, bytes))), bytes, true) { }
        protected override bool ReleaseHandle() { NativeMemory.Free((void*)handle); return true; }
    }

    private sealed class RecordedKernel(string name) : Kernel(name);

    private sealed class NullStream(IDevice device) : DeviceStream
    {
        public override IDevice Device { get; } = device;
        public override void Synchronize() { }
    }

    private readonly Dictionary<string, RecordedKernel> _kernels = new();

    public RecordingDevice(string name = "recording", int multiprocessors = 4)
    {
        Info = new DeviceInfo(name, 0, 9, 0, 1L << 30, multiprocessors, 0, 1024, 48 * 1024, 32);
        Stream = new NullStream(this);
    }

    public List<Launched> Launches { get; } = new();
    public Dictionary<string, int> KernelLookups { get; } = new();

    public DeviceKind Kind => DeviceKind.Emulated;
    public DeviceInfo Info { get; }
    public DeviceStream Stream { get; }
    public IReadOnlyList<string> KernelNames => SparseKernels.Ops.KernelRef.Declared;

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged
        => new(this, new HostMemory(length * sizeof(T)), length);

    public void CopyToDevice<T>(ReadOnlySpan<T> source, DeviceBuffer<T> destination, long destinationOffset = 0) where T : unmanaged
        => source.CopyTo(new Span<T>((T*)destination.PointerAt(destinationOffset).Address, source.Length));

    public void CopyToHost<T>(DeviceBuffer<T> source, long sourceOffset, Span<T> destination) where T : unmanaged
        => new ReadOnlySpan<T>((T*)source.PointerAt(sourceOffset).Address, destination.Length).CopyTo(destination);

    public void CopyDeviceToDevice<T>(DeviceBuffer<T> source, long sourceOffset, DeviceBuffer<T> destination, long destinationOffset, long length) where T : unmanaged
        => new ReadOnlySpan<T>((T*)source.PointerAt(sourceOffset).Address, checked((int)length))
            .CopyTo(new Span<T>((T*)destination.PointerAt(destinationOffset).Address, checked((int)length)));

    public void Fill32<T>(DeviceBuffer<T> buffer, uint bits) where T : unmanaged
        => new Span<uint>((void*)buffer.Pointer.Address, checked((int)(buffer.SizeInBytes / 4))).Fill(bits);

    public Kernel GetKernel(string name)
    {
        KernelLookups[name] = KernelLookups.GetValueOrDefault(name) + 1;
        if (!KernelNames.Contains(name)) throw new KernelNotFoundException($"No kernel '{name}'.");
        if (!_kernels.TryGetValue(name, out var k)) _kernels[name] = k = new RecordedKernel(name);
        return k;
    }

    public void Launch(Kernel kernel, in LaunchConfig config, ref KernelArgs args, DeviceStream? stream = null)
    {
        var slots = new ulong[args.Count];
        for (int i = 0; i < slots.Length; i++) slots[i] = args.Values[i];
        Launches.Add(new Launched(kernel.Name, config, slots));
    }

    public void Synchronize() { }
    public DeviceMemoryInfo GetMemoryInfo() => new(Info.TotalMemoryBytes, Info.TotalMemoryBytes);
    public DeviceStream CreateStream() => new NullStream(this);
    public DeviceEvent CreateEvent() => throw new NotSupportedException("The recording device has no events.");
    public void Dispose() { }
}
