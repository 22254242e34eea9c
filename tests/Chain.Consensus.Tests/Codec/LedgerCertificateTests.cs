using System.Security.Cryptography;
using System.Text;
using Chain.Accel;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Consensus.Tests.Codec;

/// <summary>
/// Consensus votes are ledger certificates: the codec's vote bytes are the ledger's, the phases are numbered
/// alike, and a quorum certificate of real Ed25519 votes converts to a <see cref="CommitCertificate"/> that the
/// ledger accepts.
/// </summary>
public class LedgerCertificateTests
{
    [Property(MaxTest = 500)]
    public Property Vote_bytes_equal_the_ledger_s() => Prop.ForAll(Generators.Arbitrary(rng =>
        (Phase: ConsensusTestData.RandomPhase(rng), Seq: new SeqNo(ConsensusTestData.RandomUInt64(rng)),
            View: new View(ConsensusTestData.RandomUInt64(rng)), Digest: ConsensusTestData.RandomHash(rng))), s =>
    {
        var (phase, seq, view, digest) = s.Value;
        var ledger = CommitCertificate.VoteBytes((CertificatePhase)phase, seq.Value, view.Value, digest);
        Assert.Equal(ledger, MessageCodec.VoteBytes(phase, seq, view, digest));
        var vote = new Vote(new ReplicaId(0), phase, view, seq, digest, default);
        Assert.Equal(ledger, MessageCodec.SigningBytes(vote));
    });

    [Fact]
    public void Vote_phases_are_the_ledger_s_certificate_phases()
    {
        Assert.Equal((byte)CertificatePhase.Commit, (byte)VotePhase.Commit);
        Assert.Equal((byte)CertificatePhase.FastPrepare, (byte)VotePhase.Prepare);
        Assert.Equal(
            Enum.GetValues<CertificatePhase>().Select(p => (byte)p).Order(),
            Enum.GetValues<VotePhase>().Select(p => (byte)p).Order());
    }

    /// <summary>n validators with keys from fixed seeds; the caller disposes the keys.</summary>
    private static (SigningKey[] Keys, ValidatorSet Validators) Network(int n)
    {
        var keys = Enumerable.Range(0, n)
            .Select(i => SigningKey.FromSeed(SHA256.HashData(Encoding.UTF8.GetBytes($"consensus-test-key-{i}"))))
            .ToArray();
        var validators = new ValidatorSet(keys.Select((k, i) =>
            new Validator((ushort)i, k.PublicKey, $"hospital-{i}", $"node-{i}")));
        return (keys, validators);
    }

    /// <summary>The votes of <paramref name="voters"/>, each signed over its vote's signing bytes.</summary>
    private static QuorumCertificate Certify(SigningKey[] keys, VotePhase phase, SeqNo seq, View view, Hash32 digest,
        IEnumerable<int> voters) =>
        new(phase, view, seq, digest, [.. voters.Order().Select(i =>
        {
            var unsigned = new Vote(new ReplicaId((ushort)i), phase, view, seq, digest, default);
            return new SignedBy(unsigned.Sender, new Ed25519Signer(keys[i]).Sign(MessageCodec.SigningBytes(unsigned)));
        })]);

    private static CommitCertificate ToLedger(QuorumCertificate qc) =>
        new((CertificatePhase)qc.Phase, qc.Seq.Value, qc.View.Value, qc.Digest,
            qc.Votes.Select(v => new ReplicaSignature(v.Replica.Value, v.Signature)));

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    public void A_quorum_certificate_of_real_votes_is_a_ledger_certificate(int n)
    {
        var (keys, validators) = Network(n);
        try
        {
            var rng = new Random(n);
            var seq = ConsensusTestData.RandomSeq(rng);
            var view = ConsensusTestData.RandomView(rng);
            var digest = Hash32.Sha256(ConsensusTestData.RandomBytes(rng, 100));
            var quorum = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).Take(validators.Quorum).ToArray();
            var verifier = new Ed25519Verifier([.. keys.Select(k => k.PublicKey)]);

            // A quorum of commit votes, and all n prepare votes (the fast path), each sent through the codec.
            var everyone = Enumerable.Range(0, n).ToArray();
            foreach (var (phase, voters) in new[] { (VotePhase.Commit, quorum), (VotePhase.Prepare, everyone) })
            {
                var qc = Certify(keys, phase, seq, view, digest, voters);
                var sent = MessageCodec.Decode(MessageCodec.Encode(new CertificateMessage(new ReplicaId(0), qc)),
                    ConsensusTestData.Limits(n));
                var received = Assert.IsType<CertificateMessage>(sent).Certificate;
                Assert.All(received.Votes, v => Assert.True(verifier.Verify(v.Replica,
                    MessageCodec.VoteBytes(phase, seq, view, digest), v.Signature)));
                var certificate = ToLedger(received);
                Assert.Null(certificate.Check(digest, seq.Value, validators));
                // It survives the ledger's own codec as well.
                Assert.Null(CommitCertificate.Decode(certificate.Encode()).Check(digest, seq.Value, validators));
            }
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }

    [Fact]
    public void The_ledger_rejects_what_consensus_must_not_call_a_certificate()
    {
        const int n = 4;
        var (keys, validators) = Network(n);
        try
        {
            var seq = new SeqNo(12);
            var view = new View(3);
            var digest = Hash32.Sha256("block 12"u8);
            var quorum = validators.Quorum;

            // Too few commit votes; prepare votes from a quorum but not all n.
            Assert.NotNull(ToLedger(Certify(keys, VotePhase.Commit, seq, view, digest, Enumerable.Range(0, quorum - 1)))
                .Check(digest, seq.Value, validators));
            Assert.NotNull(ToLedger(Certify(keys, VotePhase.Prepare, seq, view, digest, Enumerable.Range(0, quorum)))
                .Check(digest, seq.Value, validators));

            // Votes for another phase, view or digest do not count.
            var commit = Certify(keys, VotePhase.Commit, seq, view, digest, Enumerable.Range(0, quorum));
            Assert.NotNull(ToLedger(commit with { View = view.Next }).Check(digest, seq.Value, validators));
            Assert.NotNull(ToLedger(commit with { Seq = seq.Next }).Check(digest, seq.Next.Value, validators));
            Assert.NotNull(ToLedger(commit with { Phase = VotePhase.Prepare, Votes = Certify(keys, VotePhase.Commit,
                seq, view, digest, Enumerable.Range(0, n)).Votes }).Check(digest, seq.Value, validators));
            Assert.NotNull(ToLedger(commit).Check(Hash32.Sha256("another block"u8), seq.Value, validators));
            Assert.Null(ToLedger(commit).Check(digest, seq.Value, validators));
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }
}
