using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static Chain.Consensus.Tests.ConsensusTestData;

namespace Chain.Consensus.Tests.Codec;

/// <summary>
/// The decoder's rules one at a time: each test encodes a message that breaks exactly one rule (the encoder
/// writes whatever it is given) and checks the decoder rejects it, naming the field.
/// </summary>
public class DecoderRejectionTests
{
    private const int N = 4;

    private static readonly Hash32 SomeHash = Hash32.Sha256("some block"u8);
    private static readonly Signature SomeSignature =
        new(Enumerable.Range(0, Signature.Size).Select(i => (byte)i).ToArray());

    private static ReplicaId R(int id) => new((ushort)id);

    private static SeqNo S(ulong seq) => new(seq);

    private static SignedBy[] By(params int[] replicas) => [.. replicas.Select(r => new SignedBy(R(r), SomeSignature))];

    private static ReportedProposal Proposal(ulong seq) => new(S(seq), SomeHash, SomeHash, [1, 2, 3]);

    private static Vote Vote(ulong seq, int sender = 1) =>
        new(R(sender), VotePhase.Prepare, new View(3), S(seq), SomeHash, SomeSignature);

    private static QuorumCertificate Qc(ulong seq, params int[] voters) =>
        new(VotePhase.Prepare, new View(3), S(seq), SomeHash, By(voters));

    private static ViewChangeEntry FullEntry(ulong seq) => new(S(seq), Qc(seq, 0, 1, 2), Proposal(seq), Vote(seq),
        Proposal(seq));

    private static ViewChange ViewChange(CheckpointCertificate? stable = null, params ViewChangeEntry[] entries) =>
        new(R(2), new View(4), stable, entries, SomeSignature);

    private static CanonicalDecodeException Rejected(ConsensusMessage m, CodecLimits? limits = null) =>
        ConsensusAssert.Rejects(MessageCodec.Encode(m), limits ?? Limits(N));

    private static void RejectedAt(string field, ConsensusMessage m, CodecLimits? limits = null)
    {
        var e = Rejected(m, limits);
        Assert.Equal(field, e.Field);
        Assert.False(e.TooLarge);
    }

    private static void Accepted(ConsensusMessage m, CodecLimits? limits = null) =>
        ConsensusAssert.Equal(m, MessageCodec.Decode(MessageCodec.Encode(m), limits ?? Limits(N)));

    // ---- replica ids ----

    public static TheoryData<string> Kinds() => [.. ConsensusTestData.Kinds.Select(k => k.Kind)];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_sender_not_below_n_is_rejected(string kind)
    {
        var draw = ConsensusTestData.Kinds.Single(k => k.Kind == kind).Draw;
        for (var seed = 0; seed < 20; seed++)
        {
            var m = draw(new Random(seed), N);
            Accepted(m with { Sender = R(N - 1) });
            RejectedAt("message.sender", m with { Sender = R(N) });
            RejectedAt("message.sender", m with { Sender = R(ushort.MaxValue) });
        }
    }

    [Fact]
    public void A_voter_or_signer_not_below_n_is_rejected_wherever_it_is()
    {
        RejectedAt("qc.votes.replica", new CertificateMessage(R(0), Qc(5, 0, N)));
        RejectedAt("viewchange.stable.signatures.replica",
            ViewChange(new CheckpointCertificate(S(16), SomeHash, By(1, N))));
        RejectedAt("qc.votes.replica", ViewChange(null, FullEntry(17) with { Prepared = Qc(17, N) }));
        RejectedAt("viewchange.entry.vote.sender", ViewChange(null, FullEntry(17) with { LastVote = Vote(17, N) }));
        RejectedAt("message.sender", new NewView(R(1), new View(4), [ViewChange() with { Sender = R(N) }],
            SomeSignature));
    }

    [Property(MaxTest = 300)]
    public Property A_message_decodes_exactly_when_every_id_in_it_is_below_n() =>
        Prop.ForAll(Generators.Messages(), s =>
        {
            var m = s.Value.Message;
            var bytes = MessageCodec.Encode(m);
            var highest = ReplicaIds(m).Max(id => id.Value);
            ConsensusAssert.Equal(m, MessageCodec.Decode(bytes, Limits(highest + 1)));
            ConsensusAssert.Rejects(bytes, Limits(highest));
        });

    // ---- sequence numbers ----

    public static TheoryData<string> SeqFields() =>
    [
        "preprepare", "vote", "qc", "checkpoint", "stable", "entry", "prepared-qc", "prepared-proposal",
        "voted-vote", "voted-proposal", "newview-entry",
    ];

    /// <summary>A message with a zero sequence number in the named place, and the field the decoder names.</summary>
    private static (ConsensusMessage Message, string Field) ZeroSeq(string where) => where switch
    {
        "preprepare" => (new PrePrepare(R(0), new View(1), S(0), SomeHash, SomeHash, [], SomeSignature),
            "preprepare.seq"),
        "vote" => (Vote(0), "vote.seq"),
        "qc" => (new CertificateMessage(R(0), Qc(0, 0, 1, 2)), "qc.seq"),
        "checkpoint" => (new Checkpoint(R(0), S(0), SomeHash, SomeSignature), "checkpoint.seq"),
        "stable" => (ViewChange(new CheckpointCertificate(S(0), SomeHash, By(0, 1, 2))), "viewchange.stable.seq"),
        "entry" => (ViewChange(null, new ViewChangeEntry(S(0), null, null, null, null)), "viewchange.entry.seq"),
        "prepared-qc" => (ViewChange(null, FullEntry(9) with { Prepared = Qc(0, 0) }), "qc.seq"),
        "prepared-proposal" => (ViewChange(null, FullEntry(9) with { PreparedProposal = Proposal(0) }),
            "viewchange.entry.prepared.seq"),
        "voted-vote" => (ViewChange(null, FullEntry(9) with { LastVote = Vote(0) }), "vote.seq"),
        "voted-proposal" => (ViewChange(null, FullEntry(9) with { VotedProposal = Proposal(0) }),
            "viewchange.entry.voted.seq"),
        "newview-entry" => (new NewView(R(0), new View(4),
            [ViewChange(null, new ViewChangeEntry(S(0), null, null, null, null))], SomeSignature),
            "viewchange.entry.seq"),
        _ => throw new ArgumentOutOfRangeException(nameof(where)),
    };

    [Theory]
    [MemberData(nameof(SeqFields))]
    public void Sequence_number_zero_is_rejected(string where)
    {
        var (m, field) = ZeroSeq(where);
        RejectedAt(field, m);
    }

    // ---- ascending lists ----

    [Theory]
    [InlineData(new[] { 1, 1 })]
    [InlineData(new[] { 2, 1 })]
    [InlineData(new[] { 0, 2, 2, 3 })]
    [InlineData(new[] { 0, 1, 3, 2 })]
    public void Certificate_replicas_not_strictly_ascending_are_rejected(int[] replicas)
    {
        RejectedAt("qc.votes", new CertificateMessage(R(0), Qc(5, replicas)));
        RejectedAt("viewchange.stable.signatures", ViewChange(new CheckpointCertificate(S(16), SomeHash,
            By(replicas))));
        RejectedAt("qc.votes", ViewChange(null, FullEntry(17) with { Prepared = Qc(17, replicas) }));
        Accepted(new CertificateMessage(R(0), Qc(5, [.. replicas.Distinct().Order()])));
    }

    [Theory]
    [InlineData(new ulong[] { 5, 5 })]
    [InlineData(new ulong[] { 6, 5 })]
    [InlineData(new ulong[] { 1, 2, 2 })]
    [InlineData(new ulong[] { 1, 3, 2 })]
    [InlineData(new ulong[] { ulong.MaxValue, 1 })]
    public void View_change_entries_not_strictly_ascending_are_rejected(ulong[] seqs)
    {
        RejectedAt("viewchange.entry.seq", ViewChange(null, [.. seqs.Select(FullEntry)]));
        RejectedAt("viewchange.entry.seq", new NewView(R(0), new View(4),
            [ViewChange(null, [.. seqs.Select(FullEntry)])], SomeSignature));
        Accepted(ViewChange(null, [.. seqs.Distinct().Order().Select(FullEntry)]));
    }

    // ---- tags, versions, phases, booleans ----

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x04)]
    [InlineData(0x3f)]
    [InlineData(0x46)]
    [InlineData(0xff)]
    public void An_unknown_tag_is_rejected(byte tag)
    {
        var rng = new Random(tag);
        foreach (var (_, draw) in ConsensusTestData.Kinds)
        {
            var bytes = MessageCodec.Encode(draw(rng, N));
            bytes[0] = tag;
            Assert.Equal("message.tag", ConsensusAssert.Rejects(bytes, Limits(N)).Field);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0xff)]
    public void An_unknown_version_is_rejected(byte version)
    {
        var rng = new Random(version);
        foreach (var (_, draw) in ConsensusTestData.Kinds)
        {
            var bytes = MessageCodec.Encode(draw(rng, N));
            bytes[1] = version;
            Assert.Equal("message.version", ConsensusAssert.Rejects(bytes, Limits(N)).Field);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(0xff)]
    public void An_unknown_phase_is_rejected(byte phase)
    {
        var bad = (VotePhase)phase;
        RejectedAt("vote.phase", Vote(5) with { Phase = bad });
        RejectedAt("qc.phase", new CertificateMessage(R(0), Qc(5, 0, 1) with { Phase = bad }));
        RejectedAt("qc.phase", ViewChange(null, FullEntry(9) with { Prepared = Qc(9, 0, 1) with { Phase = bad } }));
        RejectedAt("vote.phase", ViewChange(null, FullEntry(9) with { LastVote = Vote(9) with { Phase = bad } }));
    }

    [Fact]
    public void A_view_change_entry_vote_must_be_a_version_1_vote()
    {
        var bytes = MessageCodec.Encode(ViewChange(null, new ViewChangeEntry(S(9), null, null, Vote(9), Proposal(9))));
        var voteAt = bytes.AsSpan().IndexOf(MessageCodec.Encode(Vote(9)));
        Assert.True(voteAt > 0);
        foreach (var (offset, value) in new[] { (0, MessageCodec.PrePrepareTag), (0, (byte)0), (1, (byte)2) })
        {
            var bad = bytes.ToArray();
            bad[voteAt + offset] = value;
            Assert.Equal("viewchange.entry.vote", ConsensusAssert.Rejects(bad, Limits(N)).Field);
        }
    }

    [Fact]
    public void Booleans_other_than_0_and_1_are_rejected()
    {
        // hasStable is the byte after tag, version, sender and view.
        var bytes = MessageCodec.Encode(ViewChange(null, new ViewChangeEntry(S(9), null, null, null, null)));
        var hasStable = 1 + 1 + 2 + 8;
        Assert.Equal(0, bytes[hasStable]);
        var hasPrepared = hasStable + 1 + 4 + 8;
        var hasVote = hasPrepared + 1;
        foreach (var (at, field) in new[]
        {
            (hasStable, "viewchange.hasStable"), (hasPrepared, "viewchange.entry.hasPrepared"),
            (hasVote, "viewchange.entry.hasVote"),
        })
        {
            Assert.Equal(0, bytes[at]);
            var bad = bytes.ToArray();
            bad[at] = 2;
            Assert.Equal(field, ConsensusAssert.Rejects(bad, Limits(N)).Field);
        }
    }

    // ---- limits ----

    [Fact]
    public void A_payload_above_the_limit_is_rejected_as_too_large()
    {
        const int limit = 100;
        var limits = Limits(N) with { MaxPayloadBytes = limit };
        PrePrepare PrePrepare(int length) =>
            new(R(0), new View(1), S(1), SomeHash, SomeHash, new byte[length], SomeSignature);
        Accepted(PrePrepare(limit), limits);
        var e = Rejected(PrePrepare(limit + 1), limits);
        Assert.True(e.TooLarge);
        Assert.Equal("preprepare.payload", e.Field);

        var entry = FullEntry(9);
        Accepted(ViewChange(null, entry with { VotedProposal = Proposal(9) with { Payload = new byte[limit] } }),
            limits);
        var tooLong = Proposal(9) with { Payload = new byte[limit + 1] };
        e = Rejected(ViewChange(null, entry with { VotedProposal = tooLong }), limits);
        Assert.True(e.TooLarge);
        Assert.Equal("viewchange.entry.voted.payload", e.Field);
        e = Rejected(ViewChange(null, entry with { PreparedProposal = tooLong }), limits);
        Assert.True(e.TooLarge);
        Assert.Equal("viewchange.entry.prepared.payload", e.Field);
    }

    [Fact]
    public void A_claimed_payload_length_is_checked_before_anything_is_read()
    {
        // A 4 GiB length prefix on a short message: too large, without allocating.
        var bytes = MessageCodec.Encode(new PrePrepare(R(0), new View(1), S(1), SomeHash, SomeHash, [], SomeSignature));
        var lengthAt = 1 + 1 + 2 + 8 + 8 + 32 + 32;
        bytes.AsSpan(lengthAt, 4).Fill(0xff);
        var e = ConsensusAssert.Rejects(bytes, Limits(N));
        Assert.True(e.TooLarge);
        Assert.Equal("preprepare.payload", e.Field);
    }

    [Fact]
    public void Counts_above_their_limits_are_rejected_as_too_large()
    {
        var limits = Limits(N) with { MaxEntries = 2 };
        Accepted(ViewChange(null, FullEntry(1), FullEntry(2)), limits);
        var e = Rejected(ViewChange(null, FullEntry(1), FullEntry(2), FullEntry(3)), limits);
        Assert.True(e.TooLarge);
        Assert.Equal("viewchange.entries", e.Field);

        e = Rejected(new CertificateMessage(R(0), Qc(5, [.. Enumerable.Range(0, N + 1)])));
        Assert.True(e.TooLarge);
        Assert.Equal("qc.votes", e.Field);

        e = Rejected(ViewChange(new CheckpointCertificate(S(16), SomeHash, By([.. Enumerable.Range(0, N + 1)]))));
        Assert.True(e.TooLarge);
        Assert.Equal("viewchange.stable.signatures", e.Field);

        var proof = Enumerable.Range(0, N + 1).Select(i => ViewChange() with { Sender = R(i % N) }).ToArray();
        Accepted(new NewView(R(0), new View(4), proof[..N], SomeSignature));
        e = Rejected(new NewView(R(0), new View(4), proof, SomeSignature));
        Assert.True(e.TooLarge);
        Assert.Equal("newview.proof", e.Field);
    }

    // ---- new view proofs ----

    /// <summary>A new view whose proof holds these encodings, length-prefixed as the codec writes them.</summary>
    private static byte[] NewViewHolding(params byte[][] proof)
    {
        var w = new CanonicalWriter().U8(MessageCodec.NewViewTag).U8(1).U16(0).U64(4).U32((uint)proof.Length);
        foreach (var p in proof) w.Bytes(p);
        return w.Fixed(SomeSignature.Span).ToArray();
    }

    [Fact]
    public void The_hand_built_new_view_is_the_codec_s_encoding()
    {
        var vc = ViewChange(null, FullEntry(3));
        var bytes = NewViewHolding(MessageCodec.Encode(vc));
        Assert.Equal(MessageCodec.Encode(new NewView(R(0), new View(4), [vc], SomeSignature)), bytes);
        Assert.IsType<NewView>(MessageCodec.Decode(bytes, Limits(N)));
    }

    [Fact]
    public void A_new_view_whose_proof_holds_anything_but_a_view_change_is_rejected()
    {
        var rng = new Random(11);
        var viewChange = MessageCodec.Encode(ViewChange(null, FullEntry(3)));
        foreach (var (_, draw) in ConsensusTestData.Kinds.Where(k => k.Kind != nameof(Messages.ViewChange)))
        {
            var other = MessageCodec.Encode(draw(rng, N));
            ConsensusAssert.Rejects(NewViewHolding(other), Limits(N));
            ConsensusAssert.Rejects(NewViewHolding(viewChange, other), Limits(N));
        }
        ConsensusAssert.Rejects(NewViewHolding(MessageCodec.Encode(Vote(3))), Limits(N));
        ConsensusAssert.Rejects(NewViewHolding([.. viewChange, 0]), Limits(N));
        ConsensusAssert.Rejects(NewViewHolding(viewChange[..^1]), Limits(N));
        ConsensusAssert.Rejects(NewViewHolding([[]]), Limits(N));
    }

    [Fact]
    public void Deeply_nested_new_views_are_rejected_without_exhausting_the_stack()
    {
        // NewView(proof: [NewView(proof: [... Vote ...])]), 50 000 levels deep (about 4 MB). Decoding the inner
        // message before checking its kind recursed once per level: 10 000 levels (under 1 MB, far below the
        // payload limit) overflowed the stack and killed the process, which no catch can prevent.
        const int depth = 50_000;
        var inner = MessageCodec.Encode(Vote(3));
        const int header = 1 + 1 + 2 + 8 + 4 + 4;
        var lengths = new long[depth + 1];
        lengths[0] = inner.Length;
        for (var i = 1; i <= depth; i++) lengths[i] = header + lengths[i - 1] + Signature.Size;
        var w = new CanonicalWriter(checked((int)lengths[depth]));
        for (var i = depth; i >= 1; i--)
            w.U8(MessageCodec.NewViewTag).U8(1).U16(0).U64(4).U32(1).U32((uint)lengths[i - 1]);
        w.Fixed(inner);
        for (var i = 0; i < depth; i++) w.Fixed(SomeSignature.Span);
        var bytes = w.ToArray();
        Assert.Equal(lengths[depth], bytes.Length);
        ConsensusAssert.Rejects(bytes, Limits(N));
    }
}
