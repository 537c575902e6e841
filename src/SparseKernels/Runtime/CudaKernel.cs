using SparseKernels.Native;

namespace SparseKernels.Runtime;

/// <summary>A kernel function of a module loaded into a <see cref="CudaDevice"/>'s context.</summary>
internal sealed class CudaKernel : Kernel
{
    internal CudaKernel(CudaDevice device, CudaModule module, string name, IntPtr function) : base(name)
    {
        Device = device; Module = module; Function = function;
    }

    public CudaDevice Device { get; }
    public CudaModule Module { get; }
    internal IntPtr Function { get; }
    /// <summary>The kernel's parameter count from the embedded PTX (-1 when unknown): a launch must pass exactly this many.</summary>
    public int ParameterCount { get; internal set; } = -1;
}

/// <summary>Registers, static shared memory and the thread limit of a compiled kernel (cuFuncGetAttribute).</summary>
internal readonly record struct KernelAttributes(int Registers, int StaticSharedBytes, int MaxThreadsPerBlock);
