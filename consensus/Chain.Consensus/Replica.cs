using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

/// <summary>Who this replica is and where its committed chain stands when it starts.</summary>
/// <param name="Id">This replica.</param>
/// <param name="ReplicaCount">n, the size of the validator set.</param>
/// <param name="Options">Validated consensus options.</param>
/// <param name="Committed">The host's last committed height (0 = genesis).</param>
/// <param name="CommittedDigest">The digest at <paramref name="Committed"/> (the genesis hash at 0).</param>
/// <param name="History">Proposer and view of recent committed blocks (from their headers), for reputation.</param>
public sealed record ReplicaConfig(ReplicaId Id, int ReplicaCount, ConsensusOptions Options, SeqNo Committed,
    Hash32 CommittedDigest, IReadOnlyList<BlockOrigin>? History = null);

/// <summary>
/// One improved-PBFT replica as a pure state machine (see DESIGN.md): <see cref="Step"/> takes one input
/// and returns a <see cref="Ready"/>. No clock, randomness, threads or I/O; never throws on peer input.
/// </summary>
public sealed partial class Replica
{
    private readonly ConsensusOptions _options;
    private readonly ISigner _signer;
    private readonly ISignatureVerifier _verifier;
    private readonly IProposalValidator _validator;
    private readonly CodecLimits _limits;
    private readonly int _n;
    private readonly int _f;
    private readonly int _quorum;

    private readonly SortedDictionary<SeqNo, Slot> _slots = new();
    private readonly Dictionary<SeqNo, Hash32> _committedDigests = new();
    private readonly Dictionary<DropReason, long> _dropped = new();

    private View _view;
    private bool _inViewChange;
    private int _viewChangeAttempts;
    private long _viewChangeStartTick;
    private long _now;
    private long _lastProgressTick;
    private bool _pendingWork;
    private bool _waiting;

    private SeqNo _committed;
    private SeqNo _applied;
    private SeqNo _stable;
    private Hash32 _stableDigest;
    private CheckpointCertificate? _stableCertificate;
    private SeqNo _lastCheckpointSigned;
    private SeqNo? _transferTarget;
    private long _transferRequestedAt;

    // Output under construction for the current Step.
    private List<PersistRecord> _persist = [];
    private List<Outbound> _send = [];
    private List<CommittedEntry> _committedOut = [];
    private List<Evidence> _evidence = [];
    private List<ConsensusEvent> _events = [];

    /// <summary>
    /// Creates a replica, restoring its consensus records (<paramref name="persisted"/>: everything the host
    /// stored from earlier <see cref="Ready.Persist"/> lists, with deletions applied) after a restart.
    /// </summary>
    public Replica(ReplicaConfig config, ISigner signer, ISignatureVerifier verifier, IProposalValidator validator,
        IEnumerable<PersistRecord>? persisted = null)
    {
        _options = config.Options.Validate();
        if (config.ReplicaCount < 1 || config.ReplicaCount > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(config), "replica count must be 1..65535");
        if (config.Id.Value >= config.ReplicaCount) throw new ArgumentOutOfRangeException(nameof(config), "id must be below n");
        Id = config.Id;
        _n = config.ReplicaCount;
        _f = (_n - 1) / 3;
        _quorum = (_n + _f + 2) / 2;
        _signer = signer;
        _verifier = verifier;
        _validator = validator;
        _limits = CodecLimits.For(_options, _n);
        _committed = config.Committed;
        _applied = config.Committed;
        _committedDigests[config.Committed] = config.CommittedDigest;
        // The truncation point is the last certified checkpoint (restored below), never just the committed height.
        _stable = new SeqNo(0);
        _stableDigest = config.Committed.Value == 0 ? config.CommittedDigest : default;
        _lastCheckpointSigned = config.Committed;
        _reputation = new Reputation(_n, _options.ReputationWindow, _options.CoolOffViews);
        foreach (var origin in config.History ?? []) _reputation.Record(origin);
        _schedule = PrimarySchedule.RoundRobin(_n);
        if (persisted is not null) Restore(persisted);
        _schedule = ScheduleFor(_view);
        _persist = [];
    }

    public ReplicaId Id { get; }

    /// <summary>n, f and the quorum ⌈(n+f+1)/2⌉.</summary>
    public (int N, int F, int Quorum) Sizes => (_n, _f, _quorum);

    public Status Status => new(Id, _view, PrimaryOf(_view), _inViewChange, _committed, _applied, _stable,
        HighWatermark, NextProposalSeq(), NextParent(), LogSize, new Dictionary<DropReason, long>(_dropped));

    private SeqNo HighWatermark => new(_stable.Value + (ulong)_options.Window);

    /// <summary>Heights held in the message log (each bounded by n votes and the proposals seen for it).</summary>
    private int LogSize => _slots.Count;

    private bool IsPrimary => PrimaryOf(_view) == Id;

    /// <summary>Handles one input; the host carries out the result in the order <see cref="Ready"/> documents.</summary>
    public Ready Step(Input input)
    {
        switch (input)
        {
            case PeerMessage m:
                OnPeerMessage(m);
                break;
            case Tick t:
                OnTick(t.PendingWork, t.QuorumReachable);
                break;
            case Propose p:
                OnPropose(p);
                break;
            case Applied a:
                OnApplied(a.Seq);
                break;
            case CaughtUp c:
                OnCaughtUp(c.Seq, c.Digest, c.History);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(input), "unknown input type");
        }
        Advance();
        if (_stable > _committed && _transferTarget is null)
            RequestTransfer(_stable, _stableDigest, Enumerable.Range(0, _n).Select(i => new ReplicaId((ushort)i)));
        var ready = new Ready(LastWritePerKey(_persist), _send, _committedOut, _evidence, _events, Status);
        _persist = [];
        _send = [];
        _committedOut = [];
        _evidence = [];
        _events = [];
        return ready;
    }

    private void OnPeerMessage(PeerMessage m)
    {
        ConsensusMessage message;
        try
        {
            message = MessageCodec.Decode(m.Bytes, _limits);
        }
        catch (CanonicalDecodeException e)
        {
            Drop(m.From, DropReason.Malformed, e.Message);
            return;
        }
        if (message.Sender != m.From)
        {
            Drop(m.From, DropReason.SenderMismatch, $"message claims sender {message.Sender}");
            return;
        }
        if (m.From == Id)
        {
            Drop(m.From, DropReason.Duplicate, "own message echoed back");
            return;
        }
        switch (message)
        {
            case PrePrepare pp: OnPrePrepare(pp); break;
            case Vote v: OnVote(v); break;
            case CertificateMessage c: OnCertificate(m.From, c.Certificate); break;
            case Checkpoint c: OnCheckpoint(c); break;
            case ViewChange vc: OnViewChange(vc); break;
            case NewView nv: OnNewView(nv); break;
        }
    }

    private void OnTick(bool pendingWork, bool quorumReachable)
    {
        _now++;
        _pendingWork = pendingWork;
        // Often enough that a replica coming back (restart, healed partition) learns it is behind, from f+1
        // announcements, before its own progress timeout would make it suspect the primary instead.
        if (_now % Math.Max(1, _options.ProgressTimeoutTicks / 2) == 0) AnnounceProgress();
        if (_inViewChange)
        {
            ViewChangeTick();
            return;
        }
        var waiting = _pendingWork || _slots.Values.Any(s => s.Seq > _committed && (s.Proposal is not null || s.CommitProof is not null));
        // The clock starts when work appears (in the host's mempool or as a proposal), not at the last commit
        // before an idle spell: otherwise the first proposal after an idle second looks like a stalled primary.
        if (waiting && !_waiting) _lastProgressTick = _now;
        _waiting = waiting;
        if (!quorumReachable) _lastProgressTick = _now;
        if (waiting && _now - _lastProgressTick >= _options.ProgressTimeoutTicks)
        {
            // Behind, not betrayed: if the cluster demonstrably moved on, fetch the blocks instead of suspecting the primary.
            if (TryRequestCatchUp()) _lastProgressTick = _now;
            else StartViewChange(_view.Next, $"no progress for {_now - _lastProgressTick} ticks");
            return;
        }
        FastPathTimeouts();
    }

    // ---- output helpers ----

    /// <summary>Several writes of one record in a step: only the last matters (order kept).</summary>
    private static List<PersistRecord> LastWritePerKey(List<PersistRecord> records)
    {
        if (records.Count < 2) return records;
        var last = new Dictionary<string, int>();
        for (var i = 0; i < records.Count; i++) last[records[i].Key] = i;
        return records.Where((r, i) => last[r.Key] == i).ToList();
    }

    private void Drop(ReplicaId from, DropReason reason, string detail)
    {
        _dropped[reason] = _dropped.GetValueOrDefault(reason) + 1;
        _events.Add(new MessageDropped(from, reason, detail));
    }

    private void Broadcast(ConsensusMessage message) => _send.Add(new Outbound(null, message, MessageCodec.Encode(message)));

    private void SendTo(ReplicaId to, ConsensusMessage message)
    {
        if (to == Id) return;
        _send.Add(new Outbound(to, message, MessageCodec.Encode(message)));
    }

    private Signature Sign(ConsensusMessage unsigned) => _signer.Sign(MessageCodec.SigningBytes(unsigned)!);

    private bool VerifySigned(ConsensusMessage message, Signature signature) =>
        _verifier.Verify(message.Sender, MessageCodec.SigningBytes(message)!, signature);

    private Slot SlotFor(SeqNo seq)
    {
        if (!_slots.TryGetValue(seq, out var slot)) _slots[seq] = slot = new Slot(seq);
        return slot;
    }

    private bool InWindow(SeqNo seq) => seq > _stable && seq <= HighWatermark;

    /// <summary>The digest committed at <paramref name="seq"/>, if this replica knows it.</summary>
    private Hash32? CommittedDigestAt(SeqNo seq) => _committedDigests.TryGetValue(seq, out var d) ? d : null;
}
