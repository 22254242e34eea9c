using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>How a Byzantine replica misbehaves.</summary>
public enum ByzantineKind
{
    /// <summary>Sends nothing, ever.</summary>
    Silent,
    /// <summary>As primary, sends different (correctly signed) pre-prepares to two halves of the replicas.</summary>
    Equivocator,
    /// <summary>Signs prepare/commit votes for random digests and for the real one, sent to different peers.</summary>
    ConflictingVoter,
    /// <summary>Re-sends earlier messages (its own and others') later.</summary>
    Replayer,
    /// <summary>Sends random bytes, mutated encodings, and messages naming another sender.</summary>
    Forger,
    /// <summary>Two honest instances with one id and key, each connected to a disjoint half of the others.</summary>
    Twins,
}

/// <summary>One Byzantine replica and its behaviour.</summary>
public sealed record ByzantineSpec(ReplicaId Replica, ByzantineKind Kind);

/// <summary>
/// Message faults. Before <see cref="Scenario.Stabilisation"/> a message is dropped with <see cref="Drop"/>,
/// duplicated with <see cref="Duplicate"/>, and held back by up to <see cref="ReorderDelay"/> extra with
/// <see cref="Reorder"/>; its base delay is uniform in [<see cref="MinDelay"/>, <see cref="MaxDelay"/>]. After
/// stabilisation (GST) nothing is dropped or held back and the delay stays in that range.
/// </summary>
public sealed record NetworkFaults(long MinDelay = 1, long MaxDelay = 15, double Drop = 0, double Duplicate = 0,
    double Reorder = 0, long ReorderDelay = 100)
{
    public static NetworkFaults None { get; } = new();
}

/// <summary>
/// Replicas in <see cref="Side"/> cannot talk to the others during [<see cref="From"/>, <see cref="Until"/>).
/// </summary>
public sealed record PartitionSpec(IReadOnlySet<ReplicaId> Side, long From, long Until)
{
    public bool Separates(ReplicaId a, ReplicaId b, long now) =>
        now >= From && now < Until && Side.Contains(a) != Side.Contains(b);
}

/// <summary>
/// A crash of <see cref="Replica"/> at <see cref="At"/>, restarted from its persisted records at
/// <see cref="RestartAt"/> (never when null). With <see cref="BetweenPersistAndSend"/> the crash happens at the
/// first step after <see cref="At"/> that has both records to persist and messages to send: the records are
/// stored, the messages (and any commits) are lost.
/// </summary>
public sealed record CrashSpec(ReplicaId Replica, long At, long? RestartAt, bool BetweenPersistAndSend = false);

/// <summary>
/// One simulated run, fully determined by its fields (all randomness comes from <c>new Random(Seed)</c>).
/// Times are virtual time units; a tick is <see cref="TickLength"/> units.
/// </summary>
public sealed record Scenario
{
    public string Family { get; init; } = "custom";
    public int Seed { get; init; }
    public int N { get; init; } = 4;
    public ConsensusOptions Options { get; init; } = SimDefaults.Options;
    public IReadOnlyList<ByzantineSpec> Byzantine { get; init; } = [];
    public NetworkFaults Faults { get; init; } = NetworkFaults.None;
    public IReadOnlyList<PartitionSpec> Partitions { get; init; } = [];
    public IReadOnlyList<CrashSpec> Crashes { get; init; } = [];

    /// <summary>Honest and non-twin replicas routed to side A of twins (the rest are side B).</summary>
    public IReadOnlySet<ReplicaId> TwinSideA { get; init; } = new HashSet<ReplicaId>();

    /// <summary>Split brain: side-A and side-B instances cannot talk at all (not only twins), all run long.</summary>
    public bool SplitBrain { get; init; }

    public int Transactions { get; init; } = 30;
    public int Clients { get; init; } = 3;

    /// <summary>Transactions are submitted at uniform random times in [0, SubmitUntil].</summary>
    public long SubmitUntil { get; init; } = 500;
    public int MaxBatch { get; init; } = 4;
    public long TickLength { get; init; } = 10;

    /// <summary>GST: after this time no drops, partitions or extra reordering delays.</summary>
    public long Stabilisation { get; init; }
    public long EndTime { get; init; } = 3000;
    public long StateTransferDelay { get; init; } = 30;

    /// <summary>Check liveness at the end (every transaction committed by every honest replica that is up).</summary>
    public bool CheckLiveness { get; init; }

    /// <summary>Stop early once every honest replica that is up has committed every transaction.</summary>
    public bool StopWhenDone { get; init; } = true;
    public bool RecordTrace { get; init; }

    public int F => Certificates.Faults(N);

    public bool IsByzantine(ReplicaId id) => Byzantine.Any(b => b.Replica == id);

    public ByzantineKind? KindOf(ReplicaId id) => Byzantine.FirstOrDefault(b => b.Replica == id)?.Kind;

    /// <summary>The command that replays this scenario alone.</summary>
    public string Replay => $"CHAIN_SIM_SEED={Seed}";

    public override string ToString()
    {
        var byz = Byzantine.Count == 0 ? "none" : string.Join(",", Byzantine.Select(b => $"{b.Replica}:{b.Kind}"));
        var crashes = string.Join(",", Crashes.Select(c => $"{c.Replica}@{c.At}->{c.RestartAt?.ToString() ?? "never"}" +
                                                            (c.BetweenPersistAndSend ? "(mid-ready)" : "")));
        return $"{Family} seed {Seed} (replay: {Replay}): n={N} {Options.Mode} byzantine=[{byz}] " +
               $"drop={Faults.Drop:F2} dup={Faults.Duplicate:F2} reorder={Faults.Reorder:F2} " +
               $"partitions={Partitions.Count} crashes=[{crashes}] gst={Stabilisation} end={EndTime}";
    }
}

/// <summary>Consensus settings sized for short simulated runs (small window and timeouts).</summary>
public static class SimDefaults
{
    public static ConsensusOptions Options { get; } = new ConsensusOptions
    {
        CheckpointInterval = 4,
        Window = 8,
        FastPathTicks = 1,
        ProgressTimeoutTicks = 10,
        ViewChangeTimeoutTicks = 10,
        MaxBackoffExponent = 3,
        CoolOffViews = 4,
        MaxPayloadBytes = 1 << 20,
    }.Validate();
}
