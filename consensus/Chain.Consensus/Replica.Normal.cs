using Chain.Accel;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

// The normal case (DESIGN.md "Protocol"): proposals, prepare and commit votes, certificates, in-order commit.
public sealed partial class Replica
{
    /// <summary>Certificates already verified, keyed by content including every signature (a forged copy must miss).</summary>
    private readonly HashSet<(VotePhase, View, SeqNo, Hash32, Hash32)> _verifiedCertificates = new();

    /// <summary>
    /// Pre-prepares from the current primary just above the high watermark (at most W heights): replicas' stable
    /// checkpoints advance at slightly different moments, and a proposal dropped here is never sent again.
    /// </summary>
    private readonly SortedDictionary<SeqNo, PrePrepare> _aboveWindow = new();

    /// <summary>The height the primary may propose next, or null (not primary, in a view change, window full).</summary>
    private SeqNo? NextProposalSeq()
    {
        // The host builds the next block on its own chain: not while it is still fetching blocks below the stable point.
        if (!IsPrimary || _inViewChange || _committed < _stable) return null;
        var next = _committed.Next;
        foreach (var (seq, slot) in _slots)
        {
            if (seq >= next && slot.Proposal is not null && slot.ProposalView == _view) next = seq.Next;
        }
        return next <= HighWatermark ? next : null;
    }

    private Hash32 NextParent()
    {
        var next = NextProposalSeq() ?? _committed.Next;
        return DigestInView(next.Previous) ?? default;
    }

    /// <summary>The digest this replica holds at <paramref name="seq"/> for the current view's chain.</summary>
    private Hash32? DigestInView(SeqNo seq)
    {
        if (_slots.TryGetValue(seq, out var slot) && slot.Proposal is not null && slot.ProposalView == _view)
            return slot.Proposal.Digest;
        return CommittedDigestAt(seq) ?? (seq == _stable ? _stableDigest : null);
    }

    private void OnPropose(Propose p)
    {
        var next = NextProposalSeq();
        if (next is null || p.Seq != next || p.Parent != NextParent())
        {
            Drop(Id, DropReason.Stale, $"cannot propose {p.Seq} on {p.Parent.Short} now (next: {next?.ToString() ?? "none"})");
            return;
        }
        if (p.Payload.Length > _options.MaxPayloadBytes)
        {
            Drop(Id, DropReason.InvalidProposal, "payload too large");
            return;
        }
        var check = _validator.Check(p.Seq, p.Parent, p.Payload);
        if (!check.Valid)
        {
            Drop(Id, DropReason.InvalidProposal, check.Reason ?? "rejected by the host");
            return;
        }
        var unsigned = new PrePrepare(Id, _view, p.Seq, p.Parent, check.Digest, p.Payload, default);
        var pp = unsigned with { Signature = Sign(unsigned) };
        Broadcast(pp);
        AcceptProposal(SlotFor(p.Seq), pp);
    }

    private void OnPrePrepare(PrePrepare pp)
    {
        if (pp.View == _view && _inViewChange && PrimaryOf(pp.View) == pp.Sender && InWindow(pp.Seq) && VerifySigned(pp, pp.Signature))
        {
            SlotFor(pp.Seq).PendingPrePrepare = pp; // it overtook the new view: judged once the view is installed
            return;
        }
        if (pp.View != _view || _inViewChange)
        {
            Drop(pp.Sender, DropReason.WrongView, $"pre-prepare for {pp.View}, replica at {_view}");
            if (pp.View > _view && VerifySigned(pp, pp.Signature)) NoticeHigherView(pp.Sender, pp.View, quorum: false);
            return;
        }
        if (PrimaryOf(pp.View) != pp.Sender)
        {
            Drop(pp.Sender, DropReason.NotPrimary, $"{pp.Sender} is not the primary of {pp.View}");
            return;
        }
        if (!InWindow(pp.Seq))
        {
            if (pp.Seq > HighWatermark && pp.Seq.Value <= HighWatermark.Value + (ulong)_options.Window && VerifySigned(pp, pp.Signature))
            {
                _aboveWindow[pp.Seq] = pp; // replayed when the window slides up to it
                return;
            }
            Drop(pp.Sender, DropReason.OutsideWindow, $"{pp.Seq} outside ({_stable}, {HighWatermark}]");
            return;
        }
        if (!VerifySigned(pp, pp.Signature))
        {
            Drop(pp.Sender, DropReason.BadSignature, "pre-prepare signature");
            return;
        }
        var slot = SlotFor(pp.Seq);
        if (slot.Proposal is not null && slot.ProposalView == _view)
        {
            if (slot.Proposal.Digest == pp.Digest)
            {
                Drop(pp.Sender, DropReason.Duplicate, "pre-prepare already accepted");
                return;
            }
            if (slot.PrePrepare is not null)
                _evidence.Add(new Evidence(pp.Sender, "conflicting-preprepare", pp.View, pp.Seq, slot.PrePrepare, pp));
            Drop(pp.Sender, DropReason.Conflicting, $"second proposal for {pp.Seq} in {pp.View}");
            return;
        }
        if (CommittedDigestAt(pp.Seq) is { } committed && committed != pp.Digest)
        {
            Drop(pp.Sender, DropReason.Conflicting, $"{pp.Seq} is committed with another digest");
            return;
        }
        if (!ParentKnown(pp.Seq, pp.Parent))
        {
            slot.PendingPrePrepare = pp; // judged once the parent arrives (reordered delivery)
            return;
        }
        ValidateAndAccept(slot, pp);
    }

    /// <summary>
    /// The block at seq-1 this proposal builds on is committed here (so the host holds it) or accepted in this view.
    /// A certified digest alone is not enough: the host judges a block against ancestors it must hold, and one it
    /// is still fetching by state transfer would hide their transactions (found by the twins simulation).
    /// </summary>
    private bool ParentKnown(SeqNo seq, Hash32 parent)
    {
        var previous = seq.Previous;
        if (CommittedDigestAt(previous) is { } committed) return committed == parent;
        if (previous <= _committed || previous <= _stable) return false;
        return _slots.TryGetValue(previous, out var p) && p.Proposal?.Digest == parent && p.ProposalView == _view;
    }

    private void ValidateAndAccept(Slot slot, PrePrepare pp)
    {
        var check = _validator.Check(pp.Seq, pp.Parent, pp.Payload);
        if (!check.Valid || check.Digest != pp.Digest)
        {
            Drop(pp.Sender, DropReason.InvalidProposal, check.Reason ?? "digest does not match the payload");
            return;
        }
        if ((check.Proposer is { } proposer && proposer != pp.Sender) || (check.ProposedIn is { } view && view != pp.View))
        {
            Drop(pp.Sender, DropReason.InvalidProposal, "the payload names another proposer or view");
            return;
        }
        AcceptProposal(slot, pp);
    }

    private void AcceptProposal(Slot slot, PrePrepare pp)
    {
        var proposal = new ReportedProposal(pp.Seq, pp.Parent, pp.Digest, pp.Payload);
        slot.Proposal = proposal;
        slot.ProposalView = pp.View;
        slot.PrePrepare = pp;
        slot.Known[pp.Digest] = proposal;
    }

    private void OnVote(Vote v)
    {
        if (!VerifySigned(v, v.Signature))
        {
            Drop(v.Sender, DropReason.BadSignature, "vote signature");
            return;
        }
        if (v.View != _view || _inViewChange)
        {
            Drop(v.Sender, v.View < _view ? DropReason.Stale : DropReason.WrongView, $"vote for {v.View}, replica at {_view}");
            NoticeHigherView(v.Sender, v.View, quorum: false);
            return;
        }
        if (!InWindow(v.Seq))
        {
            Drop(v.Sender, DropReason.OutsideWindow, $"vote for {v.Seq}");
            return;
        }
        if (_options.Mode == ProtocolMode.Linear && !IsPrimary)
        {
            Drop(v.Sender, DropReason.NotPrimary, "votes go to the primary");
            return;
        }
        RecordVote(SlotFor(v.Seq), v);
    }

    private void RecordVote(Slot slot, Vote v)
    {
        if (slot.FirstVotes.TryGetValue((v.Phase, v.Sender), out var first))
        {
            if (first.Digest == v.Digest) return;
            _evidence.Add(new Evidence(v.Sender, "double-vote", v.View, v.Seq, first, v));
            Drop(v.Sender, DropReason.Conflicting, $"second {v.Phase} vote for {v.Seq}");
            return;
        }
        slot.FirstVotes[(v.Phase, v.Sender)] = v;
        var key = (v.Phase, v.Digest);
        if (!slot.Votes.TryGetValue(key, out var votes)) slot.Votes[key] = votes = new Dictionary<ReplicaId, Vote>();
        votes[v.Sender] = v;
    }

    private void OnCertificate(ReplicaId from, QuorumCertificate qc)
    {
        if (!InWindow(qc.Seq))
        {
            // Too far ahead to use, but a valid certificate from a later view still proves a quorum is there: a
            // replica left behind in an older view (or alone in a view change) must follow it, or it never rejoins.
            if (qc.View > _view && qc.Seq > _stable && VerifyCertificate(qc, out _)) NoticeHigherView(from, qc.View, quorum: true);
            Drop(from, qc.Seq <= _stable ? DropReason.Stale : DropReason.OutsideWindow, $"certificate for {qc.Seq}");
            return;
        }
        if (!VerifyCertificate(qc, out var why))
        {
            Drop(from, DropReason.BadCertificate, why);
            return;
        }
        NoticeHigherView(from, qc.View, quorum: true);
        var slot = SlotFor(qc.Seq);
        if (IsCommitProof(qc)) slot.CommitProof ??= qc;
        if (qc.Phase == VotePhase.Prepare && !slot.PendingCertificates.Exists(c => c.View == qc.View && c.Digest == qc.Digest))
            slot.PendingCertificates.Add(qc);
    }

    private bool IsCommitProof(QuorumCertificate qc) =>
        (qc.Phase == VotePhase.Commit && qc.Votes.Count >= _quorum) || (qc.Phase == VotePhase.Prepare && qc.Votes.Count == _n);

    /// <summary>Checks every vote of a certificate: enough distinct validators, each signature valid.</summary>
    private bool VerifyCertificate(QuorumCertificate qc, out string why)
    {
        why = "";
        if (qc.Votes.Count < _quorum)
        {
            why = $"{qc.Votes.Count} votes, quorum is {_quorum}";
            return false;
        }
        var key = (qc.Phase, qc.View, qc.Seq, qc.Digest, VotesDigest(qc.Votes));
        if (_verifiedCertificates.Contains(key)) return true;
        var message = MessageCodec.VoteBytes(qc.Phase, qc.Seq, qc.View, qc.Digest);
        foreach (var vote in qc.Votes)
        {
            if (!_verifier.Verify(vote.Replica, message, vote.Signature))
            {
                why = $"vote of {vote.Replica} does not verify";
                return false;
            }
        }
        _verifiedCertificates.Add(key);
        return true;
    }

    private static Hash32 VotesDigest(IReadOnlyList<SignedBy> votes)
    {
        var bytes = new byte[votes.Count * (2 + Signature.Size)];
        for (var i = 0; i < votes.Count; i++)
        {
            var offset = i * (2 + Signature.Size);
            bytes[offset] = (byte)(votes[i].Replica.Value >> 8);
            bytes[offset + 1] = (byte)votes[i].Replica.Value;
            votes[i].Signature.Span.CopyTo(bytes.AsSpan(offset + 2));
        }
        return Hash32.Sha256(bytes);
    }

    /// <summary>One pass over the window in height order, taking every step that has become possible.</summary>
    private void Advance()
    {
        foreach (var (seq, pp) in _aboveWindow.ToList())
        {
            if (seq > HighWatermark) break;
            _aboveWindow.Remove(seq);
            if (pp.View == _view && InWindow(seq)) OnPrePrepare(pp);
        }
        TryCommitNext();
        foreach (var slot in _slots.Values.ToList())
        {
            ProcessPendingPrePrepare(slot);
            ProcessPendingCertificates(slot);
            TryVotePrepare(slot);
            Collect(slot);
            TryVoteCommit(slot);
            TryCommitNext();
        }
    }

    /// <summary>
    /// I2: committed at seq-1 with exactly this parent, or prepared there with a certificate from view
    /// <paramref name="view"/> or later. An older certificate is not enough: a later view may hold a higher
    /// certificate for another digest at seq-1, and the view-change walk would then drop seq.
    /// </summary>
    private bool ParentReady(SeqNo seq, Hash32 parent, View view)
    {
        var previous = seq.Previous;
        if (CommittedDigestAt(previous) is { } committed) return committed == parent;
        if (previous == _stable) return _stableDigest == parent;
        if (previous <= _committed) return false;
        return _slots.TryGetValue(previous, out var p) && p.Prepared is { } pc && pc.Digest == parent && pc.View >= view;
    }

    private void ProcessPendingPrePrepare(Slot slot)
    {
        if (slot.PendingPrePrepare is not { } pp || _inViewChange) return;
        if (pp.View < _view || (slot.Proposal is not null && slot.ProposalView == _view))
        {
            slot.PendingPrePrepare = null; // superseded
            return;
        }
        if (pp.View != _view || !ParentKnown(pp.Seq, pp.Parent)) return;
        slot.PendingPrePrepare = null;
        OnPrePrepare(pp); // every check again, now in its view
    }

    private void ProcessPendingCertificates(Slot slot)
    {
        for (var i = 0; i < slot.PendingCertificates.Count; i++)
        {
            var qc = slot.PendingCertificates[i];
            if (!slot.Known.TryGetValue(qc.Digest, out var proposal) || !ParentReady(slot.Seq, proposal.Parent, qc.View)) continue;
            AcceptPrepared(slot, qc, proposal);
            slot.PendingCertificates.RemoveAt(i--);
        }
    }

    private void AcceptPrepared(Slot slot, QuorumCertificate qc, ReportedProposal proposal)
    {
        if (slot.Prepared is not null && slot.Prepared.View >= qc.View) return;
        slot.Prepared = qc;
        slot.PreparedProposal = proposal;
        PersistSlot(slot);
    }

    private void TryVotePrepare(Slot slot)
    {
        var proposal = slot.Proposal;
        if (_inViewChange || proposal is null || slot.ProposalView != _view) return;
        if (slot.MyPrepare is not null && slot.MyPrepare.View >= _view) return;
        if (!ParentReady(slot.Seq, proposal.Parent, _view)) return;
        var unsigned = new Vote(Id, VotePhase.Prepare, _view, slot.Seq, proposal.Digest, default);
        var vote = unsigned with { Signature = Sign(unsigned) };
        slot.MyPrepare = vote;
        slot.MyPrepareProposal = proposal;
        PersistSlot(slot);
        SendVote(slot, vote);
    }

    private void TryVoteCommit(Slot slot)
    {
        if (_inViewChange || slot.Prepared is not { } qc || qc.View != _view) return;
        if (slot.MyCommit is not null && slot.MyCommit.View >= _view) return;
        var unsigned = new Vote(Id, VotePhase.Commit, _view, slot.Seq, qc.Digest, default);
        var vote = unsigned with { Signature = Sign(unsigned) };
        slot.MyCommit = vote;
        PersistSlot(slot);
        SendVote(slot, vote);
    }

    private void SendVote(Slot slot, Vote vote)
    {
        if (_options.Mode == ProtocolMode.Classic) Broadcast(vote);
        else SendTo(PrimaryOf(_view), vote);
        if (_options.Mode == ProtocolMode.Classic || IsPrimary) RecordVote(slot, vote);
    }

    /// <summary>The collector's work: the primary in linear mode, every replica in classic mode.</summary>
    private void Collect(Slot slot)
    {
        if (_inViewChange || slot.Proposal is not { } proposal || slot.ProposalView != _view) return;
        if (_options.Mode == ProtocolMode.Linear && !IsPrimary) return;
        var digest = proposal.Digest;
        var prepares = slot.Votes.GetValueOrDefault((VotePhase.Prepare, digest));
        var commits = slot.Votes.GetValueOrDefault((VotePhase.Commit, digest));
        if (_options.Mode == ProtocolMode.Classic)
        {
            if (prepares?.Count >= _quorum && slot.Prepared?.View != _view)
            {
                var qc = Certificate(VotePhase.Prepare, slot.Seq, digest, prepares);
                if (ParentReady(slot.Seq, proposal.Parent, _view)) AcceptPrepared(slot, qc, proposal);
                else if (!slot.PendingCertificates.Exists(c => c.View == qc.View && c.Digest == qc.Digest))
                    slot.PendingCertificates.Add(qc); // I2: prepared only once the parent is
            }
            if (commits?.Count >= _quorum && slot.CommitProof is null)
                slot.CommitProof = Certificate(VotePhase.Commit, slot.Seq, digest, commits);
            return;
        }
        if (prepares?.Count == _n && !slot.CommitSent && slot.CommitProof is null)
        {
            // Fast path: every replica prepared; n prepare votes commit in one collected round.
            var fast = Certificate(VotePhase.Prepare, slot.Seq, digest, prepares);
            Broadcast(new CertificateMessage(Id, fast));
            slot.CommitProof = fast;
            slot.CommitSent = slot.PreparedSent = true;
            AcceptPrepared(slot, fast, proposal);
            return;
        }
        if (prepares?.Count >= _quorum && !slot.PreparedSent)
        {
            slot.PrepareQuorumTick ??= _now;
            if (_now - slot.PrepareQuorumTick >= _options.FastPathTicks) SendPrepared(slot, prepares, proposal);
        }
        if (commits?.Count >= _quorum && !slot.CommitSent)
        {
            var proof = Certificate(VotePhase.Commit, slot.Seq, digest, commits);
            Broadcast(new CertificateMessage(Id, proof));
            slot.CommitProof ??= proof;
            slot.CommitSent = true;
        }
    }

    private void SendPrepared(Slot slot, Dictionary<ReplicaId, Vote> prepares, ReportedProposal proposal)
    {
        var qc = Certificate(VotePhase.Prepare, slot.Seq, proposal.Digest, prepares);
        Broadcast(new CertificateMessage(Id, qc));
        slot.PreparedSent = true;
        AcceptPrepared(slot, qc, proposal);
    }

    private void FastPathTimeouts()
    {
        foreach (var slot in _slots.Values)
        {
            if (slot.PrepareQuorumTick is { } t && !slot.PreparedSent && _now - t >= _options.FastPathTicks
                && slot.Proposal is { } proposal && slot.Votes.TryGetValue((VotePhase.Prepare, proposal.Digest), out var votes))
                SendPrepared(slot, votes, proposal);
        }
    }

    private QuorumCertificate Certificate(VotePhase phase, SeqNo seq, Hash32 digest, Dictionary<ReplicaId, Vote> votes) =>
        new(phase, _view, seq, digest, votes.Values.OrderBy(v => v.Sender.Value).Select(v => new SignedBy(v.Sender, v.Signature)).ToArray());

    /// <summary>Commits in height order every slot whose proof and payload are known and whose parent is committed.</summary>
    private void TryCommitNext()
    {
        while (_slots.TryGetValue(_committed.Next, out var slot) && slot.CommitProof is { } proof)
        {
            var proposal = slot.Known.GetValueOrDefault(proof.Digest);
            if (proposal is null) return; // payload still unknown: a view change or state transfer brings it
            var parent = CommittedDigestAt(_committed);
            if (parent != proposal.Parent)
            {
                Drop(Id, DropReason.Conflicting, $"commit proof at {slot.Seq} does not extend the committed chain");
                slot.CommitProof = null;
                return;
            }
            _committed = slot.Seq;
            _committedDigests[slot.Seq] = proof.Digest;
            _committedOut.Add(new CommittedEntry(slot.Seq, proposal.Parent, proof.Digest, proposal.Payload, proof));
            RecordOrigin(slot.Seq, proposal.Parent, proposal.Payload);
            _lastProgressTick = _now;
        }
    }
}
