using System.Runtime.InteropServices;
using SparseKernels.Cpu;
using SparseKernels.Runtime;

namespace SparseKernels.CAbi;

/// <summary>The exported functions of sparsekernels.h: versions, errors and contexts.</summary>
internal static unsafe partial class Exports
{
    /// <summary>SK_ABI_VERSION of sparsekernels.h: raise it on any incompatible change of the exports or structs.</summary>
    public const int AbiVersion = 1;

    private static readonly byte* s_versionString = Utf8("sparsekernels 0.1.0 (abi 1)");

    private static byte* Utf8(string s)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(s);
        var p = (byte*)NativeMemory.AllocZeroed((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        return p;
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_abi_version")]
    public static int SkAbiVersion() => AbiVersion;

    [UnmanagedCallersOnly(EntryPoint = "sk_version_string")]
    public static byte* SkVersionString() => s_versionString;

    [UnmanagedCallersOnly(EntryPoint = "sk_last_error")]
    public static byte* SkLastError() => Errors.LastMessage;

    [UnmanagedCallersOnly(EntryPoint = "sk_last_status")]
    public static int SkLastStatus() => (int)Errors.LastStatus;

    [UnmanagedCallersOnly(EntryPoint = "sk_open_cpu")]
    public static int SkOpenCpu(int threads, nint* context)
    {
        const string op = "sk_open_cpu";
        try
        {
            Operands.NotNull(context, op, "context (the out pointer)");
            *context = 0;
            if (threads < 0) throw new AbiException(Status.InvalidArgument, $"{op}: threads = {threads}; pass 0 for every core or a " +
                $"positive count.");
            *context = Contexts.Add(new Context(threads == 0 ? new CpuBackend() : new CpuBackend(threads), null));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_open_cuda")]
    public static int SkOpenCuda(int ordinal, nint* context)
    {
        const string op = "sk_open_cuda";
        try
        {
            Operands.NotNull(context, op, "context (the out pointer)");
            *context = 0;
            if (ordinal < 0) throw new AbiException(Status.InvalidArgument, $"{op}: device ordinal {ordinal} is negative.");
            var device = Devices.OpenCuda(ordinal);
            *context = Contexts.Add(new Context(CpuBackend.Default, device));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_open_emulated")]
    public static int SkOpenEmulated(nint* context)
    {
        const string op = "sk_open_emulated";
        try
        {
            Operands.NotNull(context, op, "context (the out pointer)");
            *context = 0;
            *context = Contexts.Add(new Context(CpuBackend.Default, Devices.OpenEmulated()));
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_context_kind")]
    public static int SkContextKind(nint context, int* kind)
    {
        const string op = "sk_context_kind";
        try
        {
            Operands.NotNull(kind, op, "kind");
            *kind = Contexts.Get(context, op).Kind;
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }

    [UnmanagedCallersOnly(EntryPoint = "sk_close")]
    public static int SkClose(nint context)
    {
        const string op = "sk_close";
        try
        {
            if (context == 0) return Errors.Ok();
            Contexts.Remove(context, op).Dispose();
            return Errors.Ok();
        }
        catch (Exception e) { return Errors.From(e, op); }
    }
}
