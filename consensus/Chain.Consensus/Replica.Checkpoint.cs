using Chain.Accel;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

// Checkpoints (PBFT §4.3): signed every K heights once applied; a quorum makes them stable, the log below is
// truncated and the window slides. Replicas that see f+1 peers checkpointed beyond their window ask for state.
public sealed partial class Replica
{
    private readonly SortedDictionary<SeqNo, Dictionary<ReplicaId, Checkpoint>> _checkpointVotes = new();
    private readonly Dictionary<ReplicaId, Checkpoint> _latestCheckpointFrom = new();

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
            _lastCheckpointSigned = s;
        }
    }

    private void OnCheckpoint(Checkpoint c)
    {
        if (c.Seq.Value % (ulong)_options.CheckpointInterval != 0)
        {
            Drop(c.Sender, DropReason.Malformed, $"checkpoint at {c.Seq} is not a multiple of {_options.CheckpointInterval}");
            return;
        }
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
        RecordCheckpoint(c);
    }

    private void RecordCheckpoint(Checkpoint c)
    {
        if (!_latestCheckpointFrom.TryGetValue(c.Sender, out var latest) || latest.Seq < c.Seq) _latestCheckpointFrom[c.Sender] = c;
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

    private void RequestTransfer(SeqNo target, Hash32 digest, IEnumerable<ReplicaId> peers)
    {
        if (_transferTarget is { } t && t >= target) return;
        _transferTarget = target;
        _events.Add(new StateTransferNeeded(_committed.Next, target, digest, peers.Where(p => p != Id).ToArray()));
    }

    private void OnCaughtUp(SeqNo seq, Hash32 digest, IReadOnlyList<BlockOrigin>? history)
    {
        foreach (var origin in history ?? []) _reputation.Record(origin);
        if (seq <= _committed) return;
        _committed = seq;
        _applied = seq;
        _committedDigests[seq] = digest;
        _lastCheckpointSigned = new SeqNo(Math.Max(_lastCheckpointSigned.Value, seq.Value));
        _lastProgressTick = _now;
        if (_transferTarget is { } t && t <= seq) _transferTarget = null;
        if (seq > _stable)
        {
            // The host verified every block up to seq against its certificate: treat it as a local stable point.
            _stable = seq;
            _stableDigest = digest;
            Truncate(seq);
        }
    }
}
