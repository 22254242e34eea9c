using System.Globalization;
using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Simulation.Tests.Fakes;

/// <summary>
/// A tiny honest stand-in for <see cref="Replica"/>, so the simulator's own machinery can be tested before the
/// real protocol lands. One fixed primary (r0, view 0, no view change); the primary broadcasts a pre-prepare,
/// every replica broadcasts one signed commit vote per height (persisted before it is sent), and a height
/// commits with q commit votes once its parent is committed. Votes and pre-prepares are re-sent every few
/// ticks, so it makes progress through drops; every replica announces its committed height in a signed checkpoint,
/// and one that sees a checkpoint above its own height asks for a state transfer.
/// Safe with at most f Byzantine replicas (quorum intersection); not live if r0 is faulty.
/// </summary>
public sealed class MiniBftNode : INode
{
    private const int ResendTicks = 5;

    private readonly ReplicaConfig _config;
    private readonly NodeContext _context;
    private readonly int _quorum;
    private readonly CodecLimits _limits;
    private readonly SortedDictionary<ulong, PrePrepare> _proposals = [];
    private readonly Dictionary<ulong, Dictionary<Hash32, SortedDictionary<ushort, Signature>>> _votes = [];
    private readonly Dictionary<ulong, Hash32> _myVotes = [];
    private readonly Dictionary<DropReason, long> _dropped = [];
    private ulong _committed;
    private Hash32 _committedDigest;
    private long _ticks;
    private Step _step = new();

    public MiniBftNode(NodeContext context)
    {
        _context = context;
        _config = context.Config;
        _quorum = Certificates.Quorum(_config.ReplicaCount);
        _limits = CodecLimits.For(_config.Options, _config.ReplicaCount);
        _committed = _config.Committed.Value;
        _committedDigest = _config.CommittedDigest;
        Restore(context.Persisted);
    }

    public static NodeFactory Factory { get; } = context => new MiniBftNode(context);

    public ReplicaId Id => _config.Id;

    public Status? Status => BuildStatus();

    private static ReplicaId Primary => new(0);

    private sealed class Step
    {
        public List<PersistRecord> Persist { get; } = [];
        public List<Envelope> Send { get; } = [];
        public List<CommittedEntry> Committed { get; } = [];
        public List<ConsensusEvent> Events { get; } = [];
    }

    NodeOutput INode.Step(Input input)
    {
        _step = new Step();
        switch (input)
        {
            case Tick:
                OnTick();
                break;
            case PeerMessage m:
                OnMessage(m);
                break;
            case Propose p:
                OnPropose(p);
                break;
            case CaughtUp c when c.Seq.Value > _committed:
                _committed = c.Seq.Value;
                _committedDigest = c.Digest;
                Prune();
                TryCommit();
                break;
        }
        return new NodeOutput(_step.Persist, _step.Send, _step.Committed, [], _step.Events, BuildStatus());
    }

    private void Restore(IReadOnlyList<PersistRecord> records)
    {
        foreach (var record in records)
        {
            if (record.Value is null) continue;
            var seq = ulong.Parse(record.Key.AsSpan(record.Key.IndexOf('/') + 1), CultureInfo.InvariantCulture);
            if (record.Key.StartsWith("vote/", StringComparison.Ordinal))
                _myVotes[seq] = Hash32.FromBytes(record.Value);
            else if (seq > _committed && MessageCodec.Decode(record.Value, _limits) is PrePrepare pp)
                _proposals[seq] = pp;
        }
    }

    private Status BuildStatus()
    {
        var next = _proposals.Count == 0 ? _committed + 1 : Math.Max(_proposals.Keys.Max(), _committed) + 1;
        var contiguous = _proposals.Count == (int)(next - _committed - 1);
        var parent = next - 1 == _committed
            ? _committedDigest
            : _proposals.GetValueOrDefault(next - 1)?.Digest ?? default;
        SeqNo? nextProposal = Id == Primary && contiguous && next <= _committed + (ulong)_config.Options.Window
            ? new SeqNo(next)
            : null;
        return new Status(Id, new View(0), Primary, false, new SeqNo(_committed), new SeqNo(_committed),
            new SeqNo(_committed), new SeqNo(_committed + (ulong)_config.Options.Window), nextProposal, parent,
            _proposals.Count, new Dictionary<DropReason, long>(_dropped));
    }

    private void OnTick()
    {
        _ticks++;
        if (_ticks % ResendTicks != 0) return;
        foreach (var (seq, pp) in _proposals)
        {
            if (Id == Primary) Broadcast(pp);
            if (_myVotes.TryGetValue(seq, out var digest)) Broadcast(SignVote(seq, digest));
        }
        AnnounceCommitted();
    }

    /// <summary>Every few ticks a replica announces its committed height as a signed checkpoint.</summary>
    private void AnnounceCommitted()
    {
        if (_committed == 0) return;
        var bytes = MessageCodec.CheckpointBytes(new SeqNo(_committed), _committedDigest);
        Broadcast(new Checkpoint(Id, new SeqNo(_committed), _committedDigest, _context.Signer.Sign(bytes)));
    }

    /// <summary>
    /// A validly signed checkpoint above the committed height: fetch the blocks up to there (state transfer; the
    /// host verifies every certificate and finds nothing for a Byzantine replica's invented height).
    /// </summary>
    private void OnCheckpoint(Checkpoint c)
    {
        if (!_context.Verifier.Verify(c.Sender, MessageCodec.CheckpointBytes(c.Seq, c.Digest), c.Signature))
        {
            Drop(c.Sender, DropReason.BadSignature, "checkpoint");
            return;
        }
        if (c.Seq.Value <= _committed) return;
        _step.Events.Add(new StateTransferNeeded(new SeqNo(_committed), c.Seq, c.Digest, [c.Sender]));
    }

    private void OnMessage(PeerMessage m)
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
            Drop(m.From, DropReason.SenderMismatch, $"claims {message.Sender}");
            return;
        }
        switch (message)
        {
            case PrePrepare pp:
                OnPrePrepare(pp);
                break;
            case Vote v:
                OnVote(v);
                break;
            case Checkpoint c:
                OnCheckpoint(c);
                break;
            default:
                Drop(m.From, DropReason.Stale, "not used by the fake");
                break;
        }
    }

    private void OnPropose(Propose p)
    {
        if (BuildStatus().NextProposal != p.Seq || p.Parent != BuildStatus().NextParent) return;
        var check = _context.Validator.Check(p.Seq, p.Parent, p.Payload);
        if (!check.Valid) return;
        var unsigned = new PrePrepare(Id, new View(0), p.Seq, p.Parent, check.Digest, p.Payload, default);
        var pp = unsigned with { Signature = _context.Signer.Sign(MessageCodec.SigningBytes(unsigned)!) };
        Accept(pp);
        Broadcast(pp);
    }

    private void OnPrePrepare(PrePrepare pp)
    {
        var reason = Reject(pp);
        if (reason is { } r)
        {
            Drop(pp.Sender, r.Reason, r.Detail);
            return;
        }
        Accept(pp);
    }

    private (DropReason Reason, string Detail)? Reject(PrePrepare pp)
    {
        if (pp.Sender != Primary) return (DropReason.NotPrimary, "not r0");
        if (pp.View.Value != 0) return (DropReason.WrongView, pp.View.ToString());
        if (pp.Seq.Value <= _committed) return (DropReason.Stale, pp.Seq.ToString());
        if (pp.Seq.Value > _committed + (ulong)_config.Options.Window)
            return (DropReason.OutsideWindow, pp.Seq.ToString());
        if (!_context.Verifier.Verify(pp.Sender, MessageCodec.SigningBytes(pp)!, pp.Signature))
            return (DropReason.BadSignature, "pre-prepare");
        if (_proposals.TryGetValue(pp.Seq.Value, out var held))
            return held.Digest == pp.Digest ? (DropReason.Duplicate, "held") : (DropReason.Conflicting, "other digest");
        var check = _context.Validator.Check(pp.Seq, pp.Parent, pp.Payload);
        if (!check.Valid || check.Digest != pp.Digest) return (DropReason.InvalidProposal, check.Reason ?? "digest");
        return null;
    }

    private void Accept(PrePrepare pp)
    {
        var seq = pp.Seq.Value;
        _proposals[seq] = pp;
        _step.Persist.Add(new PersistRecord(Key("pp", seq), MessageCodec.Encode(pp)));
        if (!_myVotes.ContainsKey(seq))
        {
            _myVotes[seq] = pp.Digest;
            _step.Persist.Add(new PersistRecord(Key("vote", seq), pp.Digest.ToArray()));
            var vote = SignVote(seq, pp.Digest);
            Broadcast(vote);
            Count(vote);
        }
        TryCommit();
    }

    private void OnVote(Vote v)
    {
        if (v.Phase != VotePhase.Commit || v.View.Value != 0)
        {
            Drop(v.Sender, DropReason.WrongView, "fake uses view-0 commit votes");
            return;
        }
        if (!_context.Verifier.Verify(v.Sender, MessageCodec.VoteBytes(v.Phase, v.Seq, v.View, v.Digest), v.Signature))
        {
            Drop(v.Sender, DropReason.BadSignature, "vote");
            return;
        }
        if (v.Seq.Value <= _committed) return;
        Count(v);
        TryCommit();
    }

    private void Count(Vote v)
    {
        if (!_votes.TryGetValue(v.Seq.Value, out var byDigest)) _votes[v.Seq.Value] = byDigest = [];
        if (!byDigest.TryGetValue(v.Digest, out var signers)) byDigest[v.Digest] = signers = [];
        signers[v.Sender.Value] = v.Signature;
    }

    private void TryCommit()
    {
        while (_proposals.TryGetValue(_committed + 1, out var pp) && pp.Parent == _committedDigest &&
               _votes.TryGetValue(pp.Seq.Value, out var byDigest) && byDigest.TryGetValue(pp.Digest, out var signers) &&
               signers.Count >= _quorum)
        {
            var votes = signers.Select(kv => new SignedBy(new ReplicaId(kv.Key), kv.Value)).ToList();
            var qc = new QuorumCertificate(VotePhase.Commit, new View(0), pp.Seq, pp.Digest, votes);
            _step.Committed.Add(new CommittedEntry(pp.Seq, pp.Parent, pp.Digest, pp.Payload, qc));
            _committed++;
            _committedDigest = pp.Digest;
            Prune();
        }
    }

    private void Prune()
    {
        foreach (var seq in _proposals.Keys.Where(s => s <= _committed).ToList())
        {
            _proposals.Remove(seq);
            _step.Persist.Add(new PersistRecord(Key("pp", seq), null));
        }
        foreach (var seq in _votes.Keys.Where(s => s <= _committed).ToList()) _votes.Remove(seq);
    }

    private Vote SignVote(ulong seq, Hash32 digest)
    {
        var bytes = MessageCodec.VoteBytes(VotePhase.Commit, new SeqNo(seq), new View(0), digest);
        return new Vote(Id, VotePhase.Commit, new View(0), new SeqNo(seq), digest, _context.Signer.Sign(bytes));
    }

    private void Broadcast(ConsensusMessage message) =>
        _step.Send.Add(new Envelope(null, MessageCodec.Encode(message), message));

    private void Drop(ReplicaId from, DropReason reason, string detail)
    {
        _dropped[reason] = _dropped.GetValueOrDefault(reason) + 1;
        _step.Events.Add(new MessageDropped(from, reason, detail));
    }

    private static string Key(string kind, ulong seq) =>
        string.Create(CultureInfo.InvariantCulture, $"{kind}/{seq:D20}");
}
