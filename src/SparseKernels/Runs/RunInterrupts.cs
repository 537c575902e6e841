using System.Runtime.InteropServices;

namespace SparseKernels.Runs;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM for a training run: the first signal asks the run to stop after the current step
/// (<see cref="TrainingRun.StopRequested"/>; the run then writes a checkpoint atomically and returns), a second one
/// exits the process at once with the signal's code. Nothing is corrupted either way: every file the run writes goes
/// through a temporary file and a rename, so an exit at any moment leaves the previous or the new file, never half
/// of one (a stale <c>.tmp</c> at most). Exit codes follow the shell's 128 + signal: 130 (SIGINT), 143 (SIGTERM).
/// </summary>
public sealed class RunInterrupts : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations;
    private readonly TextWriter _log;
    private readonly Action<int> _exit;
    private int _signal;

    /// <summary>Registers the handlers; <paramref name="log"/> gets one line per signal; <paramref name="exitNow"/> ends the
    /// process on a second signal (default <see cref="Environment.Exit"/>).</summary>
    public RunInterrupts(TextWriter log, Action<int>? exitNow = null)
    {
        _log = log;
        _exit = exitNow ?? Environment.Exit;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
        ];
    }

    /// <summary>Whether a signal asked the run to stop.</summary>
    public bool Requested => Volatile.Read(ref _signal) != 0;
    /// <summary>The signal's name (SIGINT or SIGTERM), or "" when none came.</summary>
    public string SignalName => Volatile.Read(ref _signal) switch { 2 => "SIGINT", 15 => "SIGTERM", _ => "" };
    /// <summary>The exit code for the signal that came: 130 for SIGINT, 143 for SIGTERM (0 when none came).</summary>
    public int ExitCode => Volatile.Read(ref _signal) switch { 2 => 130, 15 => 143, _ => 0 };

    /// <summary>What a signal does; public for tests, which cannot send a signal to their own runner safely.</summary>
    public void Raise(PosixSignal signal) => Handle(signal, out _);

    private void Handle(PosixSignalContext context)
    {
        Handle(context.Signal, out bool cancel);
        context.Cancel = cancel;
    }

    private void Handle(PosixSignal signal, out bool cancel)
    {
        int code = signal == PosixSignal.SIGTERM ? 15 : 2;
        if (Interlocked.CompareExchange(ref _signal, code, 0) == 0)
        {
            _log.WriteLine($"{SignalName}: finishing the current step, then writing a checkpoint (send it again to exit at once).");
            _log.Flush();
            cancel = true;
            return;
        }
        _log.WriteLine($"{(code == 15 ? "SIGTERM" : "SIGINT")} again: exiting now; the files on disk are whole "
            + "(the last checkpoint written stays readable).");
        _log.Flush();
        cancel = true;
        _exit(128 + code);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
