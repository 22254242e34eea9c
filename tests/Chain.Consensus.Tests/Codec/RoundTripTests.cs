using Chain.Accel;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Consensus.Tests.Codec;

/// <summary>Decode(Encode(m)) equals m field by field, and re-encoding gives the same bytes.</summary>
public class RoundTripTests
{
    /// <summary>Encodes, decodes under the network's limits, compares, re-encodes; returns what it decoded.</summary>
    private static T RoundTrip<T>(InNetwork<T> sample) where T : ConsensusMessage
    {
        var bytes = MessageCodec.Encode(sample.Message);
        var back = MessageCodec.Decode(bytes, sample.Limits);
        var typed = Assert.IsType<T>(back);
        ConsensusAssert.Equal(sample.Message, typed);
        Assert.Equal(bytes, MessageCodec.Encode(typed));
        Assert.Equal(MessageCodec.SigningBytes(sample.Message), MessageCodec.SigningBytes(typed));
        return typed;
    }

    [Property(MaxTest = 300)]
    public Property PrePrepare_round_trips() => Prop.ForAll(Generators.PrePrepares(), s =>
    {
        var back = RoundTrip(s.Value);
        Assert.InRange(back.Payload.Length, 0, ConsensusTestData.MaxPayload);
    });

    [Property(MaxTest = 300)]
    public Property Vote_round_trips() => Prop.ForAll(Generators.Votes(), s => RoundTrip(s.Value));

    [Property(MaxTest = 300)]
    public Property CertificateMessage_round_trips() => Prop.ForAll(Generators.CertificateMessages(), s =>
    {
        var back = RoundTrip(s.Value);
        Assert.InRange(back.Certificate.Votes.Count, 0, s.Value.N);
    });

    [Property(MaxTest = 300)]
    public Property Checkpoint_round_trips() => Prop.ForAll(Generators.Checkpoints(), s => RoundTrip(s.Value));

    [Property(MaxTest = 300)]
    public Property ViewChange_round_trips() => Prop.ForAll(Generators.ViewChanges(), s =>
    {
        var back = RoundTrip(s.Value);
        Assert.InRange(back.Entries.Count, 0, ConsensusTestData.MaxEntries);
    });

    [Property(MaxTest = 200)]
    public Property NewView_round_trips() => Prop.ForAll(Generators.NewViews(), s =>
    {
        var back = RoundTrip(s.Value);
        Assert.InRange(back.Proof.Count, 0, Math.Min(ConsensusTestData.MaxProof, s.Value.N));
    });

    [Fact]
    public void The_generators_cover_the_optional_parts()
    {
        var rng = new Random(7);
        var changes = Enumerable.Range(0, 200).Select(_ => ConsensusTestData.RandomViewChange(rng, 4)).ToArray();
        var entries = changes.SelectMany(c => c.Entries).ToArray();
        Assert.Contains(changes, c => c.Stable is null);
        Assert.Contains(changes, c => c.Stable is not null);
        Assert.Contains(changes, c => c.Entries.Count == 0);
        Assert.Contains(changes, c => c.Entries.Count == ConsensusTestData.MaxEntries);
        Assert.Contains(entries, e => e.Prepared is not null && e.LastVote is not null);
        Assert.Contains(entries, e => e.Prepared is null && e.LastVote is null);
        var views = Enumerable.Range(0, 200).Select(_ => ConsensusTestData.RandomNewView(rng, 16)).ToArray();
        Assert.Contains(views, v => v.Proof.Count == 0);
        Assert.Contains(views, v => v.Proof.Count == ConsensusTestData.MaxProof);
    }

    [Fact]
    public void Extreme_values_round_trip()
    {
        var max = new SeqNo(ulong.MaxValue);
        var top = new View(ulong.MaxValue);
        var last = new ReplicaId(ushort.MaxValue);
        var limits = new CodecLimits(ushort.MaxValue + 1, MaxPayloadBytes: 3, MaxEntries: 2);
        var hash = Hash32.FromBytes(Enumerable.Repeat((byte)0xff, Hash32.Size).ToArray());
        var signature = new Signature(Enumerable.Repeat((byte)0xff, Signature.Size).ToArray());
        var proposal = new ReportedProposal(max, hash, hash, [1, 2, 3]);
        var vote = new Vote(last, VotePhase.Prepare, top, max, hash, signature);
        SignedBy[] signatures = [new(new ReplicaId(0), signature), new(last, signature)];
        var qc = new QuorumCertificate(VotePhase.Prepare, top, max, hash, signatures);
        var viewChange = new ViewChange(last, top, new CheckpointCertificate(max, hash, signatures),
            [
                new ViewChangeEntry(new SeqNo(1), null, null, null, null),
                new ViewChangeEntry(max, qc, proposal, vote, proposal),
            ], signature);
        ConsensusMessage[] messages =
        [
            new PrePrepare(last, top, max, hash, hash, [1, 2, 3], signature),
            vote,
            new CertificateMessage(last, qc),
            new Checkpoint(last, max, hash, signature),
            viewChange,
            new NewView(last, top, [viewChange, viewChange], signature),
        ];
        foreach (var m in messages)
        {
            var bytes = MessageCodec.Encode(m);
            var back = MessageCodec.Decode(bytes, limits);
            ConsensusAssert.Equal(m, back);
            Assert.Equal(bytes, MessageCodec.Encode(back));
        }
    }

    [Fact]
    public void A_default_signature_encodes_as_zeros_and_comes_back_equal()
    {
        var vote = new Vote(new ReplicaId(0), VotePhase.Commit, default, new SeqNo(1), Hash32.Zero, default);
        var back = MessageCodec.Decode(MessageCodec.Encode(vote), ConsensusTestData.Limits(1));
        ConsensusAssert.Equal(vote, back);
    }
}
