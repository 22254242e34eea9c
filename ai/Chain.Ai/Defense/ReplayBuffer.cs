namespace Chain.Ai.Defense;

/// <summary>One stored transition (a copy).</summary>
public sealed record Transition(float[] State, int Action, float Reward, float[] Next, bool Terminal);

/// <summary>
/// A fixed-capacity ring of transitions in flat arrays; once full, each new transition overwrites the oldest. Sampling
/// is uniform with replacement from a generator seeded at construction (the same adds and samples give the same
/// batches).
/// </summary>
public sealed class ReplayBuffer
{
    private readonly float[] _states;
    private readonly float[] _next;
    private readonly int[] _actions;
    private readonly float[] _rewards;
    private readonly bool[] _terminal;
    private readonly Random _random;

    public ReplayBuffer(int capacity, int stateWidth, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stateWidth, 1);
        if ((long)capacity * stateWidth > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity x state width is too large");
        Capacity = capacity;
        StateWidth = stateWidth;
        _states = new float[capacity * stateWidth];
        _next = new float[capacity * stateWidth];
        _actions = new int[capacity];
        _rewards = new float[capacity];
        _terminal = new bool[capacity];
        _random = new Random(seed);
    }

    public int Capacity { get; }

    public int StateWidth { get; }

    /// <summary>Transitions held (at most <see cref="Capacity"/>).</summary>
    public int Count { get; private set; }

    /// <summary>Transitions ever added.</summary>
    public long Added { get; private set; }

    public void Add(ReadOnlySpan<float> state, int action, float reward, ReadOnlySpan<float> next, bool terminal)
    {
        if (state.Length != StateWidth || next.Length != StateWidth)
            throw new ArgumentException($"states must have {StateWidth} values (got {state.Length} and {next.Length})");
        var slot = (int)(Added % Capacity);
        state.CopyTo(_states.AsSpan(slot * StateWidth, StateWidth));
        next.CopyTo(_next.AsSpan(slot * StateWidth, StateWidth));
        _actions[slot] = action;
        _rewards[slot] = reward;
        _terminal[slot] = terminal;
        Added++;
        Count = (int)Math.Min(Added, Capacity);
    }

    /// <summary>The transition in ring slot <paramref name="slot"/> (slot = its add number modulo the capacity).</summary>
    public Transition At(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Count);
        return new Transition(_states.AsSpan(slot * StateWidth, StateWidth).ToArray(), _actions[slot], _rewards[slot],
            _next.AsSpan(slot * StateWidth, StateWidth).ToArray(), _terminal[slot]);
    }

    /// <summary>
    /// Draws <paramref name="batch"/> transitions into the given buffers (row-major states; <paramref name="notTerminal"/>
    /// is 0 for terminal transitions, else 1).
    /// </summary>
    public void Sample(int batch, Span<float> states, Span<long> actions, Span<float> rewards, Span<float> next, Span<float> notTerminal)
    {
        if (Count == 0) throw new InvalidOperationException("the replay buffer is empty");
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (states.Length < batch * StateWidth || next.Length < batch * StateWidth || actions.Length < batch
            || rewards.Length < batch || notTerminal.Length < batch)
            throw new ArgumentException("a sample buffer is too small for the batch");
        for (var b = 0; b < batch; b++)
        {
            var i = _random.Next(Count);
            _states.AsSpan(i * StateWidth, StateWidth).CopyTo(states.Slice(b * StateWidth, StateWidth));
            _next.AsSpan(i * StateWidth, StateWidth).CopyTo(next.Slice(b * StateWidth, StateWidth));
            actions[b] = _actions[i];
            rewards[b] = _rewards[i];
            notTerminal[b] = _terminal[i] ? 0f : 1f;
        }
    }
}
