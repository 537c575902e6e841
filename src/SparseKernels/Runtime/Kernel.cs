namespace SparseKernels.Runtime;

/// <summary>A kernel function of a loaded module, by its extern "C" name.</summary>
internal abstract class Kernel
{
    protected Kernel(string name) { Name = name; }
    public string Name { get; }
    public override string ToString() => Name;
}

/// <summary>The device has no kernel of the requested name (no kernel images were built, or the image lacks it); the message lists what is loaded.</summary>
/// <param name="message">Names the kernel asked for and the kernels the device has.</param>
public sealed class KernelNotFoundException(string message) : Exception(message);
