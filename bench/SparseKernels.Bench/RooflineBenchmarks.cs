using BenchmarkDotNet.Attributes;
using SparseKernels.Linalg;
using SparseKernels.Runtime;
using SparseKernels.Tensors;

namespace SparseKernels.Bench;

/// <summary>
/// The device's two ceilings for the roofline floor of the SpMM/SDDMM targets: memory bandwidth (a 512 MiB
/// device-to-device copy: GB/s counts its read and its write) and fp32 rate (cuBLAS SGEMM 8192^3 in fp32 with
/// tensor cores off: GFLOP/s counts 2*8192^3), read from the GB/s and GFLOP/s columns. R launches per invocation,
/// one synchronization (OperationsPerInvoke); L2-warm (the copy's 1 GiB does not fit in any L2 anyway).
/// </summary>
[BenchmarkCategory(Program.GpuCategory)]
public class RooflineBenchmarks
{
    public const long CopyFloats = 128L << 20;   // 512 MiB
    public const int GemmSize = 8192;

    private IDevice _device = null!;
    private CublasContext _cublas = null!;
    private DeviceBuffer<float> _src = null!, _dst = null!;
    private DenseTensor _a = null!, _b = null!, _c = null!;

    [GlobalSetup]
    public void Setup()
    {
        _device = GpuBench.Device;   // one device (and one cuBLAS handle) for the whole run
        _cublas = GpuBench.Cublas;
        _src = _device.Allocate<float>(CopyFloats);
        _dst = _device.Allocate<float>(CopyFloats);
        _device.Fill32(_src, 0x3f800000u);
        _a = BenchData.Dense(GemmSize, GemmSize, 1).ToDevice(_device);
        _b = BenchData.Dense(GemmSize, GemmSize, 2).ToDevice(_device);
        _c = DenseTensor.Allocate(_device, GemmSize, GemmSize);
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _c.Dispose(); _b.Dispose(); _a.Dispose(); _dst.Dispose(); _src.Dispose();
        _device.Synchronize();
    }

    private const int R = GpuBench.Launches;

    [Benchmark(OperationsPerInvoke = R)]
    public void CopyBandwidth() { for (int i = 0; i < R; i++) _device.CopyDeviceToDevice(_src, 0, _dst, 0, CopyFloats); _device.Synchronize(); }

    [Benchmark(OperationsPerInvoke = R)]
    public void Fp32Rate() { for (int i = 0; i < R; i++) _cublas.Sgemm(_a, _b, _c, false, false); _device.Synchronize(); }
}
