using Chain.Accel.Encoding;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

// What a replica must not forget across a crash (DESIGN.md, "Persist before send"): the view it is in, every
// vote it signed (so it never signs a conflicting one), its prepare certificates (so view changes can report
// them) and its stable checkpoint certificate. Records are written before the messages that depend on them.
public sealed partial class Replica
{
    private const string ViewKey = "consensus/view";
    private const string CheckpointKey = "consensus/checkpoint";
    private const string SlotPrefix = "consensus/slot/";

    private static string SlotKey(SeqNo seq) => SlotPrefix + seq.Value.ToString("x16");

    private void PersistView() =>
        _persist.Add(new PersistRecord(ViewKey, new CanonicalWriter(9).U64(_view.Value).Bool(_inViewChange).ToArray()));

    private void PersistCheckpoint(CheckpointCertificate certificate)
    {
        // Stored as a view change with no entries: the codec already encodes checkpoint certificates strictly.
        var carrier = new ViewChange(Id, _view, certificate, [], default);
        _persist.Add(new PersistRecord(CheckpointKey, MessageCodec.Encode(carrier)));
    }

    private void PersistSlot(Slot slot)
    {
        // One view-change entry (prepare certificate and last prepare vote, with proposals) plus the last commit vote.
        var entry = new ViewChangeEntry(slot.Seq, slot.Prepared, slot.PreparedProposal, slot.MyPrepare, slot.MyPrepareProposal);
        var carrier = new ViewChange(Id, _view, null, [entry], default);
        var w = new CanonicalWriter().Bytes(MessageCodec.Encode(carrier)).Bool(slot.MyCommit is not null);
        if (slot.MyCommit is not null) w.Bytes(MessageCodec.Encode(slot.MyCommit));
        _persist.Add(new PersistRecord(SlotKey(slot.Seq), w.ToArray()));
    }

    /// <summary>Loads records written by earlier <see cref="Ready.Persist"/> lists. Corrupt records fail-stop.</summary>
    private void Restore(IEnumerable<PersistRecord> records)
    {
        var byKey = records.Where(r => r.Value is not null).GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Last().Value!);
        try
        {
            if (byKey.TryGetValue(CheckpointKey, out var checkpoint)
                && ((ViewChange)MessageCodec.Decode(checkpoint, _limits)).Stable is { } cert && cert.Seq > _stable)
            {
                _stable = cert.Seq;
                _stableDigest = cert.Digest;
                _stableCertificate = cert;
                if (cert.Seq <= _committed) _committedDigests[cert.Seq] = cert.Digest;
            }
            if (byKey.TryGetValue(ViewKey, out var view))
            {
                var r = new CanonicalReader(view);
                _view = new View(r.U64("view"));
                _inViewChange = r.Bool("inViewChange");
                r.End("view");
            }
            foreach (var (key, value) in byKey.Where(kv => kv.Key.StartsWith(SlotPrefix, StringComparison.Ordinal)))
                RestoreSlot(value);
        }
        catch (Exception e) when (e is CanonicalDecodeException or InvalidCastException)
        {
            throw new InvalidOperationException($"persisted consensus state is corrupt: {e.Message}", e);
        }
        _newViewSentFor = _view; // never send a second new view for a view this replica may already have announced
        if (_inViewChange) _viewChanges.Clear();
    }

    private void RestoreSlot(byte[] value)
    {
        var r = new CanonicalReader(value);
        var carrier = (ViewChange)MessageCodec.Decode(r.Bytes(int.MaxValue, "slot.entry"), _limits);
        Vote? commit = r.Bool("slot.hasCommit") ? (Vote)MessageCodec.Decode(r.Bytes(int.MaxValue, "slot.commit"), _limits) : null;
        r.End("slot");
        var e = carrier.Entries.Single();
        if (e.Seq <= _stable) return;
        var slot = SlotFor(e.Seq);
        slot.Prepared = e.Prepared;
        slot.PreparedProposal = e.PreparedProposal;
        slot.MyPrepare = e.LastVote;
        slot.MyPrepareProposal = e.VotedProposal;
        slot.MyCommit = commit;
        if (e.PreparedProposal is { } p) slot.Known[p.Digest] = p;
        if (e.VotedProposal is { } v) slot.Known[v.Digest] = v;
    }
}
