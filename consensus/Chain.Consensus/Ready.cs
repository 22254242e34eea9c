using Chain.Accel;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

/// <summary>A consensus record the host must store durably (null <see cref="Value"/>: delete it).</summary>
public sealed record PersistRecord(string Key, byte[]? Value);

/// <summary>A message to one replica, or to every other replica when <see cref="To"/> is null.</summary>
public sealed record Outbound(ReplicaId? To, ConsensusMessage Message, byte[] Bytes);

/// <summary>A committed block: its payload and the certificate proving it (q commit votes or n prepare votes).</summary>
public sealed record CommittedEntry(SeqNo Seq, Hash32 Parent, Hash32 Digest, byte[] Payload, QuorumCertificate Certificate);

/// <summary>Why a peer message was dropped. Counted in <see cref="Status.Dropped"/>.</summary>
public enum DropReason
{
    Malformed,
    SenderMismatch,
    BadSignature,
    BadCertificate,
    NotPrimary,
    WrongView,
    OutsideWindow,
    InvalidProposal,
    Conflicting,
    Duplicate,
    Stale,
    BadViewChange,
    BadNewView,
}

/// <summary>Proof that a replica signed two conflicting messages for the same slot.</summary>
public sealed record Evidence(ReplicaId Offender, string Kind, View View, SeqNo Seq, ConsensusMessage First, ConsensusMessage Second);

/// <summary>Things the host may log or act on.</summary>
public abstract record ConsensusEvent;

public sealed record MessageDropped(ReplicaId From, DropReason Reason, string Detail) : ConsensusEvent;

public sealed record ViewChangeStarted(View To, string Why) : ConsensusEvent;

public sealed record NewViewInstalled(View View, ReplicaId Primary, int Reproposed) : ConsensusEvent
{
    /// <summary>The re-proposed chain, "height:digest" from the start checkpoint up.</summary>
    public string Chain { get; init; } = "";
}

public sealed record CheckpointStable(SeqNo Seq, Hash32 Digest) : ConsensusEvent;

/// <summary>
/// This replica is behind: peers hold a stable checkpoint at <see cref="Target"/> it has not reached. The host
/// fetches committed blocks (verifying their certificates) from <see cref="Peers"/> and reports <see cref="CaughtUp"/>.
/// </summary>
public sealed record StateTransferNeeded(SeqNo From, SeqNo Target, Hash32 TargetDigest, IReadOnlyList<ReplicaId> Peers)
    : ConsensusEvent;

/// <summary>A snapshot of a replica, for the host's metrics and for tests.</summary>
public sealed record Status(
    ReplicaId Id,
    View View,
    ReplicaId Primary,
    bool InViewChange,
    SeqNo Committed,
    SeqNo Applied,
    SeqNo StableCheckpoint,
    SeqNo HighWatermark,
    SeqNo? NextProposal,
    Hash32 NextParent,
    int LogSize,
    IReadOnlyDictionary<DropReason, long> Dropped);

/// <summary>
/// What one <see cref="Replica.Step"/> produced. The host must handle it in this order:
/// <list type="number">
/// <item>store <see cref="Persist"/> durably (synced);</item>
/// <item>then send <see cref="Send"/> (never before step 1 is durable: a replica must not be able to
/// forget a vote it already sent);</item>
/// <item>then execute and store <see cref="Committed"/> in order, and report <see cref="Applied"/>;</item>
/// <item>record <see cref="Evidence"/> for the ledger and log <see cref="Events"/>.</item>
/// </list>
/// </summary>
public sealed class Ready
{
    public Ready(List<PersistRecord> persist, List<Outbound> send, List<CommittedEntry> committed,
        List<Evidence> evidence, List<ConsensusEvent> events, Status status)
    {
        Persist = persist;
        Send = send;
        Committed = committed;
        Evidence = evidence;
        Events = events;
        Status = status;
    }

    public IReadOnlyList<PersistRecord> Persist { get; }
    public IReadOnlyList<Outbound> Send { get; }
    public IReadOnlyList<CommittedEntry> Committed { get; }
    public IReadOnlyList<Evidence> Evidence { get; }
    public IReadOnlyList<ConsensusEvent> Events { get; }
    public Status Status { get; }

    public bool IsEmpty => Persist.Count == 0 && Send.Count == 0 && Committed.Count == 0 && Evidence.Count == 0 && Events.Count == 0;
}
