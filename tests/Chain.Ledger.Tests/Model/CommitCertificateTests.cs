using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Model;

public class CommitCertificateTests
{
    private static readonly TestNetwork Four = TestData.Network(validators: 4);
    private static readonly TestNetwork Seven = TestData.Network(validators: 7);

    private static Block SomeBlock(TestNetwork net, ulong height = 1) =>
        Block.Create(height, net.Genesis.Hash, 0, Hash32.Zero, 0, 0, net.Genesis.Timestamp + 1,
            [TestData.Put(net.ClientKeys[0], 0, "k", "v", net.ChainId)]);

    private static string? Check(TestNetwork net, Block block, CommitCertificate cert) =>
        cert.Check(block.Hash, block.Height, net.Validators);

    private static CommitCertificate Replace(CommitCertificate cert, ReplicaSignature replacement) =>
        new(cert.Phase, cert.Height, cert.View, cert.BlockHash,
            cert.Signatures.Where(s => s.Replica != replacement.Replica).Append(replacement));

    [Fact]
    public void A_quorum_of_real_signatures_passes()
    {
        foreach (var net in new[] { Four, Seven })
        {
            var block = SomeBlock(net);
            Assert.Null(Check(net, block, net.Certify(block)));
            Assert.Null(Check(net, block, net.Certify(block, signers: net.Validators.Count)));
            var lastQuorum = Enumerable.Range(1, net.Validators.Quorum).Select(i => (ushort)i);
            Assert.Null(Check(net, block, net.Certify(block, lastQuorum)));
            Assert.Null(Check(net, block, net.Certify(block, view: 9)));
        }
    }

    [Fact]
    public void Too_few_signatures_fail()
    {
        foreach (var net in new[] { Four, Seven })
        {
            var block = SomeBlock(net);
            var problem = Check(net, block, net.Certify(block, signers: net.Validators.Quorum - 1));
            Assert.NotNull(problem);
            Assert.Contains($"needs {net.Validators.Quorum}", problem);
            Assert.NotNull(Check(net, block, net.Certify(block, signers: 0)));
        }
    }

    [Fact]
    public void Fast_prepare_needs_all_n()
    {
        foreach (var net in new[] { Four, Seven })
        {
            var block = SomeBlock(net);
            Assert.Null(Check(net, block, net.Certify(block, phase: CertificatePhase.FastPrepare)));
            var problem = Check(net, block,
                net.Certify(block, signers: net.Validators.Count - 1, phase: CertificatePhase.FastPrepare));
            Assert.NotNull(problem);
            Assert.Contains($"needs {net.Validators.Count}", problem);
        }
    }

    [Fact]
    public void A_forged_signature_fails()
    {
        var net = Four;
        var block = SomeBlock(net);
        var cert = net.Certify(block);
        var vote = cert.VoteBytes();
        var flipped = cert.Signatures[1].Signature.Span.ToArray();
        flipped[5] ^= 0x10;
        ReplicaSignature[] forgeries =
        [
            new(1, new Signature(flipped)),
            new(1, net.ValidatorKeys[2].Sign(vote)),                       // another validator's key
            new(1, TestData.Key(0).Sign(vote)),                            // a key outside the set
            new(1, net.ValidatorKeys[1].Sign(CommitCertificate.VoteBytes(cert.Phase, cert.Height, cert.View,
                Hash32.Sha256("other block"u8)))),                         // a vote for another block
            new(1, net.ValidatorKeys[1].Sign(CommitCertificate.VoteBytes(CertificatePhase.FastPrepare, cert.Height,
                cert.View, cert.BlockHash))),                              // a vote in another phase
            new(1, net.ValidatorKeys[1].Sign(CommitCertificate.VoteBytes(cert.Phase, cert.Height, cert.View + 1,
                cert.BlockHash))),                                         // a vote in another view
            new(1, net.ValidatorKeys[1].Sign(block.Hash.ToArray())),       // the bare hash, without the vote domain
            new(1, default),                                               // all zeros
        ];
        foreach (var forged in forgeries)
        {
            var problem = Check(net, block, Replace(cert, forged));
            Assert.NotNull(problem);
            Assert.Contains("replica 1 is forged", problem);
        }
    }

    [Fact]
    public void An_unknown_replica_fails()
    {
        var net = Four;
        var block = SomeBlock(net);
        var cert = net.Certify(block);
        var vote = cert.VoteBytes();
        var withStranger = new CommitCertificate(cert.Phase, cert.Height, cert.View, cert.BlockHash,
            cert.Signatures.Take(2).Append(new ReplicaSignature(9, TestData.Key(0).Sign(vote))));
        var problem = Check(net, block, withStranger);
        Assert.NotNull(problem);
        Assert.Contains("replica 9 is not a validator", problem);
        // Replica 3 of the four-node network is not a validator of a three-node one.
        var three = TestData.Network(validators: 3);
        Assert.Contains("is not a validator",
            net.Certify(block, signers: 4).Check(block.Hash, block.Height, three.Validators));
    }

    [Fact]
    public void The_wrong_block_or_height_fails()
    {
        var net = Four;
        var block = SomeBlock(net, height: 5);
        var cert = net.Certify(block);
        Assert.Contains("not", cert.Check(Hash32.Sha256("x"u8), block.Height, net.Validators));
        Assert.Contains("height 5, not 6", cert.Check(block.Hash, 6, net.Validators));
        var otherBlock = SomeBlock(net, height: 6);
        Assert.NotNull(cert.Check(otherBlock.Hash, otherBlock.Height, net.Validators));
        // The same signatures relabelled with another height no longer verify.
        var relabelled = new CommitCertificate(cert.Phase, 6, cert.View, cert.BlockHash, cert.Signatures);
        Assert.Contains("forged", relabelled.Check(block.Hash, 6, net.Validators));
    }

    [Fact]
    public void Checking_against_another_consortium_fails()
    {
        var block = SomeBlock(Four);
        var otherKeys = new ValidatorSet(Enumerable.Range(0, 4).Select(i =>
            new Validator((ushort)i, TestData.Key(500 + i).PublicKey, $"org-{i}", $"node-{i}")));
        Assert.Contains("forged", Four.Certify(block).Check(block.Hash, block.Height, otherKeys));
    }

    [Fact]
    public void A_replica_cannot_sign_twice()
    {
        var block = SomeBlock(Four);
        var vote = Four.Vote(0, CertificatePhase.Commit, block.Height, 0, block.Hash);
        var e = LedgerAssert.Throws(LedgerError.InvalidCertificate, "signs twice",
            () => _ = new CommitCertificate(CertificatePhase.Commit, block.Height, 0, block.Hash, [vote, vote]));
        Assert.NotNull(e);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new CommitCertificate((CertificatePhase)7, block.Height, 0, block.Hash, []));
    }

    [Property(MaxTest = 60)]
    public Property Check_passes_exactly_when_enough_validators_signed() =>
        Prop.ForAll(Arb.From(Gen.Choose(1, 10).Zip(Generators.Seed)), t =>
        {
            var (n, seed) = t;
            var rng = new Random(seed);
            var net = TestData.Network(validators: n, clientsPerHospital: 1);
            var block = SomeBlock(net, height: (ulong)rng.Next(1, 1000));
            var signers = Enumerable.Range(0, n).Where(_ => rng.Next(3) != 0).Select(i => (ushort)i).ToArray();
            foreach (var phase in new[] { CertificatePhase.Commit, CertificatePhase.FastPrepare })
            {
                var needed = phase == CertificatePhase.FastPrepare ? n : net.Validators.Quorum;
                var problem = Check(net, block, net.Certify(block, signers, phase, view: (ulong)rng.Next(5)));
                Assert.True((problem is null) == (signers.Length >= needed),
                    $"seed {seed}: n={n}, {phase} signed by [{string.Join(",", signers)}]: {problem ?? "accepted"}");
            }
        });
}
