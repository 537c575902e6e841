using System.Runtime.CompilerServices;

namespace SparseKernels.Native;

/// <summary>
/// The arguments of one kernel launch, held by value in fixed 8-byte slots so that building and
/// launching them neither boxes nor allocates. Each argument must be an unmanaged value of at most
/// 8 bytes (pointers as <see cref="DevicePtr"/>, int, uint, long, float, double ...), added in the
/// order of the kernel's parameters. The launch passes the address of each slot, as
/// <c>cuLaunchKernel</c>'s <c>kernelParams</c> expects.
/// </summary>
internal struct KernelArgs
{
    public const int MaxArgs = 24;

    [InlineArray(MaxArgs)]
    internal struct Slots { private ulong _element0; }

    internal Slots Values;
    private int _count;

    public readonly int Count => _count;

    public void Add<T>(T value) where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() > sizeof(ulong))
            throw new ArgumentException($"Kernel argument {_count} of type {typeof(T).Name} is {Unsafe.SizeOf<T>()} bytes; at most 8 are supported.");
        if (_count >= MaxArgs)
            throw new ArgumentException($"A kernel launch takes at most {MaxArgs} arguments.");
        ulong slot = 0;
        Unsafe.WriteUnaligned(ref Unsafe.As<ulong, byte>(ref slot), value);
        Values[_count++] = slot;
    }

    public void Ptr(DevicePtr p) => Add(p.Address);

    /// <summary>Fills <paramref name="pointers"/> with the address of each slot. The struct must stay pinned (on the stack) meanwhile.</summary>
    internal unsafe void FillPointers(void** pointers)
    {
        fixed (ulong* first = &Values[0])
        {
            for (int i = 0; i < _count; i++) pointers[i] = first + i;
        }
    }
}
