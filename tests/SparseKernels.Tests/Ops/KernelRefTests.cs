using System.Runtime.CompilerServices;
using NUnit.Framework;
using SparseKernels.Ops;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>Every kernel a launcher declares (a <see cref="KernelRef"/> field) exists on the device under that name.</summary>
[Category("Gpu")]
public class KernelRefTests
{
    [Test]
    public void EveryDeclaredKernel_IsOnTheDevice()
    {
        var device = TestDevice.Get();
        // Run every static constructor of the engine, so that every launcher's KernelRef fields are declared.
        foreach (var type in typeof(KernelRef).Assembly.GetTypes())
            if (!type.IsGenericTypeDefinition) RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        var declared = KernelRef.Declared;
        Assert.That(declared, Has.Count.GreaterThan(30), "the launchers' kernels were declared");
        var missing = declared.Where(n => !device.KernelNames.Contains(n)).ToList();
        Assert.That(missing, Is.Empty, $"declared by a launcher but not built into the device's images: {string.Join(", ", missing)}");
    }
}
