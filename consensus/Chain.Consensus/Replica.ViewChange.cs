using Chain.Accel;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

// View change (DESIGN.md "View change"): report, choose the chain, install the new view.
public sealed partial class Replica
{
    /// <summary>Each replica's latest valid view-change message (older ones are superseded).</summary>
    private readonly Dictionary<ReplicaId, ViewChange> _viewChanges = new();
    private View _newViewSentFor;
    private NewView? _lastNewView;
    private readonly Dictionary<ReplicaId, long> _newViewResentAt = new();

    /// <summary>Replicas seen sending valid signed messages for views above this replica's.</summary>
    private readonly Dictionary<ReplicaId, View> _seenInHigherView = new();

    /// <summary>
    /// Catching up on views: a valid certificate for a higher view (a quorum is there), or valid signed messages
    /// from f+1 replicas in higher views, proves the cluster moved on. Joining a higher view is always safe; the
    /// view change sent for it makes that view's primary send its new view again.
    /// </summary>
    private void NoticeHigherView(ReplicaId from, View view, bool quorum)
    {
        if (view <= _view) return;
        if (quorum)
        {
            StartViewChange(view, $"a quorum is already in {view}");
            return;
        }
        _seenInHigherView[from] = view;
        var higher = _seenInHigherView.Values.Where(v => v > _view).OrderBy(v => v).ToList();
        if (higher.Count > _f)
        {
            _seenInHigherView.Clear();
            StartViewChange(higher[0], $"f+1 replicas are in later views");
        }
    }

    /// <summary>
    /// In a view change: re-send this replica's view change each period (messages lost before the network
    /// stabilised are not otherwise repeated), and back off to the next view only while a quorum is here too
    /// (PBFT §4.5.2), so that a replica alone does not race ahead of the others.
    /// </summary>
    private void ViewChangeTick()
    {
        if (_now % _options.ViewChangeTimeoutTicks == 0 && _viewChanges.TryGetValue(Id, out var mine)) Broadcast(mine);
        var waited = _now - _viewChangeStartTick;
        // A replica that asked for this view or a later one has left the views below: it counts toward this one.
        var here = _viewChanges.Values.Count(v => v.NewView >= _view);
        if (here < _quorum)
        {
            _viewChangeStartTick = _now; // the timer runs only once a quorum asks for this view
            TryRequestCatchUp();
            return;
        }
        var timeout = (long)_options.ViewChangeTimeoutTicks << Math.Min(_viewChangeAttempts, _options.MaxBackoffExponent);
        if (waited >= timeout) StartViewChange(_view.Next, "no new view in time");
    }

    private void StartViewChange(View target, string why)
    {
        if (target <= _view && _inViewChange) return;
        _viewChangeAttempts = _inViewChange ? _viewChangeAttempts + 1 : 0;
        _schedule = ScheduleFor(target);
        _view = target;
        _inViewChange = true;
        _viewChangeStartTick = _now;
        foreach (var slot in _slots.Values) slot.ResetForView();
        PersistView();
        var unsigned = new ViewChange(Id, target, _stableCertificate, BuildReport(), default);
        var vc = unsigned with { Signature = Sign(unsigned) };
        Broadcast(vc);
        _viewChanges[Id] = vc;
        _events.Add(new ViewChangeStarted(target, why));
        TryMakeNewView(target);
    }

    private List<ViewChangeEntry> BuildReport()
    {
        var entries = new List<ViewChangeEntry>();
        foreach (var (seq, slot) in _slots)
        {
            if (seq <= _stable || (slot.Prepared is null && slot.MyPrepare is null)) continue;
            entries.Add(new ViewChangeEntry(seq, slot.Prepared, slot.PreparedProposal, slot.MyPrepare, slot.MyPrepareProposal));
        }
        return entries;
    }

    private void OnViewChange(ViewChange vc)
    {
        if (vc.NewView <= _view && !_inViewChange && _lastNewView is { } nv && nv.View == _view && vc.Sender != Id)
        {
            // It missed the new view, or is still asking for an older one (left behind in a view change while the
            // others moved on): send it this view's new view, which proves a quorum is here. At most once per
            // view-change period per replica, so stale view changes cannot make this replica flood.
            if (!_newViewResentAt.TryGetValue(vc.Sender, out var at) || _now - at >= _options.ViewChangeTimeoutTicks)
            {
                _newViewResentAt[vc.Sender] = _now;
                SendTo(vc.Sender, nv);
            }
            return;
        }
        if (vc.NewView < _view || (vc.NewView == _view && !_inViewChange))
        {
            Drop(vc.Sender, DropReason.Stale, $"view change to {vc.NewView}, replica at {_view}");
            return;
        }
        if (_viewChanges.TryGetValue(vc.Sender, out var known) && known.NewView >= vc.NewView)
        {
            Drop(vc.Sender, DropReason.Duplicate, "an equal or later view change is known");
            return;
        }
        if (!VerifySigned(vc, vc.Signature))
        {
            Drop(vc.Sender, DropReason.BadSignature, "view change signature");
            return;
        }
        if (!ValidViewChange(vc, out var why))
        {
            Drop(vc.Sender, DropReason.BadViewChange, why);
            return;
        }
        _viewChanges[vc.Sender] = vc;
        JoinIfFPlusOneMovedOn();
        TryMakeNewView(vc.NewView);
    }

    /// <summary>PBFT §4.5.2: f+1 replicas asking for later views means at least one honest one timed out.</summary>
    private void JoinIfFPlusOneMovedOn()
    {
        var later = _viewChanges.Values.Where(v => v.Sender != Id && (v.NewView > _view || (!_inViewChange && v.NewView == _view)))
            .Select(v => v.NewView).OrderBy(v => v).ToList();
        if (later.Count > _f && (later[0] > _view || !_inViewChange)) StartViewChange(later[0], "f+1 replicas moved on");
    }

    private bool ValidViewChange(ViewChange vc, out string why)
    {
        why = "";
        var floor = new SeqNo(0);
        if (vc.Stable is { } s)
        {
            if (!ValidCheckpointCertificate(s, out why)) return false;
            floor = s.Seq;
        }
        foreach (var e in vc.Entries)
        {
            if (e.Seq <= floor) return Fail(out why, $"entry {e.Seq} at or below its stable checkpoint");
            if (e.Prepared is { } qc)
            {
                var p = e.PreparedProposal!;
                if (qc.Phase != VotePhase.Prepare || qc.Seq != e.Seq || p.Seq != e.Seq || p.Digest != qc.Digest || qc.View >= vc.NewView)
                    return Fail(out why, $"prepared entry {e.Seq} is inconsistent");
                if (!VerifyCertificate(qc, out why)) return false;
            }
            if (e.LastVote is { } v)
            {
                var p = e.VotedProposal!;
                if (v.Sender != vc.Sender || v.Phase != VotePhase.Prepare || v.Seq != e.Seq || p.Seq != e.Seq
                    || p.Digest != v.Digest || v.View >= vc.NewView || !VerifySigned(v, v.Signature))
                    return Fail(out why, $"vote entry {e.Seq} is inconsistent or forged");
            }
        }
        return true;
    }

    private static bool Fail(out string why, string reason)
    {
        why = reason;
        return false;
    }

    private bool ValidCheckpointCertificate(CheckpointCertificate c, out string why)
    {
        why = "";
        if (c.Signatures.Count < _quorum) return Fail(out why, "checkpoint certificate below quorum");
        var message = MessageCodec.CheckpointBytes(c.Seq, c.Digest);
        foreach (var s in c.Signatures)
        {
            if (!_verifier.Verify(s.Replica, message, s.Signature)) return Fail(out why, $"checkpoint signature of {s.Replica}");
        }
        return true;
    }

    private void TryMakeNewView(View view)
    {
        if (!_inViewChange || _view != view || _newViewSentFor >= view) return;
        _schedule = ScheduleFor(view);
        if (PrimaryOf(view) != Id) return;
        var proof = _viewChanges.Values.Where(v => v.NewView == view).OrderBy(v => v.Sender.Value).Take(_quorum).ToList();
        if (proof.Count < _quorum) return;
        var unsigned = new NewView(Id, view, proof, default);
        var nv = unsigned with { Signature = Sign(unsigned) };
        _newViewSentFor = view;
        _lastNewView = nv;
        Broadcast(nv);
        InstallNewView(nv);
    }

    private void OnNewView(NewView nv)
    {
        if (nv.View < _view || (nv.View == _view && !_inViewChange))
        {
            Drop(nv.Sender, DropReason.Stale, $"new view {nv.View}, replica at {_view}");
            return;
        }
        var schedule = ScheduleFor(nv.View);
        if (schedule.PrimaryOf(nv.View) != nv.Sender)
        {
            Drop(nv.Sender, DropReason.NotPrimary, $"{nv.Sender} is not the primary of {nv.View}");
            return;
        }
        if (!VerifySigned(nv, nv.Signature))
        {
            Drop(nv.Sender, DropReason.BadSignature, "new view signature");
            return;
        }
        var senders = nv.Proof.Select(v => v.Sender).Distinct().Count();
        if (senders < _quorum || senders != nv.Proof.Count || nv.Proof.Any(v => v.NewView != nv.View))
        {
            Drop(nv.Sender, DropReason.BadNewView, "proof is not a quorum of view changes for this view");
            return;
        }
        foreach (var vc in nv.Proof)
        {
            if (!VerifySigned(vc, vc.Signature) || !ValidViewChange(vc, out _))
            {
                Drop(nv.Sender, DropReason.BadNewView, $"view change of {vc.Sender} in the proof is invalid");
                return;
            }
        }
        _schedule = schedule;
        _lastNewView = nv; // kept to hand to replicas that missed it
        InstallNewView(nv);
    }

    private void InstallNewView(NewView nv)
    {
        var (start, chain) = ChooseChain(nv.Proof);
        if (nv.View > _view) foreach (var slot in _slots.Values) slot.ResetForView();
        _view = nv.View;
        _inViewChange = false;
        _viewChangeAttempts = 0;
        _lastProgressTick = _now;
        foreach (var slot in _slots.Values) slot.ResetForView();
        foreach (var vc in _viewChanges.Values.Where(v => v.NewView <= nv.View).ToList()) _viewChanges.Remove(vc.Sender);
        if (start is { } cert && cert.Seq > _stable) MakeStable(cert);
        foreach (var p in chain.Where(p => InWindow(p.Seq)))
        {
            var slot = SlotFor(p.Seq);
            slot.Proposal = p;
            slot.ProposalView = nv.View;
            slot.Known[p.Digest] = p;
        }
        PersistView();
        _events.Add(new NewViewInstalled(nv.View, nv.Sender, chain.Count) { Chain = $"from {start?.Seq.ToString() ?? "#0"}: " + string.Join(" ", chain.Select(p => $"{p.Seq}:{p.Digest.Short}")) });
    }

    /// <summary>
    /// The new view's chain (DESIGN.md): from the highest certified checkpoint upward, at each height the
    /// highest-view prepare certificate, or a digest with at least f+1 reported prepare votes (ranked by the
    /// view at least one honest reporter vouches for), among entries whose parent is the digest chosen below.
    /// </summary>
    internal (CheckpointCertificate? Start, List<ReportedProposal> Chain) ChooseChain(IReadOnlyList<ViewChange> proof)
    {
        var start = proof.Select(v => v.Stable).Where(s => s is not null).MaxBy(s => s!.Seq.Value);
        var seq = start?.Seq ?? new SeqNo(0);
        Hash32? parent = start?.Digest;
        var chain = new List<ReportedProposal>();
        for (var i = 0; i < _options.Window + _options.CheckpointInterval; i++)
        {
            seq = seq.Next;
            var pick = PickAt(proof, seq, parent);
            if (pick is null) break;
            var described = _validator.Describe(seq, pick.Parent, pick.Payload);
            if (!described.Valid || described.Digest != pick.Digest) break;
            chain.Add(pick);
            parent = pick.Digest;
        }
        return (start, chain);
    }

    private bool Matches(ReportedProposal p) => _validator.Describe(p.Seq, p.Parent, p.Payload) is { Valid: true } d && d.Digest == p.Digest;

    private ReportedProposal? PickAt(IReadOnlyList<ViewChange> proof, SeqNo seq, Hash32? parent)
    {
        // Entries whose payload does not hash to their digest are a Byzantine reporter's lie: ignore them, so the
        // choice rests on certificates and votes and the payload on an honest copy.
        var entries = proof.SelectMany(v => v.Entries).Where(e => e.Seq == seq)
            .Select(e => e with
            {
                Prepared = e.PreparedProposal is { } p && Matches(p) ? e.Prepared : null,
                LastVote = e.VotedProposal is { } q && Matches(q) ? e.LastVote : null,
            }).ToList();
        var certified = entries.Where(e => e.Prepared is not null && (parent is null || e.PreparedProposal!.Parent == parent))
            .MaxBy(e => e.Prepared!.View.Value);
        var voted = entries.Where(e => e.LastVote is not null && (parent is null || e.VotedProposal!.Parent == parent))
            .GroupBy(e => e.LastVote!.Digest)
            .Where(g => g.Count() > _f)
            .Select(g => (Votes: g.ToList(), Vouched: g.Select(e => e.LastVote!.View.Value).OrderDescending().ElementAt(_f)))
            .OrderByDescending(g => g.Votes.Count).ThenByDescending(g => g.Vouched).ThenBy(g => g.Votes[0].LastVote!.Digest)
            .FirstOrDefault();
        if (certified is null) return voted.Votes?[0].VotedProposal;
        if (voted.Votes is null || certified.Prepared!.View.Value >= voted.Vouched) return certified.PreparedProposal;
        return voted.Votes[0].VotedProposal;
    }
}
