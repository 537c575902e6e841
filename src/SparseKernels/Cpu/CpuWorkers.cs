using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace SparseKernels.Cpu;

/// <summary>
/// Work split into <see cref="Count"/> chunks that the calling thread and the pool's workers claim one at a time
/// (an atomic counter), so a thread that is late or slowed by another process takes fewer chunks. A job object is
/// reused from call to call (its fields are set while <see cref="CpuWorkers"/>' call lock is held): nothing is
/// allocated per call.
/// </summary>
internal abstract class CpuJob
{
    /// <summary>The number of chunks of the current call.</summary>
    internal int Count;
    private int _next;
    private Exception? _error;

    /// <summary>Runs chunk <paramref name="chunk"/> (in [0, <see cref="Count"/>)).</summary>
    protected abstract void RunChunk(int chunk);

    /// <summary>Drops references to the caller's arrays once a call is over (so a pooled job keeps nothing alive).</summary>
    protected abstract void Clear();

    internal void Reset() { _next = 0; _error = null; }

    /// <summary>Claims and runs chunks until none is left; the first exception stops the claiming.</summary>
    internal void Drain()
    {
        int t;
        while ((t = Interlocked.Increment(ref _next) - 1) < Count)
        {
            try { RunChunk(t); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
                Volatile.Write(ref _next, int.MaxValue / 2);
            }
        }
    }

    /// <summary>Rethrows the first exception of a chunk (with its stack trace) and clears the caller's references.</summary>
    internal void Finish()
    {
        var e = _error;
        _error = null;
        Clear();
        if (e is not null) ExceptionDispatchInfo.Throw(e);
    }
}

/// <summary>
/// The CPU backend's persistent worker threads, shared by every <see cref="CpuBackend"/> of the process (grown to the
/// largest thread count asked for). A call publishes its job, runs chunks itself at once and, when no chunk is left,
/// waits only for the workers that joined (a worker still asleep never delays a call: the job is closed to late
/// joiners). Workers spin for a short while after each job, so back-to-back calls (a training step) find them
/// awake, then sleep on a monitor. One job runs at a time; concurrent callers take turns. No allocation per call.
/// </summary>
internal sealed class CpuWorkers
{
    /// <summary>The process-wide pool.</summary>
    internal static CpuWorkers Shared { get; } = new();

    private const int Closed = 1 << 30;
    private static readonly long s_spinTicks = Stopwatch.Frequency / 20_000;   // 50 us of spinning before sleeping

    private readonly object _call = new(), _gate = new();
    private Thread[] _threads = [];
    private CpuJob? _job;
    private int _generation, _state, _sleepers, _wanted;

    /// <summary>
    /// Runs every chunk of <paramref name="job"/> on the calling thread and up to <paramref name="threads"/> - 1
    /// workers; returns when all chunks are done, rethrowing the first exception of a chunk.
    /// </summary>
    internal void Run(CpuJob job, int threads)
    {
        lock (_call)
        {
            job.Reset();
            if (threads <= 1 || job.Count <= 1)
            {
                job.Drain();
                job.Finish();
                return;
            }
            EnsureThreads(threads - 1);
            _job = job;
            _wanted = threads - 1;
            Volatile.Write(ref _state, 0);             // open: workers may join
            Interlocked.Increment(ref _generation);    // full fence: the job and the state are published first
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_gate) Monitor.PulseAll(_gate);
            job.Drain();
            Interlocked.Or(ref _state, Closed);        // no late joiner from here on
            var spin = new SpinWait();
            while ((Volatile.Read(ref _state) & ~Closed) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _job = null;
            job.Finish();
        }
    }

    private void EnsureThreads(int count)
    {
        if (_threads.Length >= count) return;
        var threads = new Thread[count];
        Array.Copy(_threads, threads, _threads.Length);
        for (int w = _threads.Length; w < count; w++)
        {
            int index = w;
            threads[w] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"SparseKernels CPU worker {w + 1}" };
            threads[w].Start();
        }
        _threads = threads;
    }

    private void Loop(int index)
    {
        int seen = Volatile.Read(ref _generation);
        while (true)
        {
            seen = WaitForNext(seen);
            // Join unless closed (a job that ended while this thread was waking up).
            int s = Volatile.Read(ref _state);
            bool joined = false;
            while ((s & Closed) == 0)
            {
                int prev = Interlocked.CompareExchange(ref _state, s + 1, s);
                if (prev == s) { joined = true; break; }
                s = prev;
            }
            if (!joined) continue;
            // Joined an open job: _job and _wanted are those of the job now running (published before it opened).
            if (index < Volatile.Read(ref _wanted)) Volatile.Read(ref _job)!.Drain();
            Interlocked.Decrement(ref _state);
        }
    }

    private int WaitForNext(int seen)
    {
        long until = Stopwatch.GetTimestamp() + s_spinTicks;
        int g;
        while ((g = Volatile.Read(ref _generation)) == seen)
        {
            if (Stopwatch.GetTimestamp() > until)
            {
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers);   // full fence, then the generation is read again
                    while ((g = Volatile.Read(ref _generation)) == seen) Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
                return g;
            }
            Thread.SpinWait(20);
        }
        return g;
    }
}
