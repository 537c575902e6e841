// The emulated device's runtime: device memory (one arena with guard gaps), kernel registry, a small
// pool of worker threads that run blocks, fibers for the threads of a block, barriers, warp votes and
// shuffles, and the memory-access checks called by the instrumented kernel code (__tsan_* hooks: this
// library provides them itself; the TSan runtime is never linked).
//
// This file is NOT instrumented. It must not use thread_local other than g_worker (the kernel modules'
// TLS blocks hold the static __shared__ arrays and are poisoned at block start).
#include "sk_emu_api.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <link.h>
#include <map>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

struct uint3 { unsigned int x, y, z; };

namespace {

constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kWarp = 32;
constexpr size_t kStackBytes = 128 * 1024;
constexpr size_t kGuardBytes = 4096;
constexpr size_t kDynSharedCapacity = 48 * 1024;
constexpr size_t kArenaBytes = size_t(16) << 30;
constexpr size_t kGranuleShift = 8; // 256-byte granules; allocations are 256-aligned with a >= 256-byte gap
constexpr size_t kGranule = size_t(1) << kGranuleShift;
constexpr size_t kGranules = kArenaBytes >> kGranuleShift;
constexpr uint32_t kFreedBit = 0x80000000u; // owner entry of a freed allocation (until reused)

// ---- context switch ------------------------------------------------------------------------------
#if defined(__x86_64__)
asm(R"(
    .text
    .globl sk_emu_ctx_switch
    .hidden sk_emu_ctx_switch
    .type sk_emu_ctx_switch,@function
sk_emu_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size sk_emu_ctx_switch,.-sk_emu_ctx_switch
)");
#else
#error "The emulated device's fiber switch is written for x86-64 only."
#endif
} // namespace
extern "C" void sk_emu_ctx_switch(void** save_sp, void* new_sp);

namespace {

// ---- device memory arena -----------------------------------------------------------------------
struct Arena
{
    char* base = nullptr;
    uint32_t* owner = nullptr; // per granule: start granule + 1 of the live allocation covering it, 0 = none
    uint64_t* size_at = nullptr; // per start granule: the allocation's size in bytes
    std::mutex mutex;
    std::map<size_t, size_t> free_ranges; // granule -> count
    size_t used_bytes = 0;
    size_t cursor = 0;
    std::string init_error;

    bool init()
    {
        void* b = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        void* o = mmap(nullptr, kGranules * sizeof(uint32_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        void* s = mmap(nullptr, kGranules * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (b == MAP_FAILED || o == MAP_FAILED || s == MAP_FAILED)
        {
            init_error = "could not reserve the emulated device's 16 GiB address range (mmap failed)";
            return false;
        }
        base = static_cast<char*>(b);
        owner = static_cast<uint32_t*>(o);
        size_at = static_cast<uint64_t*>(s);
        free_ranges[1] = kGranules - 1; // granule 0 stays a gap
        return true;
    }
};

Arena* g_arena = nullptr;
uintptr_t g_arena_base = 0;
size_t g_arena_size = 0;
std::once_flag g_arena_once;

Arena* arena()
{
    std::call_once(g_arena_once, [] {
        auto* a = new Arena();
        if (a->init()) { g_arena_base = reinterpret_cast<uintptr_t>(a->base); g_arena_size = kArenaBytes; }
        g_arena = a;
    });
    return g_arena;
}

// ---- kernel registry -----------------------------------------------------------------------------
struct KernelEntry
{
    std::string name;
    sk_emu_thunk thunk;
    int params;
    sk_emu_tls_anchor anchor;
    std::string source;
    sk_emu_tls_anchor dynamic_area; // the TU's TLS area behind literal `extern __shared__ T name[]`, or null
};

std::mutex& registry_mutex() { static std::mutex m; return m; }
// a deque: entries never move, so names and entries handed out stay valid while images are loaded
std::deque<KernelEntry>& registry() { static std::deque<KernelEntry> r; return r; }

// ---- workers, fibers ---------------------------------------------------------------------------
enum class FState : uint8_t { Runnable, BlockBarrier, WarpOp, Exited };
enum WarpKind : int { ShflIdx = 0, ShflUp = 1, ShflDown = 2, ShflXor = 3, SyncWarp = 4, Ballot = 5, Any = 6, All = 7, MatchAny = 8 };

struct Fiber
{
    void* sp;
    FState state;
    unsigned tid;
    uint3 tidx;
    const char* file;
    int line;
    int op;       // block barrier: -1 plain, 0 count, 1 and, 2 or; warp: WarpKind
    int pred;
    unsigned mask;
    unsigned long long bits;
    int param;
    int width;
    unsigned long long result;
};

struct Shadow
{
    uint16_t wtid; // writer tid + 1, 0 = never written this block
    uint16_t rtid; // (first) reader tid + 1
    uint8_t rmany; // several distinct readers
    uint8_t rmultiwarp; // readers in several warps
    uint32_t wblk, wwarp, rblk, rwarp;
    uint32_t serial; // the block this cell describes; other values mean "not accessed in this block"
};

struct Span { uintptr_t lo, hi; };
struct TlsRange { sk_emu_tls_anchor anchor; char* lo; size_t size; std::vector<Span> image; };

struct Launch;

struct Worker
{
    void* sched_sp = nullptr;
    Fiber* fibers = nullptr;
    char* stacks = nullptr;
    size_t stacks_bytes = 0;
    Fiber* cur = nullptr;
    // the block being run
    Launch* launch = nullptr;
    uint3 bidx{};
    unsigned nthreads = 0;
    char* dyn = nullptr;
    Shadow* dyn_shadow = nullptr;
    char* tls_lo = nullptr;
    size_t tls_size = 0;
    std::vector<Shadow> tls_shadow;
    std::deque<TlsRange> tls_ranges;
    const std::vector<Span>* image = nullptr; // the kernel module's loaded segments (its globals and constants)
    uint32_t block_epoch = 1;
    uint32_t block_serial = 0;
    char* own_dyn = nullptr;
    uint32_t warp_epoch[kMaxThreads / kWarp]{};
    bool failed = false;
    std::string error;
};

struct Launch
{
    const KernelEntry* kernel;
    uint3 grid, block;
    unsigned shared_bytes;
    void** args;
    unsigned long long blocks;
    std::atomic<unsigned long long> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::string error;
    unsigned remaining_workers = 0;
};

// Default (dynamic) TLS model, not initial-exec: one initial-exec variable makes the loader place the whole
// module's TLS block, which also holds every kernel's static __shared__ arrays, in the small static TLS
// surplus, and dlopen then fails ("cannot allocate memory in static TLS block") once kernels use ~10 KB.
thread_local Worker* g_worker = nullptr;
const bool g_strict_barriers = [] { const char* e = getenv("SK_EMU_STRICT_BARRIERS"); return e && e[0] == '1'; }();

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

uint3 coords(unsigned tid, uint3 dim)
{
    return uint3{tid % dim.x, (tid / dim.x) % dim.y, tid / (dim.x * dim.y)};
}

std::string thread_name(Worker* w, unsigned tid)
{
    uint3 t = coords(tid, w->launch->block);
    return format("thread (%u,%u,%u)", t.x, t.y, t.z);
}

std::string where(Worker* w)
{
    return format("kernel '%s' block (%u,%u,%u)", w->launch->kernel->name.c_str(), w->bidx.x, w->bidx.y, w->bidx.z);
}

[[noreturn]] void fail_in_fiber(Worker* w, std::string message)
{
    if (!w->failed) { w->failed = true; w->error = std::move(message); }
    void* dummy;
    sk_emu_ctx_switch(&dummy, w->sched_sp); // never resumed: the block is abandoned
    __builtin_unreachable();
}

void fail_block(Worker* w, std::string message)
{
    if (!w->failed) { w->failed = true; w->error = std::move(message); }
}

bool worker_init(Worker* w)
{
    w->fibers = new Fiber[kMaxThreads];
    w->stacks_bytes = kMaxThreads * (kStackBytes + kGuardBytes);
    void* s = mmap(nullptr, w->stacks_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s == MAP_FAILED) return false;
    w->stacks = static_cast<char*>(s);
    for (unsigned i = 0; i < kMaxThreads; i++) mprotect(w->stacks + i * (kStackBytes + kGuardBytes), kGuardBytes, PROT_NONE);
    void* d = nullptr;
    if (posix_memalign(&d, 64, kDynSharedCapacity) != 0) return false;
    w->own_dyn = w->dyn = static_cast<char*>(d);
    w->dyn_shadow = new Shadow[kDynSharedCapacity]();
    return true;
}

extern "C" void sk_emu_fiber_entry()
{
    Worker* w = g_worker;
    Fiber* f = w->cur;
    w->launch->kernel->thunk(w->launch->args);
    f->state = FState::Exited;
    sk_emu_ctx_switch(&f->sp, w->sched_sp);
    __builtin_unreachable();
}

void fiber_start(Worker* w, Fiber* f, unsigned i)
{
    char* top = w->stacks + i * (kStackBytes + kGuardBytes) + kGuardBytes + kStackBytes;
    auto* sp = reinterpret_cast<uintptr_t*>(reinterpret_cast<uintptr_t>(top) & ~uintptr_t(15));
    *--sp = 0; // fake return address of the entry function
    *--sp = reinterpret_cast<uintptr_t>(&sk_emu_fiber_entry);
    for (int r = 0; r < 6; r++) *--sp = 0;
    f->sp = sp;
}

struct PhdrQuery { const void* code; char* tls; size_t tls_size; bool found; std::vector<Span> image; };

int phdr_callback(dl_phdr_info* info, size_t, void* data)
{
    auto* q = static_cast<PhdrQuery*>(data);
    auto addr = reinterpret_cast<uintptr_t>(q->code);
    bool contains = false;
    size_t tls_size = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
    {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD && addr >= info->dlpi_addr + ph.p_vaddr && addr < info->dlpi_addr + ph.p_vaddr + ph.p_memsz) contains = true;
        if (ph.p_type == PT_TLS) tls_size = ph.p_memsz;
    }
    if (!contains) return 0;
    q->found = true;
    for (int i = 0; i < info->dlpi_phnum; i++)
    {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD) q->image.push_back(Span{info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz});
    }
    q->tls = static_cast<char*>(info->dlpi_tls_data);
    q->tls_size = tls_size;
    return 1;
}

// The TLS block of the kernel's module on this worker: its static __shared__ arrays.
void select_tls(Worker* w, const KernelEntry* k)
{
    w->dyn = k->dynamic_area ? static_cast<char*>(k->dynamic_area()) : w->own_dyn;
    for (auto& r : w->tls_ranges)
        if (r.anchor == k->anchor) { w->tls_lo = r.lo; w->tls_size = r.size; w->image = &r.image; return; }
    char* anchor_addr = static_cast<char*>(k->anchor()); // allocates the module's TLS block on this thread
    PhdrQuery q{reinterpret_cast<const void*>(k->anchor), nullptr, 0, false, {}};
    dl_iterate_phdr(phdr_callback, &q);
    TlsRange r{k->anchor, q.tls, q.tls_size, q.image};
    if (!q.found || q.tls == nullptr || anchor_addr < q.tls || anchor_addr >= q.tls + q.tls_size)
    {
        r.lo = anchor_addr; r.size = 1; // unknown layout: no static shared tracking
    }
    w->tls_ranges.push_back(r);
    w->tls_lo = r.lo; w->tls_size = r.size;
    w->image = &w->tls_ranges.back().image;
    if (w->tls_shadow.size() < r.size) w->tls_shadow.resize(r.size);
}

// ---- block scheduling ----------------------------------------------------------------------------
std::string site(const Fiber& f) { return format("%s:%d", f.file ? f.file : "?", f.line); }

const char* warp_op_name(int op)
{
    switch (op)
    {
        case ShflIdx: return "__shfl_sync";
        case ShflUp: return "__shfl_up_sync";
        case ShflDown: return "__shfl_down_sync";
        case ShflXor: return "__shfl_xor_sync";
        case SyncWarp: return "__syncwarp";
        case Ballot: return "__ballot_sync";
        case Any: return "__any_sync";
        case MatchAny: return "__match_any_sync";
        default: return "__all_sync";
    }
}

std::string describe(Worker* w, const Fiber& f)
{
    switch (f.state)
    {
        case FState::Exited: return thread_name(w, f.tid) + " has exited";
        case FState::BlockBarrier: return thread_name(w, f.tid) + " waits at __syncthreads (" + site(f) + ")";
        case FState::WarpOp: return thread_name(w, f.tid) + format(" waits at %s(mask 0x%08x) (", warp_op_name(f.op), f.mask) + site(f) + ")";
        default: return thread_name(w, f.tid) + " is runnable";
    }
}

// Releases the warp operations whose named lanes have all arrived. Returns whether any was released.
bool release_warp_ops(Worker* w)
{
    bool released = false;
    unsigned n = w->nthreads;
    for (unsigned base = 0; base < n; base += kWarp)
    {
        unsigned lanes = std::min(kWarp, n - base);
        unsigned existing = lanes == 32 ? 0xFFFFFFFFu : ((1u << lanes) - 1);
        unsigned done = 0;
        for (unsigned l = 0; l < lanes; l++)
        {
            Fiber& f = w->fibers[base + l];
            if (f.state != FState::WarpOp || (done >> l & 1)) continue;
            unsigned group = f.mask & existing;
            bool ready = true;
            unsigned arrived = 0;
            for (unsigned j = 0; j < lanes && ready; j++)
            {
                if (!(group >> j & 1)) continue;
                Fiber& g = w->fibers[base + j];
                if (g.state == FState::Exited) continue; // exited lanes named in the mask do not take part
                if (g.state != FState::WarpOp || g.mask != f.mask || (g.op < SyncWarp) != (f.op < SyncWarp) || (g.op >= SyncWarp && g.op != f.op)) ready = false;
                else arrived |= 1u << j;
            }
            if (!ready) continue;
            unsigned ballot = 0;
            for (unsigned j = 0; j < lanes; j++)
                if ((arrived >> j & 1) && w->fibers[base + j].pred) ballot |= 1u << j;
            for (unsigned j = 0; j < lanes; j++)
            {
                if (!(arrived >> j & 1)) continue;
                Fiber& g = w->fibers[base + j];
                switch (g.op)
                {
                    case Ballot: g.result = ballot; break;
                    case Any: g.result = ballot != 0; break;
                    case All: g.result = ballot == arrived; break;
                    case MatchAny:
                    {
                        // The arrived lanes whose value has the same bits as this lane's (itself included).
                        unsigned same = 0;
                        for (unsigned q = 0; q < lanes; q++)
                            if ((arrived >> q & 1) && w->fibers[base + q].bits == g.bits) same |= 1u << q;
                        g.result = same;
                        break;
                    }
                    case SyncWarp: g.result = 0; break;
                    default:
                    {
                        unsigned width = static_cast<unsigned>(g.width);
                        unsigned seg = j & ~(width - 1);
                        unsigned src = j;
                        int p = g.param;
                        if (g.op == ShflIdx) src = seg + (static_cast<unsigned>(p) & (width - 1));
                        else if (g.op == ShflUp) src = (p >= 0 && (j & (width - 1)) >= static_cast<unsigned>(p)) ? j - p : j;
                        else if (g.op == ShflDown) src = (p >= 0 && (j & (width - 1)) + static_cast<unsigned>(p) < width) ? j + p : j;
                        else { src = j ^ static_cast<unsigned>(p); if (src >= seg + width) src = j; }
                        if (src == j) g.result = g.bits;
                        else if (src < lanes && (arrived >> src & 1)) g.result = w->fibers[base + src].bits;
                        else g.result = ~0ull; // an inactive or exited lane: undefined on a GPU, poison here
                    }
                }
                g.state = FState::Runnable;
                done |= 1u << j;
            }
            w->warp_epoch[base / kWarp]++;
            released = true;
        }
    }
    return released;
}

bool release_block_barrier(Worker* w)
{
    unsigned n = w->nthreads;
    const Fiber* first = nullptr;
    for (unsigned i = 0; i < n; i++)
    {
        const Fiber& f = w->fibers[i];
        // As on the GPU (PTX bar.sync waits for the non-exited threads), exited threads count as
        // arrived, unless SK_EMU_STRICT_BARRIERS=1 asks that every thread reach every barrier.
        if (f.state == FState::Exited && !g_strict_barriers) continue;
        if (f.state != FState::BlockBarrier) return false;
        if (!first) first = &f;
        else if (f.line != first->line || f.file != first->file)
        {
            fail_block(w, format("divergent __syncthreads in %s: %s waits at %s but %s waits at %s",
                where(w).c_str(), thread_name(w, first->tid).c_str(), site(*first).c_str(), thread_name(w, f.tid).c_str(), site(f).c_str()));
            return false;
        }
    }
    int count = 0, waiting = 0;
    for (unsigned i = 0; i < n; i++)
        if (w->fibers[i].state == FState::BlockBarrier) { count += w->fibers[i].pred; waiting++; }
    for (unsigned i = 0; i < n; i++)
    {
        Fiber& f = w->fibers[i];
        if (f.state != FState::BlockBarrier) continue;
        f.result = f.op == 0 ? count : f.op == 1 ? (count == waiting) : f.op == 2 ? (count > 0) : 0;
        f.state = FState::Runnable;
    }
    w->block_epoch++;
    return true;
}

std::string deadlock_report(Worker* w)
{
    unsigned n = w->nthreads;
    // Prefer naming a thread at a barrier and one that keeps it from completing.
    const Fiber* waiting = nullptr;
    const Fiber* other = nullptr;
    for (unsigned i = 0; i < n; i++)
        if (w->fibers[i].state == FState::BlockBarrier) { waiting = &w->fibers[i]; break; }
    if (waiting)
    {
        for (unsigned i = 0; i < n; i++)
            if (w->fibers[i].state != FState::BlockBarrier) { other = &w->fibers[i]; break; }
    }
    else
    {
        for (unsigned i = 0; i < n && !waiting; i++)
        {
            const Fiber& f = w->fibers[i];
            if (f.state != FState::WarpOp) continue;
            waiting = &f;
            unsigned base = f.tid / kWarp * kWarp;
            for (unsigned j = 0; j < kWarp && base + j < n; j++)
            {
                const Fiber& g = w->fibers[base + j];
                if ((f.mask >> j & 1) && g.state != FState::Exited && (g.state != FState::WarpOp || g.mask != f.mask || g.op != f.op)) { other = &g; break; }
            }
        }
    }
    unsigned at_barrier = 0, at_warp = 0, exited = 0;
    for (unsigned i = 0; i < n; i++)
    {
        auto s = w->fibers[i].state;
        at_barrier += s == FState::BlockBarrier;
        at_warp += s == FState::WarpOp;
        exited += s == FState::Exited;
    }
    std::string msg = "deadlock in " + where(w) + ": a barrier that not all threads reach (" +
        format("%u of %u threads wait at __syncthreads, %u at warp operations, %u have exited)", at_barrier, n, at_warp, exited);
    if (waiting) msg += ": " + describe(w, *waiting);
    if (other) msg += ", but " + describe(w, *other);
    return msg;
}

bool run_block(Worker* w, uint3 bidx)
{
    Launch* L = w->launch;
    w->bidx = bidx;
    unsigned n = w->nthreads;
    w->failed = false;
    w->error.clear();
    w->block_epoch = 1;
    for (auto& e : w->warp_epoch) e = 1;
    // poison shared memory; forget last block's accesses
    std::memset(w->dyn, 0xFF, L->shared_bytes); // accesses past shared_bytes are reported, not read
    if (++w->block_serial == 0)
    {
        // wrapped: really clear the shadows once every 2^32 blocks
        std::memset(static_cast<void*>(w->dyn_shadow), 0, sizeof(Shadow) * kDynSharedCapacity);
        std::memset(static_cast<void*>(w->tls_shadow.data()), 0, sizeof(Shadow) * w->tls_shadow.size());
        w->block_serial = 1;
    }
    if (w->tls_size > 1)
    {
        // The block may cover g_worker when the kernel lives in this library: put it back. The volatile
        // store keeps the compiler from treating the restore as redundant (it cannot see that the
        // memset aliases g_worker).
        std::memset(w->tls_lo, 0xFF, w->tls_size);
        asm volatile("" ::: "memory");
        *static_cast<Worker* volatile*>(&g_worker) = w;
        asm volatile("" ::: "memory");
    }
    for (unsigned i = 0; i < n; i++)
    {
        Fiber& f = w->fibers[i];
        f.state = FState::Runnable;
        f.tid = i;
        f.tidx = coords(i, L->block);
        f.file = nullptr; f.line = 0; f.op = -1; f.pred = 0; f.mask = 0; f.bits = 0; f.result = 0;
        fiber_start(w, &f, i);
    }
    for (;;)
    {
        for (unsigned i = 0; i < n; i++)
        {
            Fiber& f = w->fibers[i];
            if (f.state != FState::Runnable) continue;
            w->cur = &f;
            sk_emu_ctx_switch(&w->sched_sp, f.sp);
            w->cur = nullptr;
            if (w->failed) return false;
            if (L->failed.load(std::memory_order_relaxed)) return true; // another block failed; stop quietly
        }
        bool all_exited = true;
        for (unsigned i = 0; i < n; i++) all_exited &= w->fibers[i].state == FState::Exited;
        if (all_exited) return true;
        if (release_warp_ops(w)) continue;
        if (release_block_barrier(w)) continue;
        if (w->failed) return false;
        fail_block(w, deadlock_report(w));
        return false;
    }
}

void run_launch(Worker* w, Launch* L)
{
    w->launch = L;
    w->nthreads = L->block.x * L->block.y * L->block.z;
    select_tls(w, L->kernel);
    for (;;)
    {
        if (L->failed.load()) break;
        unsigned long long b = L->next.fetch_add(1);
        if (b >= L->blocks) break;
        uint3 bidx{static_cast<unsigned>(b % L->grid.x), static_cast<unsigned>((b / L->grid.x) % L->grid.y), static_cast<unsigned>(b / (static_cast<unsigned long long>(L->grid.x) * L->grid.y))};
        if (!run_block(w, bidx))
        {
            std::lock_guard<std::mutex> lock(L->error_mutex);
            if (!L->failed.exchange(true)) L->error = w->error;
        }
    }
    w->launch = nullptr;
}

// ---- worker pool ---------------------------------------------------------------------------------
struct Pool
{
    std::mutex mutex;
    std::condition_variable work_cv, done_cv;
    Launch* current = nullptr;
    unsigned long long generation = 0;
    unsigned busy = 0;
    unsigned size = 0;
    std::string init_error;
    std::mutex launch_mutex; // one launch at a time
};

Pool* g_pool = nullptr;
std::once_flag g_pool_once;

void worker_main(Pool* p, Worker* w)
{
    g_worker = w;
    unsigned long long seen = 0;
    for (;;)
    {
        Launch* L;
        {
            std::unique_lock<std::mutex> lock(p->mutex);
            p->work_cv.wait(lock, [&] { return p->generation != seen; });
            seen = p->generation;
            L = p->current;
        }
        run_launch(w, L);
        {
            std::lock_guard<std::mutex> lock(p->mutex);
            if (--p->busy == 0) p->done_cv.notify_all();
        }
    }
}

Pool* pool()
{
    std::call_once(g_pool_once, [] {
        auto* p = new Pool();
        unsigned n = 2;
        if (const char* e = getenv("SK_EMU_WORKERS")) { int v = atoi(e); if (v >= 1 && v <= 64) n = static_cast<unsigned>(v); }
        for (unsigned i = 0; i < n; i++)
        {
            auto* w = new Worker();
            if (!worker_init(w)) { p->init_error = "could not allocate fiber stacks for the emulator's worker threads"; break; }
            std::thread(worker_main, p, w).detach();
            p->size++;
        }
        g_pool = p;
    });
    return g_pool;
}

void copy_error(const std::string& msg, char* error, int capacity)
{
    if (!error || capacity <= 0) return;
    size_t n = std::min(msg.size(), static_cast<size_t>(capacity - 1));
    std::memcpy(error, msg.data(), n);
    error[n] = 0;
}

// ---- memory checks -------------------------------------------------------------------------------
std::string describe_arena_address(uintptr_t a, size_t access_size)
{
    Arena* ar = g_arena;
    size_t g = (a - g_arena_base) >> kGranuleShift;
    // nearest live allocation before and after
    const size_t limit = 1 << 20;
    long long before_start = -1, after_start = -1;
    for (size_t i = 0; i <= g && i < limit; i++)
        if (uint32_t o = ar->owner[g - i]; o && !(o & kFreedBit)) { before_start = o - 1; break; }
    for (size_t i = 1; g + i < kGranules && i < limit; i++)
        if (uint32_t o = ar->owner[g + i]; o && !(o & kFreedBit)) { after_start = o - 1; break; }
    std::string best;
    unsigned long long best_dist = ~0ull;
    if (before_start >= 0)
    {
        uintptr_t s = g_arena_base + (static_cast<size_t>(before_start) << kGranuleShift);
        uint64_t size = ar->size_at[before_start];
        unsigned long long d = a + access_size - (s + size);
        best = format("%llu bytes past the end of a %llu-byte buffer at 0x%llx (offset %llu)", d, static_cast<unsigned long long>(size),
            static_cast<unsigned long long>(s), static_cast<unsigned long long>(a - s));
        best_dist = d;
    }
    if (after_start >= 0)
    {
        uintptr_t s = g_arena_base + (static_cast<size_t>(after_start) << kGranuleShift);
        unsigned long long d = s - a;
        if (d < best_dist)
            best = format("%llu bytes before the start of a %llu-byte buffer at 0x%llx", d, static_cast<unsigned long long>(ar->size_at[after_start]), static_cast<unsigned long long>(s));
    }
    if (best.empty()) best = "not inside any live device allocation";
    return best;
}

// Returns an empty string when [a, a+size) lies inside one live allocation.
std::string arena_violation(uintptr_t a, size_t size)
{
    Arena* ar = g_arena;
    size_t g = (a - g_arena_base) >> kGranuleShift;
    uint32_t o = ar->owner[g];
    if (o != 0 && !(o & kFreedBit))
    {
        uintptr_t s = g_arena_base + (static_cast<size_t>(o - 1) << kGranuleShift);
        uint64_t bytes = ar->size_at[o - 1];
        if (a + size <= s + bytes) return {};
        if (a < s + bytes)
            return format("the access overruns the end of a %llu-byte buffer at 0x%llx by %llu bytes", static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(s), static_cast<unsigned long long>(a + size - (s + bytes)));
    }
    if (o & kFreedBit)
    {
        uintptr_t s = g_arena_base + (static_cast<size_t>((o & ~kFreedBit) - 1) << kGranuleShift);
        return format("use after free: inside a %llu-byte buffer at 0x%llx (offset %llu) that was freed",
            static_cast<unsigned long long>(ar->size_at[(o & ~kFreedBit) - 1]), static_cast<unsigned long long>(s), static_cast<unsigned long long>(a - s));
    }
    return describe_arena_address(a, size);
}

void report_access(Worker* w, const char* kind, uintptr_t a, size_t size, bool write, const std::string& detail)
{
    fail_in_fiber(w, format("out-of-bounds %s of %zu bytes (%s) in %s %s at address 0x%llx: %s", write ? "write" : "read", size, kind,
        where(w).c_str(), thread_name(w, w->cur->tid).c_str(), static_cast<unsigned long long>(a), detail.c_str()));
}

void shared_race(Worker* w, const char* region, size_t offset, uintptr_t a, bool write, const char* prior, unsigned other_tid, bool several)
{
    fail_in_fiber(w, format("shared-memory race in %s at 0x%llx (%s offset %zu): %s %s it, but %s%s %s it in the same barrier interval (no __syncthreads between the two accesses)",
        where(w).c_str(), static_cast<unsigned long long>(a), region, offset, thread_name(w, w->cur->tid).c_str(), write ? "writes" : "reads",
        thread_name(w, other_tid).c_str(), several ? " (and other threads)" : "", prior));
}

inline bool ordered(Worker* w, unsigned other_tid, uint32_t other_blk, uint32_t other_warp, unsigned tid)
{
    if (other_blk != w->block_epoch) return true; // a __syncthreads separates them
    if (other_tid / kWarp == tid / kWarp && other_warp != w->warp_epoch[tid / kWarp]) return true; // same warp, a warp sync separates them
    return false;
}

void track_shared(Worker* w, Shadow* shadow, const char* region, size_t offset, uintptr_t a, size_t size, bool write)
{
    unsigned tid = w->cur->tid;
    uint16_t me = static_cast<uint16_t>(tid + 1);
    uint32_t be = w->block_epoch, we = w->warp_epoch[tid / kWarp];
    for (size_t i = 0; i < size; i++)
    {
        Shadow& c = shadow[offset + i];
        if (c.serial != w->block_serial) { c = Shadow{}; c.serial = w->block_serial; }
        if (c.wtid && c.wtid != me && !ordered(w, c.wtid - 1u, c.wblk, c.wwarp, tid))
            shared_race(w, region, offset + i, a + i, write, "wrote", c.wtid - 1u, false);
        if (write)
        {
            if (c.rtid && c.rblk == be)
            {
                bool race;
                if (c.rmany) race = c.rmultiwarp || (c.rtid - 1u) / kWarp != tid / kWarp || c.rwarp == we;
                else race = c.rtid != me && !ordered(w, c.rtid - 1u, c.rblk, c.rwarp, tid);
                if (race)
                {
                    unsigned reader = c.rtid - 1u;
                    shared_race(w, region, offset + i, a + i, write, "read", reader, c.rmany);
                }
            }
            c.wtid = me; c.wblk = be; c.wwarp = we;
            c.rtid = 0; c.rmany = 0; c.rmultiwarp = 0;
        }
        else
        {
            if (c.rtid == 0 || c.rblk != be || (!c.rmany && ordered(w, c.rtid - 1u, c.rblk, c.rwarp, tid)))
            {
                c.rtid = me; c.rblk = be; c.rwarp = we; c.rmany = 0; c.rmultiwarp = 0;
            }
            else if (c.rtid != me)
            {
                if ((c.rtid - 1u) / kWarp != tid / kWarp) c.rmultiwarp = 1;
                c.rmany = 1;
                c.rwarp = we;
            }
        }
    }
}

// Kernel code may touch device memory, shared memory, its own stack and its module's globals
// (constant tables); anything else is a host, null or wild pointer, which on a GPU faults.
void check_other(Worker* w, uintptr_t a, size_t size, bool write)
{
    if (w->image)
        for (const Span& s : *w->image)
            if (a >= s.lo && a < s.hi) return;
    report_access(w, "not device memory", a, size, write,
        a < 65536 ? "a null pointer (or a small offset from one)"
                  : "the address is not in device memory, shared memory or the thread's own stack (a host pointer or a wild address)");
}

inline void access(const void* p, size_t size, bool write)
{
    Worker* w = g_worker;
    if (!w || !w->cur) return;
    auto a = reinterpret_cast<uintptr_t>(p);
    if (a - g_arena_base < g_arena_size)
    {
        std::string v = arena_violation(a, size);
        if (!v.empty()) report_access(w, "device memory", a, size, write, v);
        return;
    }
    if (a - reinterpret_cast<uintptr_t>(w->stacks) < w->stacks_bytes) return; // a thread's own locals
    auto dyn = reinterpret_cast<uintptr_t>(w->dyn);
    if (a - dyn < kDynSharedCapacity || (a < dyn && a + size > dyn))
    {
        unsigned bytes = w->launch->shared_bytes;
        if (a < dyn || a + size > dyn + bytes)
            report_access(w, "dynamic shared memory", a, size, write,
                a < dyn ? format("%llu bytes before the start of the %u-byte dynamic shared memory", static_cast<unsigned long long>(dyn - a), bytes)
                        : format("%llu bytes past the end of the %u-byte dynamic shared memory (the launch's sharedBytes)", static_cast<unsigned long long>(a + size - (dyn + bytes)), bytes));
        track_shared(w, w->dyn_shadow, "dynamic shared memory", a - dyn, a, size, write);
        return;
    }
    auto tls = reinterpret_cast<uintptr_t>(w->tls_lo);
    if (a - tls < w->tls_size && w->tls_size > 1)
    {
        size_t n = std::min(size, w->tls_size - (a - tls));
        track_shared(w, w->tls_shadow.data(), "static shared memory", a - tls, a, n, write);
        return;
    }
    check_other(w, a, size, write);
}

} // namespace

// ---- the TSan instrumentation's hooks -------------------------------------------------------------
extern "C" {
#define SK_HOOK(n) \
    __attribute__((visibility("default"))) void __tsan_read##n(void* p) { access(p, n, false); } \
    __attribute__((visibility("default"))) void __tsan_write##n(void* p) { access(p, n, true); } \
    __attribute__((visibility("default"))) void __tsan_unaligned_read##n(void* p) { access(p, n, false); } \
    __attribute__((visibility("default"))) void __tsan_unaligned_write##n(void* p) { access(p, n, true); }
SK_HOOK(1) SK_HOOK(2) SK_HOOK(4) SK_HOOK(8) SK_HOOK(16)
#undef SK_HOOK
__attribute__((visibility("default"))) void __tsan_read_range(void* p, unsigned long n) { access(p, n, false); }
__attribute__((visibility("default"))) void __tsan_write_range(void* p, unsigned long n) { access(p, n, true); }
__attribute__((visibility("default"))) void __tsan_init() {}
__attribute__((visibility("default"))) void __tsan_func_entry(void*) {}
__attribute__((visibility("default"))) void __tsan_func_exit() {}
__attribute__((visibility("default"))) void __tsan_vptr_update(void**, void*) {}
__attribute__((visibility("default"))) void __tsan_vptr_read(void**) {}
}

// ---- device-side entry points (called from kernel code) -------------------------------------------
extern "C" {

SK_EMU_API uint3 sk_emu_thread_idx(void) { return g_worker->cur->tidx; }
SK_EMU_API uint3 sk_emu_block_idx(void) { return g_worker->bidx; }
SK_EMU_API uint3 sk_emu_block_dim(void) { return g_worker->launch->block; }
SK_EMU_API uint3 sk_emu_grid_dim(void) { return g_worker->launch->grid; }
SK_EMU_API void* sk_emu_dynamic_shared(void) { return g_worker->dyn; }

SK_EMU_API int sk_emu_syncthreads_op(int op, int predicate, const char* file, int line)
{
    Worker* w = g_worker;
    Fiber* f = w->cur;
    f->state = FState::BlockBarrier;
    f->op = op; f->pred = predicate; f->file = file; f->line = line;
    sk_emu_ctx_switch(&f->sp, w->sched_sp);
    return static_cast<int>(f->result);
}

SK_EMU_API void sk_emu_syncthreads(const char* file, int line) { sk_emu_syncthreads_op(-1, 0, file, line); }

unsigned long long warp_op(int kind, unsigned mask, unsigned long long bits, int param, int width, int pred, const char* file, int line)
{
    Worker* w = g_worker;
    Fiber* f = w->cur;
    unsigned lane = f->tid % kWarp;
    if (!(mask >> lane & 1))
        fail_in_fiber(w, format("%s in %s %s (%s:%d): mask 0x%08x does not include the calling lane %u", warp_op_name(kind), where(w).c_str(),
            thread_name(w, f->tid).c_str(), file, line, mask, lane));
    if (kind < SyncWarp && (width < 1 || width > 32 || (width & (width - 1)) != 0))
        fail_in_fiber(w, format("%s in %s %s (%s:%d): width %d is not a power of two between 1 and 32", warp_op_name(kind), where(w).c_str(),
            thread_name(w, f->tid).c_str(), file, line, width));
    f->state = FState::WarpOp;
    f->op = kind; f->mask = mask; f->bits = bits; f->param = param; f->width = width; f->pred = pred; f->file = file; f->line = line;
    sk_emu_ctx_switch(&f->sp, w->sched_sp);
    return f->result;
}

SK_EMU_API void sk_emu_syncwarp(unsigned mask, const char* file, int line) { warp_op(SyncWarp, mask, 0, 0, 32, 0, file, line); }

SK_EMU_API unsigned long long sk_emu_shfl(int kind, unsigned mask, unsigned long long bits, int lane_or_delta, int width, const char* file, int line)
{
    return warp_op(kind, mask, bits, lane_or_delta, width, 0, file, line);
}

SK_EMU_API unsigned sk_emu_vote(int kind, unsigned mask, int predicate, const char* file, int line)
{
    return static_cast<unsigned>(warp_op(Ballot + kind, mask, 0, 0, 32, predicate, file, line));
}

SK_EMU_API unsigned sk_emu_match_any(unsigned mask, unsigned long long bits, const char* file, int line)
{
    return static_cast<unsigned>(warp_op(MatchAny, mask, bits, 0, 32, 0, file, line));
}

SK_EMU_API unsigned sk_emu_activemask(void)
{
    Worker* w = g_worker;
    unsigned base = w->cur->tid / kWarp * kWarp, m = 0;
    for (unsigned j = 0; j < kWarp && base + j < w->nthreads; j++)
        if (w->fibers[base + j].state != FState::Exited) m |= 1u << j;
    return m;
}

SK_EMU_API void sk_emu_check_atomic(const void* address, int bytes)
{
    Worker* w = g_worker;
    if (!w || !w->cur) return;
    auto a = reinterpret_cast<uintptr_t>(address);
    if (a % static_cast<unsigned>(bytes) != 0)
        fail_in_fiber(w, format("misaligned %d-byte atomic in %s %s at address 0x%llx", bytes, where(w).c_str(), thread_name(w, w->cur->tid).c_str(), static_cast<unsigned long long>(a)));
    if (a - g_arena_base < g_arena_size)
    {
        std::string v = arena_violation(a, static_cast<size_t>(bytes));
        if (!v.empty()) report_access(w, "device memory, atomic", a, static_cast<size_t>(bytes), true, v);
        return;
    }
    auto dyn = reinterpret_cast<uintptr_t>(w->dyn);
    if (a - dyn < kDynSharedCapacity)
    {
        if (a + bytes > dyn + w->launch->shared_bytes)
            report_access(w, "dynamic shared memory, atomic", a, static_cast<size_t>(bytes), true,
                format("past the end of the %u-byte dynamic shared memory", w->launch->shared_bytes));
        return;
    }
    if (a - reinterpret_cast<uintptr_t>(w->tls_lo) < w->tls_size) return;
    if (a - reinterpret_cast<uintptr_t>(w->stacks) < w->stacks_bytes) return;
    check_other(w, a, static_cast<size_t>(bytes), true);
}

SK_EMU_API void sk_emu_trap(const char* what, const char* file, int line)
{
    Worker* w = g_worker;
    fail_in_fiber(w, format("%s in %s %s at %s:%d", what, where(w).c_str(), thread_name(w, w->cur->tid).c_str(), file, line));
}

// ---- registration (from the generated wrapper translation units) -------------------------------------
SK_EMU_API void sk_emu_register_kernel(const char* name, sk_emu_thunk thunk, int params, sk_emu_tls_anchor anchor, const char* source,
    sk_emu_tls_anchor dynamic_area)
{
    std::lock_guard<std::mutex> lock(registry_mutex());
    for (auto& k : registry())
        if (k.name == name) { k = KernelEntry{name, thunk, params, anchor, source, dynamic_area}; return; }
    registry().push_back(KernelEntry{name, thunk, params, anchor, source, dynamic_area});
}

// ---- host entry points ---------------------------------------------------------------------------
SK_EMU_API int sk_emu_abi_version(void) { return SK_EMU_ABI_VERSION; }

SK_EMU_API int sk_emu_kernel_count(void)
{
    std::lock_guard<std::mutex> lock(registry_mutex());
    return static_cast<int>(registry().size());
}

SK_EMU_API const char* sk_emu_kernel_name(int index)
{
    std::lock_guard<std::mutex> lock(registry_mutex());
    if (index < 0 || static_cast<size_t>(index) >= registry().size()) return nullptr;
    return registry()[static_cast<size_t>(index)].name.c_str();
}

SK_EMU_API int sk_emu_kernel_param_count(const char* name)
{
    std::lock_guard<std::mutex> lock(registry_mutex());
    for (auto& k : registry())
        if (k.name == name) return k.params;
    return -1;
}

SK_EMU_API int sk_emu_launch(const char* kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned shared_bytes, void** args, char* error, int error_capacity)
{
    const KernelEntry* k = nullptr;
    {
        std::lock_guard<std::mutex> lock(registry_mutex());
        for (auto& e : registry())
            if (e.name == kernel) { k = &e; break; }
    }
    if (!k) { copy_error(format("no kernel named '%s' is registered with the emulated device", kernel ? kernel : "(null)"), error, error_capacity); return 1; }
    unsigned long long threads = static_cast<unsigned long long>(bx) * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || threads == 0)
    {
        copy_error(format("launch of '%s' with an empty grid (%u,%u,%u) or block (%u,%u,%u)", kernel, gx, gy, gz, bx, by, bz), error, error_capacity);
        return 1;
    }
    if (threads > kMaxThreads || bz > 64 || gy > 65535 || gz > 65535)
    {
        copy_error(format("launch of '%s': block (%u,%u,%u) has %llu threads (at most 1024, z at most 64) or grid (%u,%u,%u) exceeds 65535 in y or z",
            kernel, bx, by, bz, threads, gx, gy, gz), error, error_capacity);
        return 1;
    }
    if (shared_bytes > kDynSharedCapacity)
    {
        copy_error(format("launch of '%s' asks for %u bytes of dynamic shared memory; the emulated device has %zu", kernel, shared_bytes, kDynSharedCapacity), error, error_capacity);
        return 1;
    }
    if (k->params > 0 && args == nullptr)
    {
        copy_error(format("launch of '%s' without arguments; it takes %d", kernel, k->params), error, error_capacity);
        return 1;
    }
    if (!arena()->init_error.empty()) { copy_error(arena()->init_error, error, error_capacity); return 1; }
    Pool* p = pool();
    if (p->size == 0) { copy_error(p->init_error, error, error_capacity); return 1; }
    std::lock_guard<std::mutex> one_launch(p->launch_mutex);
    Launch L;
    L.kernel = k;
    L.grid = uint3{gx, gy, gz};
    L.block = uint3{bx, by, bz};
    L.shared_bytes = shared_bytes;
    L.args = args;
    L.blocks = static_cast<unsigned long long>(gx) * gy * gz;
    {
        std::unique_lock<std::mutex> lock(p->mutex);
        p->current = &L;
        p->busy = p->size;
        p->generation++;
        p->work_cv.notify_all();
        p->done_cv.wait(lock, [&] { return p->busy == 0; });
        p->current = nullptr;
    }
    if (L.failed.load())
    {
        copy_error(L.error, error, error_capacity);
        return 2;
    }
    return 0;
}

SK_EMU_API void* sk_emu_malloc(unsigned long long bytes)
{
    Arena* a = arena();
    if (!a->init_error.empty()) return nullptr;
    size_t granules = (std::max<unsigned long long>(bytes, 1) + kGranule - 1) >> kGranuleShift;
    size_t need = granules + 1; // + a gap granule that no allocation owns
    size_t start;
    {
        std::lock_guard<std::mutex> lock(a->mutex);
        // Next fit from where the last allocation ended: freed memory is not reused until the cursor
        // wraps around the 16 GiB arena, so a use after free is reported as one.
        bool found = false;
        auto it = a->free_ranges.upper_bound(a->cursor);
        if (it != a->free_ranges.begin())
        {
            auto p = std::prev(it);
            size_t pf = p->first, pend = p->first + p->second;
            if (pend > a->cursor && pend - a->cursor >= need)
            {
                a->free_ranges.erase(p);
                if (a->cursor > pf) a->free_ranges[pf] = a->cursor - pf;
                start = a->cursor;
                if (pend > start + need) a->free_ranges[start + need] = pend - (start + need);
                found = true;
            }
        }
        if (!found)
        {
            for (; it != a->free_ranges.end(); ++it)
                if (it->second >= need) break;
            if (it == a->free_ranges.end())
                for (it = a->free_ranges.begin(); it != a->free_ranges.end(); ++it)
                    if (it->second >= need) break;
            if (it == a->free_ranges.end()) return nullptr;
            start = it->first;
            size_t len = it->second;
            a->free_ranges.erase(it);
            if (len > need) a->free_ranges[start + need] = len - need;
        }
        a->cursor = start + need;
        for (size_t g = 0; g < granules; g++) a->owner[start + g] = static_cast<uint32_t>(start + 1);
        a->owner[start + granules] = 0; // the gap
        a->size_at[start] = bytes;
        a->used_bytes += need << kGranuleShift;
    }
    char* p = a->base + (start << kGranuleShift);
    std::memset(p, 0xFF, granules << kGranuleShift); // never-written device memory reads as NaN
    return p;
}

SK_EMU_API int sk_emu_free(void* ptr)
{
    Arena* a = arena();
    auto addr = reinterpret_cast<uintptr_t>(ptr);
    if (addr - g_arena_base >= g_arena_size || (addr - g_arena_base) % kGranule != 0) return 1;
    size_t start = (addr - g_arena_base) >> kGranuleShift;
    std::lock_guard<std::mutex> lock(a->mutex);
    if (a->owner[start] != start + 1) return 1;
    uint64_t bytes = a->size_at[start];
    size_t granules = (std::max<uint64_t>(bytes, 1) + kGranule - 1) >> kGranuleShift;
    for (size_t g = 0; g < granules; g++) a->owner[start + g] = static_cast<uint32_t>(start + 1) | kFreedBit; // size_at kept for reports
    size_t len = granules + 1;
    a->used_bytes -= len << kGranuleShift;
    {
        // give whole pages back to the system (they read as zero until reused; malloc poisons again)
        auto lo = reinterpret_cast<uintptr_t>(a->base + (start << kGranuleShift));
        auto hi = lo + (granules << kGranuleShift);
        uintptr_t page = 4096;
        lo = (lo + page - 1) & ~(page - 1);
        hi &= ~(page - 1);
        if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
    // insert and coalesce
    auto next = a->free_ranges.lower_bound(start);
    if (next != a->free_ranges.end() && start + len == next->first) { len += next->second; next = a->free_ranges.erase(next); }
    if (next != a->free_ranges.begin())
    {
        auto prev = std::prev(next);
        if (prev->first + prev->second == start) { prev->second += len; return 0; }
    }
    a->free_ranges[start] = len;
    return 0;
}

// Parks (parked != 0) a live allocation in a caching allocator's free list, or takes it back out: while parked,
// every access to it is reported as a use after free, exactly as for freed memory. Returns 0, or 1 when ptr is not
// the start of a live (to park) or parked (to unpark) allocation. sk_emu_free needs the allocation unparked.
SK_EMU_API int sk_emu_park(void* ptr, int parked)
{
    Arena* a = arena();
    auto addr = reinterpret_cast<uintptr_t>(ptr);
    if (addr - g_arena_base >= g_arena_size || (addr - g_arena_base) % kGranule != 0) return 1;
    size_t start = (addr - g_arena_base) >> kGranuleShift;
    std::lock_guard<std::mutex> lock(a->mutex);
    const uint32_t live = static_cast<uint32_t>(start + 1), want = parked ? live : (live | kFreedBit);
    if (a->owner[start] != want) return 1;
    size_t granules = (std::max<uint64_t>(a->size_at[start], 1) + kGranule - 1) >> kGranuleShift;
    for (size_t g = 0; g < granules; g++) a->owner[start + g] = parked ? (live | kFreedBit) : live;
    return 0;
}

// Checks that [ptr, ptr+bytes) lies inside one live allocation; on failure writes why.
SK_EMU_API int sk_emu_check_range(const void* ptr, unsigned long long bytes, char* error, int error_capacity)
{
    arena();
    auto a = reinterpret_cast<uintptr_t>(ptr);
    if (a - g_arena_base >= g_arena_size) { copy_error(format("0x%llx is not an emulated device address", static_cast<unsigned long long>(a)), error, error_capacity); return 1; }
    if (bytes == 0) return 0;
    std::string v = arena_violation(a, bytes);
    if (v.empty()) return 0;
    copy_error(format("%llu bytes at 0x%llx: %s", bytes, static_cast<unsigned long long>(a), v.c_str()), error, error_capacity);
    return 1;
}

SK_EMU_API void sk_emu_memcpy(void* dst, const void* src, unsigned long long bytes) { std::memmove(dst, src, bytes); }

SK_EMU_API void sk_emu_memset32(void* dst, unsigned value, unsigned long long count)
{
    auto* p = static_cast<unsigned*>(dst);
    for (unsigned long long i = 0; i < count; i++) p[i] = value;
}

SK_EMU_API void sk_emu_mem_info(unsigned long long* free_bytes, unsigned long long* total_bytes)
{
    Arena* a = arena();
    std::lock_guard<std::mutex> lock(a->mutex);
    *total_bytes = kArenaBytes;
    *free_bytes = kArenaBytes - a->used_bytes;
}

} // extern "C"
