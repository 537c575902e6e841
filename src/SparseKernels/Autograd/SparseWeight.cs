using SparseKernels.Tensors;

namespace SparseKernels.Autograd;

/// <summary>
/// A CSR weight (out x in) for <see cref="Fn.SparseLinear"/>, on one backend. Keeps the CSR of its transpose
/// (for backward-data, a transposed SpMM) whose values are refreshed from the weight's values through a stored
/// permutation (<see cref="SparsePermutation"/>, O(nnz) gather) at every forward, so that in-place optimizer
/// updates of <see cref="Values"/> never leave it stale. The gradient of the weight is a 1 x nnz tensor
/// (SDDMM at the pattern): the dense gradient is never formed.
/// </summary>
public sealed class SparseWeight : IDisposable
{
    /// <summary>Uploads the host weight <paramref name="hostWeight"/> (out x in) to <paramref name="backend"/> and builds its transpose. Throws <see cref="ArgumentException"/> when the weight is already on a device.</summary>
    public SparseWeight(CsrMatrix hostWeight, ITensorBackend backend)
    {
        ArgumentNullException.ThrowIfNull(hostWeight);
        if (hostWeight.IsOnDevice) throw new ArgumentException("SparseWeight: give the weight on the host; it is uploaded to the backend.", nameof(hostWeight));
        Backend = backend;
        Permutation = new SparsePermutation(hostWeight, backend.Device);
        var tValues = new float[hostWeight.Nnz];
        var hostT = new CsrMatrix(hostWeight.Cols, hostWeight.Rows, Permutation.TransposedRowOffsets, Permutation.TransposedColumnIndices, tValues);
        if (backend.Device is null)
        {
            Matrix = hostWeight;
            Transposed = hostT;
            Values = Var.Parameter(DenseTensor.FromArray(1, hostWeight.Nnz, hostWeight.Values));
        }
        else
        {
            Matrix = hostWeight.ToDevice(backend.Device);
            Transposed = hostT.ToDevice(backend.Device);
            // A 1 x nnz tensor over the matrix's own value buffer; it is never disposed (the matrix owns the buffer).
            Values = Var.Parameter(DenseTensor.FromDevice(Matrix.DeviceValues, 1, hostWeight.Nnz));
        }
    }

    /// <summary>The backend holding the weight.</summary>
    public ITensorBackend Backend { get; }
    /// <summary>The weight (out x in) on the backend; its values are <see cref="Values"/>'s storage.</summary>
    public CsrMatrix Matrix { get; }
    /// <summary>The transpose (in x out) on the backend; values valid after <see cref="RefreshTransposed"/>.</summary>
    public CsrMatrix Transposed { get; }
    /// <summary>The permutation from the weight's nonzeros to its transpose's.</summary>
    public SparsePermutation Permutation { get; }
    /// <summary>The nonzero values as a 1 x nnz parameter (shares the matrix's storage; the optimizer updates it in place).</summary>
    public Var Values { get; }
    /// <summary>Output features (rows of the weight).</summary>
    public int Rows => Matrix.Rows;
    /// <summary>Input features (columns of the weight).</summary>
    public int Cols => Matrix.Cols;
    /// <summary>The number of nonzeros.</summary>
    public int Nnz => Matrix.Nnz;

    /// <summary>Copies the weight's current values into <see cref="Transposed"/> through <see cref="Permutation"/> (done at every forward).</summary>
    public void RefreshTransposed() => Backend.GatherValues(Matrix, Permutation, Transposed);

    /// <summary>The weight on the host (a copy when on a device).</summary>
    public CsrMatrix ToHost() => Matrix.IsOnDevice ? Matrix.ToHost() : Matrix;

    /// <inheritdoc/>
    public void Dispose()
    {
        Values.ZeroGrad();
        if (Matrix.IsOnDevice) { Matrix.Dispose(); Transposed.Dispose(); }
        Permutation.Dispose();
    }
}
