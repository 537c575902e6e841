using System.Runtime.InteropServices;
using NUnit.Framework;
using SparseKernels.Native;
using SparseKernels.Runtime;

namespace SparseKernels.Tests.Bindings;

/// <summary>The library resolver, error mapping and the no-device path. These run without a GPU.</summary>
[TestFixture]
public class NativeLibrariesTests
{
    private static void RequireDriverLibraryOnMachine()
    {
        string file = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(file, out _)) Assert.Ignore($"{file} is not installed on this machine.");
    }

    [Test]
    public void Resolver_LoadsTheCudaDriverLibrary_AndRemembersTheFile()
    {
        RequireDriverLibraryOnMachine();
        var result = NativeLibraries.Load(NativeLibraries.Cuda);
        Assert.That(result.Error, Is.Null, () => result.Error!.Message);
        Assert.That(result.Handle, Is.Not.EqualTo(IntPtr.Zero));
        Assert.That(result.File, Does.Contain(OperatingSystem.IsWindows() ? "nvcuda" : "libcuda"));
        Assert.That(NativeLibraries.ResolvedFile(NativeLibraries.Cuda), Is.EqualTo(result.File));
        Assert.That(NativeLibraries.Resolved.Select(r => r.LogicalName), Does.Contain(NativeLibraries.Cuda));
        // A binding call goes through the resolver: cuDriverGetVersion works without cuInit.
        Assert.That(CudaDriver.cuDriverGetVersion(out int version), Is.EqualTo(CudaDriver.CUDA_SUCCESS));
        Assert.That(version, Is.GreaterThan(1000));
    }

    [Test]
    public void Resolver_MissingLibrary_ReportsNamesAndFoldersTried()
    {
        var result = NativeLibraries.TryLoad("cufake", ["libsparsekernels_missing_test.so.9", "libsparsekernels_missing_test.so.8"], ["/nonexistent/sparsekernels-folder"]);
        Assert.That(result.Handle, Is.EqualTo(IntPtr.Zero));
        Assert.That(result.Error, Is.InstanceOf<CudaUnavailableException>());
        Assert.That(result.Error!.Message, Does.Contain("'cufake'"));
        Assert.That(result.Error.Message, Does.Contain("libsparsekernels_missing_test.so.9"));
        Assert.That(result.Error.Message, Does.Contain("libsparsekernels_missing_test.so.8"));
        Assert.That(result.Error.Message, Does.Contain("/nonexistent/sparsekernels-folder"));
        Assert.That(result.Error.Message, Does.Contain(NativeLibraries.LibraryDirEnvironmentVariable));
    }

    [Test]
    public void Resolver_FileInFolderThatIsNotALibrary_IsReportedWithThePath()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sk-resolver-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string bogus = Path.Combine(dir, "libsparsekernels_bogus_test.so.1");
            File.WriteAllText(bogus, "this is not an ELF file");
            var result = NativeLibraries.TryLoad("bogus", ["libsparsekernels_bogus_test.so.1"], [dir]);
            Assert.That(result.Error, Is.Not.Null);
            Assert.That(result.Error!.Message, Does.Contain(bogus));
            Assert.That(result.Error.Message, Does.Contain("failed loads"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void Resolver_KnowsOnlyCudaNames_OthersFallThrough()
    {
        Assert.That(NativeLibraries.CandidatesFor("sparsekernels_emu"), Is.Null);
        Assert.That(NativeLibraries.CandidatesFor("c"), Is.Null);
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(NativeLibraries.CandidatesFor("cuda")![0], Is.EqualTo("libcuda.so.1"));
            Assert.That(NativeLibraries.CandidatesFor("cublas"), Is.EqualTo(new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11" }));
            Assert.That(NativeLibraries.CandidatesFor("cusparse"), Is.EqualTo(new[] { "libcusparse.so.12", "libcusparse.so.11" }));
        }
        Assert.Throws<ArgumentException>(() => NativeLibraries.Load("sparsekernels_emu"));
    }

    [Test]
    public void SearchFolders_StartWithTheOverrideVariable_ThenCudaHome_ThenStandardFolders()
    {
        string? oldDir = Environment.GetEnvironmentVariable(NativeLibraries.LibraryDirEnvironmentVariable);
        string? oldHome = Environment.GetEnvironmentVariable("CUDA_HOME");
        try
        {
            Environment.SetEnvironmentVariable(NativeLibraries.LibraryDirEnvironmentVariable, $"/opt/sk-test-libs{Path.PathSeparator}/opt/sk-test-libs2");
            Environment.SetEnvironmentVariable("CUDA_HOME", "/opt/sk-test-cuda");
            var folders = NativeLibraries.SearchFolders();
            Assert.That(folders[0], Is.EqualTo("/opt/sk-test-libs"));
            Assert.That(folders[1], Is.EqualTo("/opt/sk-test-libs2"), "the override variable is a list of folders");
            Assert.That(folders[2], Is.EqualTo(Path.Combine("/opt/sk-test-cuda", "lib64")));
            if (!OperatingSystem.IsWindows())
                Assert.That(folders, Does.Contain("/usr/local/cuda/lib64").And.Contain("/usr/local/cuda/targets/x86_64-linux/lib"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(NativeLibraries.LibraryDirEnvironmentVariable, oldDir);
            Environment.SetEnvironmentVariable("CUDA_HOME", oldHome);
        }
    }

    [Test]
    public void SearchFolders_FindVersionedCudaInstalls_AndPythonWheels_NewestFirst()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("Linux folder layout.");
        string root = Path.Combine(Path.GetTempPath(), "sk-fakeroot-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (string dir in new[]
            {
                "usr/local/cuda-12.4/lib64", "usr/local/cuda-13.0/targets/x86_64-linux/lib", "usr/local/cuda-12.10/lib64",
                "usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib", "usr/local/lib/python3.12/dist-packages/nvidia/cusparse/lib",
                "venv/lib/python3.11/site-packages/nvidia/nvjitlink/lib", "home/u/.local/lib/python3.10/site-packages/nvidia/cublas/lib",
                "usr/lib/python3/dist-packages/nvidia/cusparse/lib",
            })
                Directory.CreateDirectory(Path.Combine(root, dir));
            var folders = NativeLibraries.SearchFolders("/a:/b", null, "/venv", null, "/home/u", root);
            Assert.That(folders.Take(4), Is.EqualTo(new[] { "/a", "/b", "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib" }));
            int At(string f) { int i = folders.ToList().IndexOf(f); Assert.That(i, Is.GreaterThanOrEqualTo(0), $"{f} missing from {string.Join(", ", folders)}"); return i; }
            Assert.That(At("/usr/local/cuda-13.0/targets/x86_64-linux/lib"), Is.LessThan(At("/usr/local/cuda-12.10/lib64")), "newest CUDA first");
            Assert.That(At("/usr/local/cuda-12.10/lib64"), Is.LessThan(At("/usr/local/cuda-12.4/lib64")), "12.10 is newer than 12.4");
            Assert.That(At("/venv/lib/python3.11/site-packages/nvidia/nvjitlink/lib"),
                Is.LessThan(At("/usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib")), "the virtualenv before the system's packages");
            At("/home/u/.local/lib/python3.10/site-packages/nvidia/cublas/lib");
            At("/usr/local/lib/python3.12/dist-packages/nvidia/cusparse/lib");
            At("/usr/lib/python3/dist-packages/nvidia/cusparse/lib");
            Assert.That(folders, Is.Unique);
            Assert.That(folders.Any(f => f.Contains(root)), Is.False, "paths are the real machine's, not the fake root's");
        }
        finally { Directory.Delete(root, true); }
    }

    [Test]
    public void Companions_CublasNeedsItsLt_CusparseNeedsNvJitLink()
    {
        Assert.That(NativeLibraries.CompanionsOf("libcublas.so.13"), Is.EqualTo(new[] { "libcublasLt.so.13" }));
        Assert.That(NativeLibraries.CompanionsOf("libcusparse.so.12"), Does.Contain("libnvJitLink.so.12"));
        Assert.That(NativeLibraries.CompanionsOf("libcuda.so.1"), Is.Empty);
    }

    [Test]
    public void Check_MapsAKnownCodeToItsDriverName()
    {
        RequireDriverLibraryOnMachine();
        Assert.DoesNotThrow(() => CudaDriver.Check(CudaDriver.CUDA_SUCCESS, "cuNothing"));
        var e = Assert.Throws<CudaException>(() => CudaDriver.Check(CudaDriver.CUDA_ERROR_INVALID_VALUE, "cuSomething"))!;
        Assert.That(e.Message, Does.Contain("CUDA_ERROR_INVALID_VALUE"));
        Assert.That(e.Message, Does.Contain("cuSomething"));
        Assert.That(e.Code, Is.EqualTo(1));
        Assert.That(e.ErrorName, Is.EqualTo("CUDA_ERROR_INVALID_VALUE"));
        Assert.That(e.Call, Is.EqualTo("cuSomething"));

        var noDevice = Assert.Throws<CudaException>(() => CudaDriver.Check(CudaDriver.CUDA_ERROR_NO_DEVICE, "cuInit", "extra detail"))!;
        Assert.That(noDevice.ErrorName, Is.EqualTo("CUDA_ERROR_NO_DEVICE"));
        Assert.That(noDevice.Message, Does.Contain("extra detail"));
    }

    [Test]
    public void Check_UnknownCode_SaysSoInsteadOfGuessing()
    {
        RequireDriverLibraryOnMachine();
        var e = Assert.Throws<CudaException>(() => CudaDriver.Check(123456, "cuWhatever"))!;
        Assert.That(e.ErrorName, Does.Contain("123456"));
        Assert.That(e.Code, Is.EqualTo(123456));
    }

    [Test]
    public void CublasStatusNames_MatchTheHeader()
    {
        Assert.That(CublasNative.StatusName(7), Is.EqualTo("CUBLAS_STATUS_INVALID_VALUE"));
        Assert.That(CublasNative.StatusName(13), Is.EqualTo("CUBLAS_STATUS_EXECUTION_FAILED"));
        Assert.That(CublasNative.StatusName(99), Does.Contain("99"));
        var e = Assert.Throws<CublasException>(() => CublasNative.Check(3, "cublasSgemm_v2"))!;
        Assert.That(e.Message, Does.Contain("CUBLAS_STATUS_ALLOC_FAILED").And.Contain("cublasSgemm_v2"));
        Assert.DoesNotThrow(() => CublasNative.Check(0, "cublasSgemm_v2"));
    }

    [Test]
    public void CusparseCheck_UsesTheLibrarysOwnStatusName()
    {
        var lib = NativeLibraries.Load(NativeLibraries.Cusparse);
        if (lib.Error is not null) Assert.Ignore($"cuSPARSE is not installed here: {lib.Error.Message}");
        var e = Assert.Throws<CusparseException>(() => CusparseNative.Check(3, "cusparseSpMM"))!;
        Assert.That(e.Message, Does.Contain("CUSPARSE_STATUS_INVALID_VALUE").And.Contain("cusparseSpMM"));
        Assert.That(e.Status, Is.EqualTo(3));
    }

    [Test]
    public void CudaEnvironment_ReportsEachLibraryWithAVersionOrAReason()
    {
        var libs = CudaEnvironment.Libraries();
        Assert.That(libs.Select(l => l.Name), Is.EqualTo(new[] { "CUDA driver", "cuBLAS", "cuSPARSE" }));
        foreach (var l in libs)
        {
            if (l.IsAvailable)
            {
                Assert.That(l.Version, Does.Match(@"^\d+\.\d+"), l.Name);
                Assert.That(l.File, Is.Not.Null.And.Not.Empty, l.Name);
            }
            else Assert.That(l.Error, Is.Not.Null.And.Not.Empty, l.Name);
        }
        if (NativeLibrary.TryLoad("libcuda.so.1", out _))
            Assert.That(libs[0].IsAvailable, Is.True, libs[0].Error);
    }
}
