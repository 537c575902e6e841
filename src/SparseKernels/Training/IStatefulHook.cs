namespace SparseKernels.Training;

/// <summary>
/// A step hook with state that a checkpoint must carry (a sparsity method: its step counters, seeds, schedules), so
/// that a resumed run continues exactly. <see cref="Checkpoint"/> writes the name and the state and, on load, refuses a
/// checkpoint written by a hook of another name.
/// </summary>
public interface IStatefulHook : IStepHook
{
    /// <summary>The name written into checkpoints (e.g. "rigl"); a resumed run must use a hook of the same name.</summary>
    string Name { get; }

    /// <summary>Writes the hook's state.</summary>
    void WriteState(BinaryWriter w);

    /// <summary>Restores what <see cref="WriteState"/> wrote, for the checkpoint's <paramref name="model"/>; throws
    /// <see cref="InvalidDataException"/> when the state does not fit.</summary>
    void ReadState(BinaryReader r, Sequential model);
}
