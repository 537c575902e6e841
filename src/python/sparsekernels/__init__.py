"""sparsekernels: the SparseKernels engine (libsparsekernels.so, a NativeAOT C ABI) from PyTorch.

    import sparsekernels
    layer = sparsekernels.SparseLinear(784, 300, density=0.1)   # values: an nn.Parameter of length nnz
    y = layer(x)                                                # SpMM forward; backward: transposed SpMM + SDDMM
    rigl = sparsekernels.RigL(model, optimizer, total_steps=n)  # dynamic sparse training (nnz constant)
"""
from ._lib import SparseKernelsError, LibraryNotFoundError, library_path, version, ABI_VERSION
from .nn import SparseLinear, SparseLinearFunction, sparse_mlp_layers
from .ops import spmm, spmm_transposed, sddmm, layer_counts
from .sparsity import RigL, SET, DynamicSparsity, drop_schedule, grow_seed, magnitude_keep, gradient_grow, random_grow, csr_rebuild

__version__ = "0.1.0"
__all__ = ["SparseLinear", "SparseLinearFunction", "sparse_mlp_layers", "spmm", "spmm_transposed", "sddmm", "layer_counts",
           "RigL", "SET", "DynamicSparsity", "drop_schedule", "grow_seed", "magnitude_keep", "gradient_grow", "random_grow",
           "csr_rebuild", "SparseKernelsError", "LibraryNotFoundError", "library_path", "version", "ABI_VERSION"]
