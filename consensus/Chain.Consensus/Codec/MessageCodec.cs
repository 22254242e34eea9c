using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Consensus.Messages;

namespace Chain.Consensus.Codec;

/// <summary>Bounds the decoder enforces before allocating.</summary>
public sealed record CodecLimits(int MaxReplicas, int MaxPayloadBytes, int MaxEntries)
{
    public static CodecLimits For(ConsensusOptions options, int replicas) =>
        new(replicas, options.MaxPayloadBytes, options.Window + options.CheckpointInterval);
}

/// <summary>
/// The canonical encoding of consensus messages (tag, version 1, fields in fixed order; see DESIGN.md) and
/// the bytes each sender signs. <see cref="Decode"/> is strict and throws only
/// <see cref="CanonicalDecodeException"/>.
/// </summary>
public static class MessageCodec
{
    public const byte PrePrepareTag = 0x40;
    public const byte VoteTag = 0x41;
    public const byte CertificateTag = 0x42;
    public const byte CheckpointTag = 0x43;
    public const byte ViewChangeTag = 0x44;
    public const byte NewViewTag = 0x45;
    private const byte Version = 1;

    private static readonly byte[] MessageDomain = "chain.consensus.v1\0"u8.ToArray();
    private static readonly byte[] VoteDomain = "chain.vote.v1\0"u8.ToArray();
    private static readonly byte[] CheckpointDomain = "chain.checkpoint.v1\0"u8.ToArray();

    /// <summary>
    /// The ledger's vote bytes: <c>"chain.vote.v1\0" ‖ phase ‖ height ‖ view ‖ digest</c>
    /// (identical to <c>CommitCertificate.VoteBytes</c> in Chain.Ledger; a test checks it).
    /// </summary>
    public static byte[] VoteBytes(VotePhase phase, SeqNo seq, View view, Hash32 digest) =>
        [.. VoteDomain, .. new CanonicalWriter(49).U8((byte)phase).U64(seq.Value).U64(view.Value).Hash(digest).WrittenSpan];

    public static byte[] CheckpointBytes(SeqNo seq, Hash32 digest) =>
        [.. CheckpointDomain, .. new CanonicalWriter(40).U64(seq.Value).Hash(digest).WrittenSpan];

    /// <summary>What <paramref name="message"/>'s sender signs; null for an unsigned certificate message.</summary>
    public static byte[]? SigningBytes(ConsensusMessage message) => message switch
    {
        Vote v => VoteBytes(v.Phase, v.Seq, v.View, v.Digest),
        Checkpoint c => CheckpointBytes(c.Seq, c.Digest),
        PrePrepare p => Domain(w => WritePrePrepareHeader(w, p)),
        ViewChange vc => Domain(w => WriteViewChangeBody(w, vc)),
        NewView nv => Domain(w => WriteNewViewBody(w, nv)),
        CertificateMessage => null,
        _ => throw new ArgumentOutOfRangeException(nameof(message)),
    };

    private static byte[] Domain(Action<CanonicalWriter> body)
    {
        var w = new CanonicalWriter();
        w.Fixed(MessageDomain);
        body(w);
        return w.ToArray();
    }

    public static byte[] Encode(ConsensusMessage message)
    {
        var w = new CanonicalWriter(message is PrePrepare p ? p.Payload.Length + 200 : 256);
        switch (message)
        {
            case PrePrepare pp:
                WritePrePrepareHeader(w, pp);
                w.Bytes(pp.Payload).Fixed(pp.Signature.Span);
                break;
            case Vote v:
                WriteVote(w, v);
                break;
            case CertificateMessage c:
                w.U8(CertificateTag).U8(Version).U16(c.Sender.Value);
                WriteQc(w, c.Certificate);
                break;
            case Checkpoint c:
                w.U8(CheckpointTag).U8(Version).U16(c.Sender.Value).U64(c.Seq.Value).Hash(c.Digest).Fixed(c.Signature.Span);
                break;
            case ViewChange vc:
                WriteViewChangeBody(w, vc);
                w.Fixed(vc.Signature.Span);
                break;
            case NewView nv:
                WriteNewViewBody(w, nv);
                w.Fixed(nv.Signature.Span);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(message));
        }
        return w.ToArray();
    }

    private static void WritePrePrepareHeader(CanonicalWriter w, PrePrepare p) =>
        w.U8(PrePrepareTag).U8(Version).U16(p.Sender.Value).U64(p.View.Value).U64(p.Seq.Value).Hash(p.Parent).Hash(p.Digest);

    private static void WriteVote(CanonicalWriter w, Vote v) =>
        w.U8(VoteTag).U8(Version).U16(v.Sender.Value).U8((byte)v.Phase).U64(v.View.Value).U64(v.Seq.Value).Hash(v.Digest)
            .Fixed(v.Signature.Span);

    private static void WriteQc(CanonicalWriter w, QuorumCertificate qc)
    {
        w.U8((byte)qc.Phase).U64(qc.View.Value).U64(qc.Seq.Value).Hash(qc.Digest);
        WriteSignatures(w, qc.Votes);
    }

    private static void WriteSignatures(CanonicalWriter w, IReadOnlyList<SignedBy> signatures)
    {
        w.U32((uint)signatures.Count);
        foreach (var s in signatures) w.U16(s.Replica.Value).Fixed(s.Signature.Span);
    }

    private static void WriteProposal(CanonicalWriter w, ReportedProposal p) =>
        w.U64(p.Seq.Value).Hash(p.Parent).Hash(p.Digest).Bytes(p.Payload);

    private static void WriteViewChangeBody(CanonicalWriter w, ViewChange vc)
    {
        w.U8(ViewChangeTag).U8(Version).U16(vc.Sender.Value).U64(vc.NewView.Value).Bool(vc.Stable is not null);
        if (vc.Stable is { } s)
        {
            w.U64(s.Seq.Value).Hash(s.Digest);
            WriteSignatures(w, s.Signatures);
        }
        w.U32((uint)vc.Entries.Count);
        foreach (var e in vc.Entries)
        {
            w.U64(e.Seq.Value).Bool(e.Prepared is not null);
            if (e.Prepared is not null)
            {
                WriteQc(w, e.Prepared);
                WriteProposal(w, e.PreparedProposal!);
            }
            w.Bool(e.LastVote is not null);
            if (e.LastVote is not null)
            {
                WriteVote(w, e.LastVote);
                WriteProposal(w, e.VotedProposal!);
            }
        }
    }

    private static void WriteNewViewBody(CanonicalWriter w, NewView nv)
    {
        w.U8(NewViewTag).U8(Version).U16(nv.Sender.Value).U64(nv.View.Value).U32((uint)nv.Proof.Count);
        foreach (var vc in nv.Proof) w.Bytes(Encode(vc));
    }

    /// <summary>Strict decode of one message; throws <see cref="CanonicalDecodeException"/> on anything else.</summary>
    public static ConsensusMessage Decode(ReadOnlySpan<byte> bytes, CodecLimits limits)
    {
        var r = new CanonicalReader(bytes);
        var message = Read(ref r, limits);
        r.End("message");
        return message;
    }

    private static ConsensusMessage Read(ref CanonicalReader r, CodecLimits limits)
    {
        var tag = r.U8("message.tag");
        var version = r.U8("message.version");
        if (version != Version) throw new CanonicalDecodeException("message.version", $"unsupported version {version}");
        var sender = ReadReplica(ref r, limits, "message.sender");
        switch (tag)
        {
            case PrePrepareTag:
                return new PrePrepare(sender, new View(r.U64("preprepare.view")), ReadSeq(ref r, "preprepare.seq"),
                    r.Hash("preprepare.parent"), r.Hash("preprepare.digest"),
                    r.Bytes(limits.MaxPayloadBytes, "preprepare.payload").ToArray(), ReadSignature(ref r, "preprepare.signature"));
            case VoteTag:
                return ReadVoteBody(ref r, sender);
            case CertificateTag:
                return new CertificateMessage(sender, ReadQc(ref r, limits));
            case CheckpointTag:
                return new Checkpoint(sender, ReadSeq(ref r, "checkpoint.seq"), r.Hash("checkpoint.digest"),
                    ReadSignature(ref r, "checkpoint.signature"));
            case ViewChangeTag:
                return ReadViewChange(ref r, sender, limits);
            case NewViewTag:
                var view = new View(r.U64("newview.view"));
                var count = r.Count(limits.MaxReplicas, "newview.proof");
                var proof = new ViewChange[count];
                for (var i = 0; i < count; i++)
                {
                    // The kind is checked before decoding, so nested new views cannot recurse (and overflow the stack).
                    var inner = r.Bytes(int.MaxValue, "newview.viewchange");
                    if (inner.IsEmpty || inner[0] != ViewChangeTag)
                        throw new CanonicalDecodeException("newview.viewchange", "not a view change");
                    proof[i] = (ViewChange)Decode(inner, limits);
                }
                return new NewView(sender, view, proof, ReadSignature(ref r, "newview.signature"));
            default:
                throw new CanonicalDecodeException("message.tag", $"unknown message tag 0x{tag:x2}");
        }
    }

    private static ReplicaId ReadReplica(ref CanonicalReader r, CodecLimits limits, string field)
    {
        var id = r.U16(field);
        if (id >= limits.MaxReplicas) throw new CanonicalDecodeException(field, $"replica {id} is not below n = {limits.MaxReplicas}");
        return new ReplicaId(id);
    }

    private static SeqNo ReadSeq(ref CanonicalReader r, string field)
    {
        var seq = r.U64(field);
        if (seq == 0) throw new CanonicalDecodeException(field, "sequence numbers start at 1");
        return new SeqNo(seq);
    }

    private static Signature ReadSignature(ref CanonicalReader r, string field) => new(r.Fixed(Signature.Size, field));

    private static VotePhase ReadPhase(ref CanonicalReader r, string field)
    {
        var phase = r.U8(field);
        return phase is (byte)VotePhase.Commit or (byte)VotePhase.Prepare
            ? (VotePhase)phase
            : throw new CanonicalDecodeException(field, $"unknown phase {phase}");
    }

    private static Vote ReadVoteBody(ref CanonicalReader r, ReplicaId sender) =>
        new(sender, ReadPhase(ref r, "vote.phase"), new View(r.U64("vote.view")), ReadSeq(ref r, "vote.seq"),
            r.Hash("vote.digest"), ReadSignature(ref r, "vote.signature"));

    private static QuorumCertificate ReadQc(ref CanonicalReader r, CodecLimits limits) =>
        new(ReadPhase(ref r, "qc.phase"), new View(r.U64("qc.view")), ReadSeq(ref r, "qc.seq"), r.Hash("qc.digest"),
            ReadSignatures(ref r, limits, "qc.votes"));

    private static SignedBy[] ReadSignatures(ref CanonicalReader r, CodecLimits limits, string field)
    {
        var count = r.Count(limits.MaxReplicas, field);
        var result = new SignedBy[count];
        for (var i = 0; i < count; i++)
        {
            var replica = ReadReplica(ref r, limits, field + ".replica");
            if (i > 0 && replica.Value <= result[i - 1].Replica.Value)
                throw new CanonicalDecodeException(field, "replicas must be strictly ascending");
            result[i] = new SignedBy(replica, ReadSignature(ref r, field + ".signature"));
        }
        return result;
    }

    private static ReportedProposal ReadProposal(ref CanonicalReader r, CodecLimits limits, string field) =>
        new(ReadSeq(ref r, field + ".seq"), r.Hash(field + ".parent"), r.Hash(field + ".digest"),
            r.Bytes(limits.MaxPayloadBytes, field + ".payload").ToArray());

    private static ViewChange ReadViewChange(ref CanonicalReader r, ReplicaId sender, CodecLimits limits)
    {
        var newView = new View(r.U64("viewchange.view"));
        CheckpointCertificate? stable = null;
        if (r.Bool("viewchange.hasStable"))
        {
            stable = new CheckpointCertificate(ReadSeq(ref r, "viewchange.stable.seq"), r.Hash("viewchange.stable.digest"),
                ReadSignatures(ref r, limits, "viewchange.stable.signatures"));
        }
        var count = r.Count(limits.MaxEntries, "viewchange.entries");
        var entries = new ViewChangeEntry[count];
        for (var i = 0; i < count; i++)
        {
            var seq = ReadSeq(ref r, "viewchange.entry.seq");
            if (i > 0 && seq <= entries[i - 1].Seq)
                throw new CanonicalDecodeException("viewchange.entry.seq", "entries must be strictly ascending");
            QuorumCertificate? prepared = null;
            ReportedProposal? preparedProposal = null, votedProposal = null;
            Vote? vote = null;
            if (r.Bool("viewchange.entry.hasPrepared"))
            {
                prepared = ReadQc(ref r, limits);
                preparedProposal = ReadProposal(ref r, limits, "viewchange.entry.prepared");
            }
            if (r.Bool("viewchange.entry.hasVote"))
            {
                var tag = r.U8("viewchange.entry.vote.tag");
                var version = r.U8("viewchange.entry.vote.version");
                if (tag != VoteTag || version != Version)
                    throw new CanonicalDecodeException("viewchange.entry.vote", "not a version 1 vote");
                vote = ReadVoteBody(ref r, ReadReplica(ref r, limits, "viewchange.entry.vote.sender"));
                votedProposal = ReadProposal(ref r, limits, "viewchange.entry.voted");
            }
            entries[i] = new ViewChangeEntry(seq, prepared, preparedProposal, vote, votedProposal);
        }
        return new ViewChange(sender, newView, stable, entries, ReadSignature(ref r, "viewchange.signature"));
    }
}
