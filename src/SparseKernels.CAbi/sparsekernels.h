/* sparsekernels.h - the C ABI of libsparsekernels.so (the SparseKernels engine built with .NET NativeAOT).
 *
 * ABI version 1 (sk_abi_version()). Any incompatible change of a function or struct below raises it.
 *
 * Conventions
 *  - Every function except sk_abi_version, sk_version_string, sk_last_error, sk_last_status and sk_grow_seed returns
 *    an sk_status: SK_OK (0) or an error code. On an error, sk_last_error() gives a NUL-terminated UTF-8 message that
 *    names what was wrong (operand, shape, index, pointer alignment, device); it is thread-local and stays valid until
 *    the next failing call on the same thread. No exception or signal ever crosses this boundary: bad arguments
 *    (NULL pointers, negative sizes, misaligned pointers, shape mismatches, invalid CSR) give a status and a message.
 *    Pointers that are non-NULL but point at too little memory cannot be detected: that remains the caller's duty.
 *  - Sizes are int64_t but must fit in int32 (CSR indices are int32); floats are float32 (no float64 ops in ABI 1).
 *  - A dense operand is an sk_dense: element (r, c) is data[r * row_stride + c * col_stride] (strides in elements,
 *    non-negative; outputs may not have a zero stride). On the CPU any strides work, so a batch-major PyTorch tensor
 *    x[B, in] is passed as the in x B operand x^T with row_stride 1 and col_stride in: no transposed copy by the caller.
 *    On a CUDA device dense operands must be row-major contiguous (row_stride = cols, col_stride = 1).
 *  - A CSR operand is an sk_csr: rows x cols, nnz nonzeros, row_offsets[rows + 1] (from 0 to nnz), column_indices[nnz]
 *    strictly ascending within a row and in [0, cols), values[nnz]. Host contexts always check these invariants
 *    (O(nnz)); device contexts check them only with the SK_VALIDATE flag (copies the pattern to the host).
 *  - Contexts: sk_open_cpu (host memory), sk_open_cuda (device memory of that GPU; the stream argument is a
 *    cudaStream_t / CUstream of the device's primary context, e.g. torch.cuda.current_stream().cuda_stream; 0 = the
 *    legacy default stream), sk_open_emulated (the engine's emulated device, for testing). A context may be used from
 *    several threads; a call blocks until its host work is done (device work is queued on the stream).
 *  - Topology steps (sk_magnitude_drop ... sk_csr_rebuild) take host memory in every context and run on the CPU.
 */
#ifndef SPARSEKERNELS_H
#define SPARSEKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SK_ABI_VERSION 1

typedef enum sk_status {
    SK_OK = 0,
    SK_ERR_INVALID_ARGUMENT = 1, /* a value out of its range (flags, counts, thread count, stream on a CPU context) */
    SK_ERR_NULL_POINTER = 2,     /* a required pointer is NULL */
    SK_ERR_SHAPE = 3,            /* negative or oversized sizes, or operand shapes that do not agree */
    SK_ERR_ALIGNMENT = 4,        /* a pointer is not aligned to its element size */
    SK_ERR_INVALID_CSR = 5,      /* row offsets / column indices break the CSR invariants (the message names row and position) */
    SK_ERR_DEVICE = 6,           /* no such device, CUDA unavailable, or a launch failed */
    SK_ERR_UNSUPPORTED = 7,      /* valid but not supported here (e.g. strided dense operands on a device) */
    SK_ERR_OUT_OF_MEMORY = 8,
    SK_ERR_NUMERIC = 9,          /* NaN in a score or value where a selection needs an order */
    SK_ERR_BAD_HANDLE = 10,      /* the context is NULL, closed, or not from sk_open_* */
    SK_ERR_INTERNAL = 99         /* a bug: the message names the exception */
} sk_status;

/* Flags of the compute calls. */
#define SK_VALIDATE 1 /* check the CSR invariants of sparse operands first (device contexts; host contexts always do) */

/* Context kinds (sk_context_kind). */
#define SK_CONTEXT_CPU 0
#define SK_CONTEXT_CUDA 1
#define SK_CONTEXT_EMULATED 2

typedef struct sk_context_s* sk_context; /* opaque */

typedef struct sk_csr {
    int64_t rows, cols, nnz;
    int32_t* row_offsets;    /* rows + 1 */
    int32_t* column_indices; /* nnz */
    float* values;           /* nnz; ignored (may be NULL) where a call reads only the pattern */
} sk_csr;

typedef struct sk_dense {
    float* data;
    int64_t rows, cols;
    int64_t row_stride, col_stride; /* in elements */
} sk_dense;

/* ---- version and errors */
int32_t sk_abi_version(void);            /* SK_ABI_VERSION of the library */
const char* sk_version_string(void);     /* e.g. "sparsekernels 0.1.0 (abi 1)"; static */
const char* sk_last_error(void);         /* this thread's last error message ("" if none yet) */
int32_t sk_last_status(void);            /* this thread's last error status (SK_OK if none yet) */

/* ---- contexts */
int32_t sk_open_cpu(int32_t threads, sk_context* out);  /* threads: 0 = every core */
int32_t sk_open_cuda(int32_t ordinal, sk_context* out); /* SK_ERR_DEVICE with the reason when CUDA is unusable */
int32_t sk_open_emulated(sk_context* out);              /* the emulated device (device memory from its own arena) */
int32_t sk_context_kind(sk_context ctx, int32_t* kind);
int32_t sk_close(sk_context ctx);                       /* NULL is a no-op; a closed handle is SK_ERR_BAD_HANDLE */

/* ---- compute: stream is a cudaStream_t on CUDA contexts, NULL otherwise; flags: 0 or SK_VALIDATE */

/* C (m x n) = A (m x k, CSR) . B (k x n) */
int32_t sk_spmm_csr(sk_context ctx, const sk_csr* a, const sk_dense* b, const sk_dense* c, void* stream, int32_t flags);

/* C (k x n) = A^T . B for A (m x k, CSR) and B (m x n). On CUDA the transposed pattern is built on the host from a
 * copy of A's pattern: the call synchronises the stream (twice); on the CPU it is a counting sort per call. */
int32_t sk_spmm_csr_transposed(sk_context ctx, const sk_csr* a, const sk_dense* b, const sk_dense* c, void* stream,
                               int32_t flags);

/* output[p] = dot(X[i, :], Y[j, :]) for each nonzero p = (i, j) of the m x n pattern; X is m x k, Y is n x k;
 * output has nnz floats (contiguous); pattern.values is not read. */
int32_t sk_sddmm_csr(sk_context ctx, const sk_csr* pattern, const sk_dense* x, const sk_dense* y, float* output,
                     void* stream, int32_t flags);

/* ---- topology (host memory), the engine's RigL/SET steps */

/* keep[i] = 1 for the nnz - drop largest |values[i]| (ties: the lower position is kept), else 0. */
int32_t sk_magnitude_drop(sk_context ctx, const float* values, int64_t nnz, int64_t drop, uint8_t* keep);

/* RigL growth: the k absent positions (absent = not in the pattern, or in it with keep[p] = 0; keep may be NULL = all
 * present) with the largest |(dY^T X)[i, j]|, computed in chunks of about chunk_elements scores (<= 0: 2^20), never as
 * a whole dense matrix. dy is batch x rows, x is batch x cols (any strides). grown receives k positions i * cols + j,
 * ascending. Ties: the lower position. */
int32_t sk_gradient_grow(sk_context ctx, const sk_csr* pattern, const uint8_t* keep, const sk_dense* dy, const sk_dense* x,
                         int64_t k, int64_t chunk_elements, int32_t* grown);

/* SET growth: k absent positions drawn uniformly (Philox keys from seed; the engine's exact choice), ascending. */
int32_t sk_random_grow(sk_context ctx, const sk_csr* pattern, const uint8_t* keep, int64_t k, uint64_t seed,
                       int64_t chunk_elements, int32_t* grown);

/* The matrix after a drop and grow: the kept nonzeros of old (with their values) and the grown positions (value 0),
 * row by row in column order, written into result (same rows/cols; result->nnz = kept + grown_count; its three arrays
 * provided by the caller). Each of state_count per-nonzero arrays (gradient, momentum, Adam moments: nnz floats each)
 * is carried the same way into state_out (grown: 0). Outputs may alias the inputs (an in-place update). */
int32_t sk_csr_rebuild(sk_context ctx, const sk_csr* old, const uint8_t* keep, const int32_t* grown, int64_t grown_count,
                       int32_t state_count, float* const* state_in, const sk_csr* result, float* const* state_out);

/* The engine's RigL/SET schedule (DropSchedule): *is_update = 1 on an update step (every update_every steps from 0 to
 * floor(end_fraction * total_steps)), and *count = floor(alpha/2 (1 + cos(pi t / T_end)) * nnz) there, else 0. */
int32_t sk_drop_schedule(double alpha, int64_t update_every, double end_fraction, int64_t step, int64_t total_steps,
                         int64_t nnz, int32_t* is_update, int64_t* count);

/* The engine's SET seed for a layer and step (what its SET passes to the random growth). */
uint64_t sk_grow_seed(uint64_t seed, int32_t layer, int64_t step);

/* Nonzeros per layer of an MLP with size_count layer sizes at an overall sparsity: distribution 0 uniform,
 * 1 Erdos-Renyi, 2 ERK (the engine's LayerDensities). counts receives size_count - 1 values. */
int32_t sk_layer_counts(const int32_t* sizes, int32_t size_count, double sparsity, int32_t distribution, int64_t* counts);

/* ---- layer plans (CPU): the three products of a sparse linear layer y = x W^T on batch-major, row-major operands, by
 * the engine's batch-major kernels (x and dy transposed into caller-owned workspaces by register blocks, the products
 * feature-major, the results transposed back per thread; no allocation per call). A plan holds a validated copy of the
 * out x in pattern and its CSC transpose: create a new one when the pattern changes. One call at a time per plan. */
typedef struct sk_linear_s* sk_linear; /* opaque */
int32_t sk_linear_create(sk_context ctx, const sk_csr* pattern, sk_linear* out); /* pattern.values not read */
int32_t sk_linear_destroy(sk_linear plan);                                      /* NULL is a no-op */

/* y (batch x out) = x (batch x in) W^T, W's values given (nnz, CSR order). Workspaces: x_t (in x batch) receives x^T
 * and y_t (out x batch) is scratch; t_values (nnz; may be NULL) receives a snapshot of the values (in the plan's own
 * order: treat it as opaque). Keep x_t and t_values
 * for sk_linear_backward (they are the forward's snapshot: an optimizer step in between does not change the gradients). */
int32_t sk_linear_forward(sk_linear plan, const float* x, int64_t batch, const float* values, float* y, float* x_t, float* y_t,
                          float* t_values);

/* From dy (batch x out, element (b, o) at dy[b * dy_stride0 + o * dy_stride1]: any strides, e.g. a broadcast view) and the
 * forward's x_t and t_values: dx (batch x in) = dy W when dx is not NULL (then t_values and dx_t, in x batch, are needed),
 * dw (nnz, CSR order) = (dy^T x) at the pattern when dw is not NULL. dy_t (out x batch) is scratch. */
int32_t sk_linear_backward(sk_linear plan, const float* dy, int64_t dy_stride0, int64_t dy_stride1, int64_t batch,
                           const float* x_t, const float* t_values, float* dx, float* dw, float* dy_t, float* dx_t);

#ifdef __cplusplus
}
#endif
#endif /* SPARSEKERNELS_H */
