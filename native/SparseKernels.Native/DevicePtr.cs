namespace SparseKernels.Native;

/// <summary>
/// An address in device memory (a CUDA <c>CUdeviceptr</c>, or a host address on the emulated device).
/// A plain number: holding one neither owns nor keeps alive the memory it names.
/// </summary>
internal readonly record struct DevicePtr(ulong Address)
{
    public static readonly DevicePtr Null = new(0);
    public bool IsNull => Address == 0;
    public DevicePtr Offset(long bytes) => new(checked((ulong)((long)Address + bytes)));
    public override string ToString() => $"0x{Address:x}";
}

/// <summary>Grid or block dimensions of a launch, as CUDA's <c>dim3</c>.</summary>
internal readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(uint x) => new(x);
    public static implicit operator Dim3(int x) => new(checked((uint)x));
    public ulong Volume => (ulong)X * Y * Z;
    public override string ToString() => $"({X},{Y},{Z})";
}
