using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using Chain.Simulation.Byzantine;
using Chain.Simulation.Tests.Fakes;

namespace Chain.Simulation.Tests.Machinery;

/// <summary>The Byzantine behaviours do what they claim, wrapped around the fake replica.</summary>
public class ByzantineTests
{
    private const int N = 4;
    private static readonly FakeVerifier Verifier = new(N);
    private static readonly CodecLimits Limits = CodecLimits.For(SimDefaults.Options, N);

    private static (INode Inner, NodeContext Context) Fake(ushort id)
    {
        var replica = new ReplicaId(id);
        var config = new ReplicaConfig(replica, N, SimDefaults.Options, new SeqNo(0), SimLedger.GenesisDigest);
        var validator = new SimValidator(new SimLedger(), 3);
        var context = new NodeContext(config, new FakeSigner(replica), Verifier, validator, []);
        return (MiniBftNode.Factory(context), context);
    }

    private static Propose Proposal(int txs) =>
        new(new SeqNo(1), SimLedger.GenesisDigest,
            SimPayload.Encode(SimLedger.GenesisDigest,
                [.. Enumerable.Range(0, txs).Select(i => SimTransaction.Create(0, (uint)i))]));

    private static byte[] PrePrepareOf(NodeOutput output) => output.Send.First(e => e.Message is PrePrepare).Bytes;

    private static bool Verifies(ConsensusMessage m, Chain.Accel.Signature signature) =>
        Verifier.Verify(m.Sender, MessageCodec.SigningBytes(m)!, signature);

    [Fact]
    public void The_equivocating_primary_sends_two_validly_signed_proposals_to_two_halves()
    {
        var (inner, context) = Fake(0);
        var node = new EquivocatingNode(inner, context.Signer, N, new Random(1));
        var output = node.Step(Proposal(3));
        var proposals = output.Send.Where(e => e.Message is PrePrepare)
            .Select(e => (e.To, Message: (PrePrepare)MessageCodec.Decode(e.Bytes, Limits))).ToList();
        Assert.Equal(3, proposals.Count);
        Assert.All(proposals, p => Assert.NotNull(p.To));
        Assert.Equal(2, proposals.Select(p => p.Message.Digest).Distinct().Count());
        var validator = new SimValidator(new SimLedger(), 3);
        foreach (var (to, pp) in proposals)
        {
            Assert.True(Verifies(pp, pp.Signature));
            var check = validator.Check(pp.Seq, pp.Parent, pp.Payload);
            Assert.True(check.Valid && check.Digest == pp.Digest, check.Reason);
            var real = proposals.First(p => !node.SideB.Contains(p.To!.Value)).Message.Digest;
            Assert.Equal(node.SideB.Contains(to!.Value), pp.Digest != real);
        }
    }

    [Fact]
    public void The_conflicting_voter_signs_votes_for_different_digests()
    {
        var (inner, context) = Fake(1);
        var node = new ConflictingVoterNode(inner, context.Signer, N, new Random(3));
        var primary = Fake(0).Inner.Step(Proposal(2));
        var digests = new HashSet<Chain.Accel.Hash32>();
        for (var i = 0; i < 10; i++)
        {
            var output = node.Step(new PeerMessage(new ReplicaId(0), PrePrepareOf(primary)));
            if (i == 0) Assert.Contains(output.Send, e => e.Message is Vote);
            foreach (var vote in output.Send.Select(e => MessageCodec.Decode(e.Bytes, Limits)).OfType<Vote>())
            {
                Assert.True(Verifies(vote, vote.Signature));
                digests.Add(vote.Digest);
            }
            (inner, context) = Fake(1);
            node = new ConflictingVoterNode(inner, context.Signer, N, new Random(3 + i));
        }
        Assert.True(digests.Count > 2, $"expected votes for several digests, got {digests.Count}");
    }

    [Fact]
    public void Forged_and_replayed_messages_are_dropped_by_the_receiver()
    {
        var (forgerInner, forgerContext) = Fake(3);
        var forger = new ForgingNode(forgerInner, forgerContext.Signer, N, new Random(5));
        var (receiver, _) = Fake(1);
        var primary = Fake(0).Inner.Step(Proposal(2));
        forger.Step(new PeerMessage(new ReplicaId(0), PrePrepareOf(primary)));
        var junk = 0;
        for (var tick = 0; tick < 200; tick++)
        {
            foreach (var envelope in forger.Step(new Tick(false)).Send.Where(e => e.Message is null))
            {
                junk++;
                var before = receiver.Status!.Dropped.Values.Sum();
                var result = receiver.Step(new PeerMessage(new ReplicaId(3), envelope.Bytes));
                Assert.Equal(before + 1, result.Status!.Dropped.Values.Sum());
                Assert.Empty(result.Committed);
            }
        }
        Assert.True(junk > 50, $"only {junk} junk messages");
    }

    [Fact]
    public void The_replayer_resends_old_messages_later()
    {
        var (inner, context) = Fake(2);
        var node = new ReplayingNode(inner, context.Signer, N, new Random(7));
        var primary = Fake(0).Inner.Step(Proposal(2));
        var first = node.Step(new PeerMessage(new ReplicaId(0), PrePrepareOf(primary)));
        var replays = Enumerable.Range(0, 50).SelectMany(_ => node.Step(new Tick(false)).Send).ToList();
        Assert.Contains(replays, e => e.Bytes.AsSpan().SequenceEqual(PrePrepareOf(primary)));
        Assert.Contains(replays, e => first.Send.Any(f => f.Bytes.AsSpan().SequenceEqual(e.Bytes)));
    }

    [Fact]
    public void The_silent_node_never_sends()
    {
        var node = new SilentNode(new ReplicaId(1));
        Assert.Same(NodeOutput.Empty, node.Step(new Tick(true)));
        Assert.Null(node.Status);
    }
}
