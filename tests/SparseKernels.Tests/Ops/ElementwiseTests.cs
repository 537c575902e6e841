using NUnit.Framework;
using SparseKernels.Cpu;
using SparseKernels.Ops;
using SparseKernels.Runtime;
using SparseKernels.Tensors;
using SparseKernels.Tests.Support;

namespace SparseKernels.Tests.Ops;

/// <summary>
/// elementwise_* kernels on the test device against CpuReference. One fp32 operation per element
/// (axpy: two, or one fused), so the tolerance is a few ulps: atol 1e-6, rtol 1e-6; relu and
/// relu_backward select values and must match exactly.
/// </summary>
[TestFixture, Category("Gpu")]
public class ElementwiseTests
{
    private const double Atol = 1e-6, Rtol = 1e-6;

    // (rows, cols): 1 element, less than a block, exactly a block, odd, and more than the grid cap
    // covers in one pass on a small device (grid-stride loop).
    private static readonly object[] Shapes =
    [
        new object[] { 1, 1 },
        new object[] { 1, 7 },
        new object[] { 1, 256 },
        new object[] { 37, 61 },
        new object[] { 333, 301 },
    ];

    [TestCaseSource(nameof(Shapes))]
    public void Add(int rows, int cols) => CheckBinary(rows, cols, (d, a, b, o) => Elementwise.Add(d, a, b, o), CpuReference.Add, Atol, Rtol, "add");

    [TestCaseSource(nameof(Shapes))]
    public void Mul(int rows, int cols) => CheckBinary(rows, cols, (d, a, b, o) => Elementwise.Mul(d, a, b, o), CpuReference.Mul, Atol, Rtol, "mul");

    [TestCaseSource(nameof(Shapes))]
    public void ReluBackward(int rows, int cols) => CheckBinary(rows, cols, (d, x, dy, dx) => Elementwise.ReluBackward(d, x, dy, dx), CpuReference.ReluBackward, 0, 0, "relu_backward");

    [TestCaseSource(nameof(Shapes))]
    public void Relu(int rows, int cols) => CheckUnary(rows, cols, (d, x, o) => Elementwise.Relu(d, x, o), CpuReference.Relu, 0, 0, "relu");

    [TestCaseSource(nameof(Shapes))]
    public void Scale(int rows, int cols)
    {
        float alpha = -1.75f;
        CheckUnary(rows, cols, (d, x, o) => Elementwise.Scale(d, alpha, x, o), x => CpuReference.Scale(alpha, x), Atol, Rtol, "scale");
    }

    [TestCaseSource(nameof(Shapes))]
    public void AxpyInPlace(int rows, int cols)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        float alpha = 0.625f;
        var x = TestData.Dense(rng, rows, cols);
        var y = TestData.Dense(rng, rows, cols);
        using var dX = x.ToDevice(device);
        using var dY = y.ToDevice(device);
        Elementwise.Axpy(device, alpha, dX, dY);
        Approx.AssertAllClose(dY.ToArray(), CpuReference.Axpy(alpha, x.HostData, y.HostData), Atol, Rtol, $"axpy {rows}x{cols}", cols);
        Approx.AssertAllClose(dX.ToArray(), x.HostData, 0, 0, "axpy must leave x alone", cols);
    }

    [TestCaseSource(nameof(Shapes))]
    public void AddBiasPerColumnInPlace(int rows, int cols)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, rows, cols);
        var bias = TestData.NonZeroArray(rng, cols);
        using var dX = x.ToDevice(device);
        using var dBias = device.Allocate<float>(cols);
        dBias.CopyFrom(bias);
        Elementwise.AddBiasPerColumn(device, dX, dBias);
        Approx.AssertAllClose(dX.ToArray(), CpuReference.AddBiasPerColumn(x, bias).HostData, Atol, Rtol, $"add_bias_per_column {rows}x{cols}", cols);
    }

    [TestCaseSource(nameof(Shapes))]
    public void Fill(int rows, int cols)
    {
        var device = TestDevice.Get();
        using var dX = DenseTensor.Allocate(device, rows, cols);
        device.Fill32(dX.DeviceData, TestDevice.PoisonBits);
        Elementwise.Fill(device, dX, 3.25f);
        var want = new float[(long)rows * cols];
        Array.Fill(want, 3.25f);
        Approx.AssertAllClose(dX.ToArray(), want, 0, 0, $"fill {rows}x{cols}", cols);
    }

    [Test]
    public void AddInPlaceIntoFirstOperand()
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Dense(rng, 19, 23);
        var b = TestData.Dense(rng, 19, 23);
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        Elementwise.Add(device, dA, dB, dA);
        Approx.AssertAllClose(dA.ToArray(), CpuReference.Add(a.HostData, b.HostData), Atol, Rtol, "add in place", 23);
    }

    [Test]
    public void RejectsMismatchedShapes()
    {
        var device = TestDevice.Get();
        using var a = DenseTensor.Allocate(device, 4, 5);
        using var b = DenseTensor.Allocate(device, 5, 4);
        var e = Assert.Throws<ArgumentException>(() => Elementwise.Add(device, a, b, a))!;
        Assert.That(e.Message, Does.Contain("4x5").And.Contain("5x4"));
        using var bias = device.Allocate<float>(4);
        e = Assert.Throws<ArgumentException>(() => Elementwise.AddBiasPerColumn(device, a, bias))!;
        Assert.That(e.Message, Does.Contain("bias").And.Contain("4x5"));
    }

    private static void CheckBinary(int rows, int cols, Action<IDevice, DenseTensor, DenseTensor, DenseTensor> run, Func<float[], float[], float[]> reference,
                                    double atol, double rtol, string what)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var a = TestData.Dense(rng, rows, cols);
        var b = TestData.Dense(rng, rows, cols);
        using var dA = a.ToDevice(device);
        using var dB = b.ToDevice(device);
        using var dOut = DenseTensor.Allocate(device, rows, cols);
        device.Fill32(dOut.DeviceData, TestDevice.PoisonBits);
        run(device, dA, dB, dOut);
        Approx.AssertAllClose(dOut.ToArray(), reference(a.HostData, b.HostData), atol, rtol, $"{what} {rows}x{cols}", cols);
    }

    private static void CheckUnary(int rows, int cols, Action<IDevice, DenseTensor, DenseTensor> run, Func<float[], float[]> reference,
                                   double atol, double rtol, string what)
    {
        var device = TestDevice.Get();
        var rng = TestRng.Fresh();
        var x = TestData.Dense(rng, rows, cols);
        using var dX = x.ToDevice(device);
        using var dOut = DenseTensor.Allocate(device, rows, cols);
        device.Fill32(dOut.DeviceData, TestDevice.PoisonBits);
        run(device, dX, dOut);
        Approx.AssertAllClose(dOut.ToArray(), reference(x.HostData), atol, rtol, $"{what} {rows}x{cols}", cols);
    }
}
