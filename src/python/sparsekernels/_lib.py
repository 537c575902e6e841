"""ctypes binding of libsparsekernels.so (the C ABI in sparsekernels.h): loading, structs, status -> exceptions.

The library is found, in order, at $SPARSEKERNELS_LIB (a path to the .so), then next to this file (the package ships it;
tests/cabi.sh copies it here in a source checkout): libsparsekernels_avx512.so on CPUs with AVX-512 (x86-64-v4), else
libsparsekernels.so (x86-64-v3); see library_path. No compiler is needed on the user's machine.
"""
import ctypes
import os
import threading

ABI_VERSION = 1

STATUS_NAMES = {
    0: "SK_OK", 1: "SK_ERR_INVALID_ARGUMENT", 2: "SK_ERR_NULL_POINTER", 3: "SK_ERR_SHAPE", 4: "SK_ERR_ALIGNMENT",
    5: "SK_ERR_INVALID_CSR", 6: "SK_ERR_DEVICE", 7: "SK_ERR_UNSUPPORTED", 8: "SK_ERR_OUT_OF_MEMORY", 9: "SK_ERR_NUMERIC",
    10: "SK_ERR_BAD_HANDLE", 99: "SK_ERR_INTERNAL",
}
VALIDATE = 1


class SparseKernelsError(RuntimeError):
    """A call into libsparsekernels failed: `status` is the sk_status code, `status_name` its name, the message says why."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = STATUS_NAMES.get(status, str(status))
        super().__init__(f"{message} [{self.status_name}]")


class LibraryNotFoundError(ImportError):
    pass


class Csr(ctypes.Structure):
    _fields_ = [("rows", ctypes.c_int64), ("cols", ctypes.c_int64), ("nnz", ctypes.c_int64),
                ("row_offsets", ctypes.c_void_p), ("column_indices", ctypes.c_void_p), ("values", ctypes.c_void_p)]


class Dense(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("rows", ctypes.c_int64), ("cols", ctypes.c_int64),
                ("row_stride", ctypes.c_int64), ("col_stride", ctypes.c_int64)]


_i32, _i64, _u64, _dbl, _vp = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_double, ctypes.c_void_p
_pcsr, _pdense = ctypes.POINTER(Csr), ctypes.POINTER(Dense)

_SIGNATURES = {
    "sk_abi_version": (_i32, []),
    "sk_version_string": (ctypes.c_char_p, []),
    "sk_last_error": (ctypes.c_char_p, []),
    "sk_last_status": (_i32, []),
    "sk_open_cpu": (_i32, [_i32, ctypes.POINTER(_vp)]),
    "sk_open_cuda": (_i32, [_i32, ctypes.POINTER(_vp)]),
    "sk_open_emulated": (_i32, [ctypes.POINTER(_vp)]),
    "sk_context_kind": (_i32, [_vp, ctypes.POINTER(_i32)]),
    "sk_close": (_i32, [_vp]),
    "sk_spmm_csr": (_i32, [_vp, _pcsr, _pdense, _pdense, _vp, _i32]),
    "sk_spmm_csr_transposed": (_i32, [_vp, _pcsr, _pdense, _pdense, _vp, _i32]),
    "sk_sddmm_csr": (_i32, [_vp, _pcsr, _pdense, _pdense, _vp, _vp, _i32]),
    "sk_magnitude_drop": (_i32, [_vp, _vp, _i64, _i64, _vp]),
    "sk_gradient_grow": (_i32, [_vp, _pcsr, _vp, _pdense, _pdense, _i64, _i64, _vp]),
    "sk_random_grow": (_i32, [_vp, _pcsr, _vp, _i64, _u64, _i64, _vp]),
    "sk_csr_rebuild": (_i32, [_vp, _pcsr, _vp, _vp, _i64, _i32, ctypes.POINTER(_vp), _pcsr, ctypes.POINTER(_vp)]),
    "sk_drop_schedule": (_i32, [_dbl, _i64, _dbl, _i64, _i64, _i64, ctypes.POINTER(_i32), ctypes.POINTER(_i64)]),
    "sk_grow_seed": (_u64, [_u64, _i32, _i64]),
    "sk_layer_counts": (_i32, [_vp, _i32, _dbl, _i32, ctypes.POINTER(_i64)]),
    "sk_linear_create": (_i32, [_vp, _pcsr, ctypes.POINTER(_vp)]),
    "sk_linear_destroy": (_i32, [_vp]),
    "sk_linear_forward": (_i32, [_vp, _vp, _i64, _vp, _vp, _vp, _vp, _vp]),
    "sk_linear_backward": (_i32, [_vp, _vp, _i64, _i64, _i64, _vp, _vp, _vp, _vp, _vp, _vp]),
}


# x86-64-v4: what libsparsekernels_avx512.so was compiled for (NativeAOT fixes the instruction set at build time)
AVX512_FLAGS = ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags as the kernel reports them (empty when unknown: then the baseline build is used)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def library_path(flags=None, isa=None):
    """$SPARSEKERNELS_LIB when set; else the package's AVX-512 build (libsparsekernels_avx512.so) when the CPU has every
    x86-64-v4 flag and the file is there, else its baseline build (libsparsekernels.so, x86-64-v3: AVX2 + FMA).
    $SPARSEKERNELS_ISA=avx2 forces the baseline."""
    env = os.environ.get("SPARSEKERNELS_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    isa = os.environ.get("SPARSEKERNELS_ISA", "") if isa is None else isa
    if isa.lower() not in ("avx2", "x86-64-v3", "baseline"):
        flags = cpu_flags() if flags is None else flags
        wide = os.path.join(here, "libsparsekernels_avx512.so")
        if all(f in flags for f in AVX512_FLAGS) and os.path.isfile(wide):
            return wide
    return os.path.join(here, "libsparsekernels.so")


def _load():
    path = loaded_path
    if not os.path.isfile(path):
        raise LibraryNotFoundError(
            f"sparsekernels: the native library is missing at {path}. Install a built wheel, build it in a source checkout "
            f"with `bash tests/cabi.sh` (copies it into src/python/sparsekernels/), or set SPARSEKERNELS_LIB to its path.")
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise LibraryNotFoundError(f"sparsekernels: cannot load {path}: {e}") from e
    for name, (res, args) in _SIGNATURES.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    got = lib.sk_abi_version()
    if got != ABI_VERSION:
        raise LibraryNotFoundError(f"sparsekernels: {path} has ABI version {got}; this package needs {ABI_VERSION}.")
    return lib


loaded_path = library_path()   # the build _load() opens (the AVX-512 one or the baseline)
lib = _load()


def check(status):
    """Raises SparseKernelsError with the library's thread-local message when status is not SK_OK."""
    if status != 0:
        msg = lib.sk_last_error()
        raise SparseKernelsError(status, msg.decode("utf-8", "replace") if msg else "(no message)")


_contexts = {}
_lock = threading.Lock()


def open_context(kind="cpu", ordinal=0, threads=0):
    """A new context handle (c_void_p); close it with close_context."""
    h = _vp()
    if kind == "cpu":
        check(lib.sk_open_cpu(int(threads), ctypes.byref(h)))
    elif kind == "cuda":
        check(lib.sk_open_cuda(int(ordinal), ctypes.byref(h)))
    elif kind == "emulated":
        check(lib.sk_open_emulated(ctypes.byref(h)))
    else:
        raise ValueError(f"sparsekernels: unknown context kind {kind!r} (cpu, cuda, emulated)")
    return h


def close_context(h):
    check(lib.sk_close(h))


def context_for(device, threads=None):
    """The shared context of a torch.device (one CPU context per thread count, one per CUDA ordinal)."""
    if device.type == "cpu":
        key = ("cpu", int(threads or 0))
    elif device.type == "cuda":
        key = ("cuda", device.index if device.index is not None else _current_cuda_index())
    else:
        raise ValueError(f"sparsekernels: tensors on {device} are not supported (CPU and CUDA are)")
    with _lock:
        h = _contexts.get(key)
        if h is None:
            h = open_context(key[0], ordinal=key[1] if key[0] == "cuda" else 0, threads=key[1] if key[0] == "cpu" else 0)
            _contexts[key] = h
        return h


def _current_cuda_index():
    import torch
    return torch.cuda.current_device()


def version():
    return lib.sk_version_string().decode()
