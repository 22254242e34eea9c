namespace Chain.Consensus;

/// <summary>How votes flow.</summary>
public enum ProtocolMode
{
    /// <summary>The improvement: votes go to the primary, which forwards certificates; fast path; reputation.</summary>
    Linear,
    /// <summary>Textbook PBFT: votes go to everyone, every replica forms certificates; round-robin primaries.</summary>
    Classic,
}

/// <summary>Consensus settings, in counts and logical ticks only. Immutable; call <see cref="Validate"/>.</summary>
public sealed record ConsensusOptions
{
    public ProtocolMode Mode { get; init; } = ProtocolMode.Linear;

    /// <summary>K: a checkpoint every K heights. Default 16.</summary>
    public int CheckpointInterval { get; init; } = 16;

    /// <summary>W: most heights in flight above the stable checkpoint (the high watermark). Default 2K = 32.</summary>
    public int Window { get; init; } = 32;

    /// <summary>Ticks the collector waits, after a quorum of prepare votes, for all n (the fast path). Default 2.</summary>
    public int FastPathTicks { get; init; } = 2;

    /// <summary>Ticks without progress (while work is pending) before a backup suspects the primary. Default 20.</summary>
    public int ProgressTimeoutTicks { get; init; } = 20;

    /// <summary>Ticks to wait for a new view before moving to the next; doubles each further view. Default 20.</summary>
    public int ViewChangeTimeoutTicks { get; init; } = 20;

    /// <summary>Cap on the back-off doubling. Default 6 (64 x the base timeout).</summary>
    public int MaxBackoffExponent { get; init; } = 6;

    /// <summary>Views a primary that caused a view change is passed over. Default 8.</summary>
    public int CoolOffViews { get; init; } = 8;

    /// <summary>Linear mode: choose primaries by reputation (true) or round-robin (false, for comparison). Default true.</summary>
    public bool UseReputation { get; init; } = true;

    /// <summary>Committed blocks the reputation scores look back over. Default 1,024.</summary>
    public int ReputationWindow { get; init; } = 1024;

    /// <summary>Largest proposal payload, in bytes. Default 16 MiB.</summary>
    public int MaxPayloadBytes { get; init; } = 16 << 20;

    public ConsensusOptions Validate()
    {
        if (CheckpointInterval < 1) throw new ArgumentOutOfRangeException(nameof(CheckpointInterval), "must be at least 1");
        if (Window < CheckpointInterval) throw new ArgumentOutOfRangeException(nameof(Window), "must be at least the checkpoint interval");
        if (FastPathTicks < 0) throw new ArgumentOutOfRangeException(nameof(FastPathTicks));
        if (ProgressTimeoutTicks < 1) throw new ArgumentOutOfRangeException(nameof(ProgressTimeoutTicks));
        if (ViewChangeTimeoutTicks < 1) throw new ArgumentOutOfRangeException(nameof(ViewChangeTimeoutTicks));
        if (MaxBackoffExponent is < 0 or > 20) throw new ArgumentOutOfRangeException(nameof(MaxBackoffExponent));
        if (CoolOffViews < 0) throw new ArgumentOutOfRangeException(nameof(CoolOffViews));
        if (ReputationWindow < 1) throw new ArgumentOutOfRangeException(nameof(ReputationWindow));
        if (MaxPayloadBytes < 1) throw new ArgumentOutOfRangeException(nameof(MaxPayloadBytes));
        return this;
    }
}
