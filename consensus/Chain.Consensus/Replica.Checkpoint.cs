using Chain.Accel;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

// Checkpoints (PBFT §4.3): signed every K heights once applied; a quorum makes them stable, the log below is
// truncated and the window slides. Replicas that see f+1 peers checkpointed beyond their window ask for state.
public sealed partial class Replica
{
    private readonly SortedDictionary<SeqNo, Dictionary<ReplicaId, Checkpoint>> _checkpointVotes = new();
    private readonly Dictionary<ReplicaId, Checkpoint> _latestCheckpointFrom = new();

    /// <summary>Re-announced every few progress timeouts, so a replica that restarted into an idle cluster learns it is behind.</summary>
    private Checkpoint? _latestOwnCheckpoint;

    private void OnApplied(SeqNo seq)
    {
        if (seq > _committed) seq = _committed; // the host cannot apply what was not committed
        if (seq <= _applied) return;
        _applied = seq;
        var k = (ulong)_options.CheckpointInterval;
        for (var s = new SeqNo((_lastCheckpointSigned.Value / k + 1) * k); s <= _applied; s = new SeqNo(s.Value + k))
        {
            var digest = CommittedDigestAt(s);
            if (digest is null) continue;
            var unsigned = new Checkpoint(Id, s, digest.Value, default);
            var checkpoint = unsigned with { Signature = Sign(unsigned) };
            Broadcast(checkpoint);
            RecordCheckpoint(checkpoint);
            _latestOwnCheckpoint = checkpoint;
            _lastCheckpointSigned = s;
        }
    }

    /// <summary>
    /// Every few progress timeouts, sign and broadcast this replica's committed height. At multiples of K it is
    /// a checkpoint (it may complete a certificate); at other heights it only lets lagging replicas notice.
    /// </summary>
    private void AnnounceProgress()
    {
        if (_committed.Value == 0 || CommittedDigestAt(_committed) is not { } digest) return;
        var unsigned = new Checkpoint(Id, _committed, digest, default);
        var announcement = unsigned with { Signature = Sign(unsigned) };
        Broadcast(announcement);
        RecordLatest(announcement);
    }

    private void OnCheckpoint(Checkpoint c)
    {
        if (c.Seq <= _stable)
        {
            Drop(c.Sender, DropReason.Stale, $"checkpoint {c.Seq} at or below stable {_stable}");
            return;
        }
        if (!VerifySigned(c, c.Signature))
        {
            Drop(c.Sender, DropReason.BadSignature, "checkpoint signature");
            return;
        }
        if (c.Seq.Value % (ulong)_options.CheckpointInterval != 0)
        {
            RecordLatest(c); // a progress announcement
            return;
        }
        RecordCheckpoint(c);
    }

    private void RecordLatest(Checkpoint c)
    {
        if (!_latestCheckpointFrom.TryGetValue(c.Sender, out var latest) || latest.Seq < c.Seq) _latestCheckpointFrom[c.Sender] = c;
        // q replicas announcing the same committed (height, digest) certify it, at any height.
        var agreed = _latestCheckpointFrom.Values.Where(v => v.Seq == c.Seq && v.Digest == c.Digest).ToList();
        if (c.Seq > _stable && agreed.Count >= _quorum)
        {
            MakeStable(new CheckpointCertificate(c.Seq, c.Digest,
                agreed.OrderBy(v => v.Sender.Value).Select(v => new SignedBy(v.Sender, v.Signature)).ToArray()));
        }
    }

    private void RecordCheckpoint(Checkpoint c)
    {
        RecordLatest(c);
        if (c.Seq <= HighWatermark)
        {
            if (!_checkpointVotes.TryGetValue(c.Seq, out var votes)) _checkpointVotes[c.Seq] = votes = new();
            votes.TryAdd(c.Sender, c);
            var agreeing = votes.Values.Where(v => v.Digest == c.Digest).ToList();
            if (agreeing.Count >= _quorum && c.Seq > _stable)
            {
                var certificate = new CheckpointCertificate(c.Seq, c.Digest,
                    agreeing.OrderBy(v => v.Sender.Value).Select(v => new SignedBy(v.Sender, v.Signature)).ToArray());
                MakeStable(certificate);
            }
        }
        CheckBehind();
    }

    /// <summary>Moves the low watermark to a certified checkpoint and truncates everything at or below it.</summary>
    private void MakeStable(CheckpointCertificate certificate)
    {
        _stable = certificate.Seq;
        _stableDigest = certificate.Digest;
        _stableCertificate = certificate;
        Truncate(certificate.Seq);
        PersistCheckpoint(certificate);
        _events.Add(new CheckpointStable(certificate.Seq, certificate.Digest));
        if (_committed < certificate.Seq) RequestTransfer(certificate.Seq, certificate.Digest, certificate.Signatures.Select(s => s.Replica));
    }

    private void Truncate(SeqNo upTo)
    {
        foreach (var seq in _slots.Keys.Where(s => s <= upTo).ToList())
        {
            _slots.Remove(seq);
            _persist.Add(new PersistRecord(SlotKey(seq), null));
        }
        foreach (var seq in _checkpointVotes.Keys.Where(s => s <= upTo).ToList()) _checkpointVotes.Remove(seq);
        foreach (var seq in _committedDigests.Keys.Where(s => s < upTo).ToList()) _committedDigests.Remove(seq);
        _verifiedCertificates.RemoveWhere(k => k.Item3 <= upTo);
    }

    /// <summary>If f+1 replicas (so at least one honest) signed checkpoints beyond the window, this replica is behind.</summary>
    private void CheckBehind()
    {
        var ahead = _latestCheckpointFrom.Values.Where(c => c.Seq > HighWatermark).ToList();
        if (ahead.Count <= _f) return;
        var target = ahead.GroupBy(c => (c.Seq, c.Digest)).Where(g => g.Count() > _f).OrderByDescending(g => g.Key.Seq).FirstOrDefault();
        if (target is null) return;
        RequestTransfer(target.Key.Seq, target.Key.Digest, target.Select(c => c.Sender));
    }

    /// <summary>
    /// When stuck: if f+1 replicas (so at least one honest) announced a committed height above ours, or we hold
    /// a commit proof for a height whose block we lack, ask the host to fetch the blocks. True if it asked.
    /// </summary>
    private bool TryRequestCatchUp()
    {
        var ahead = _latestCheckpointFrom.Values.Where(c => c.Seq > _committed && c.Sender != Id)
            .GroupBy(c => (c.Seq, c.Digest)).Where(g => g.Count() > _f).OrderByDescending(g => g.Key.Seq).FirstOrDefault();
        var proof = _slots.Values.Where(s => s.Seq > _committed && s.CommitProof is not null).LastOrDefault();
        if (ahead is not null && (proof is null || ahead.Key.Seq >= proof.Seq))
        {
            RequestTransfer(ahead.Key.Seq, ahead.Key.Digest, ahead.Select(c => c.Sender), retry: true);
            return true;
        }
        // Under load the replicas announce slightly different heights, so f+1 equal announcements may never come; f+1
        // announcements above this replica's height (at least one honest) still show the cluster moved on. Fetch up to
        // the lowest of the f+1 highest, which an honest replica holds.
        var above = _latestCheckpointFrom.Values.Where(c => c.Seq > _committed && c.Sender != Id).OrderByDescending(c => c.Seq.Value).ToList();
        if (proof is null && above.Count > _f)
        {
            var target = above[_f];
            RequestTransfer(target.Seq, target.Digest, above.Take(_f + 1).Select(c => c.Sender), retry: true);
            return true;
        }
        if (proof is null) return false;
        RequestTransfer(proof.Seq, proof.CommitProof!.Digest, proof.CommitProof.Votes.Select(v => v.Replica), retry: true);
        // A commit proof from this view shows a quorum committing under this primary: this replica is behind, not
        // betrayed (suspecting would leave it alone in a view change while the others go on). One from an older view
        // does not vouch for the current primary: fetch, but keep suspecting.
        return proof.CommitProof.View == _view;
    }

    private void RequestTransfer(SeqNo target, Hash32 digest, IEnumerable<ReplicaId> peers, bool retry = false)
    {
        if (_transferTarget is { } t && t >= target && !(retry && _now - _transferRequestedAt >= _options.ProgressTimeoutTicks)) return;
        _transferTarget = target;
        _transferRequestedAt = _now;
        _events.Add(new StateTransferNeeded(_committed.Next, target, digest, peers.Where(p => p != Id).ToArray()));
    }

    private void OnCaughtUp(SeqNo seq, Hash32 digest, IReadOnlyList<BlockOrigin>? history)
    {
        foreach (var origin in history ?? []) _reputation.Record(origin);
        if (seq <= _committed) return;
        _lastProgressTick = _now; // catching up is progress
        _committed = seq;
        _applied = seq;
        _committedDigests[seq] = digest;
        _lastCheckpointSigned = new SeqNo(Math.Max(_lastCheckpointSigned.Value, seq.Value));
        _lastProgressTick = _now;
        if (_transferTarget is { } t && t <= seq) _transferTarget = null;
        // The log is not truncated here: a replica truncates only at a certified checkpoint, so that its view-change
        // reports always reach down to a certificate (otherwise a new view could start below a gap and drop blocks).
        foreach (var s in _slots.Keys.Where(s => s <= seq).ToList()) _slots[s].PendingCertificates.Clear();
    }
}
