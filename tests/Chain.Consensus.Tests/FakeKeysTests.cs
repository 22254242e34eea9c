using System.Text;
using Chain.Accel;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Consensus.Tests;

public class FakeKeysTests
{
    [Property(MaxTest = 200)]
    public Property A_replica_s_signature_verifies_for_it_and_for_no_other_replica_or_message() =>
        Prop.ForAll(Arb.From(Generators.Seed), seed =>
        {
            var rng = new Random(seed);
            var n = ConsensusTestData.RandomReplicaCount(rng);
            var keys = new FakeKeys(n);
            var signer = ConsensusTestData.RandomReplica(rng, n);
            var message = ConsensusTestData.RandomBytes(rng, rng.Next(200));
            var signature = keys.SignerFor(signer).Sign(message);
            Assert.True(keys.Verify(signer, message, signature));
            Assert.Equal(signature, new FakeKeys(n).SignerFor(signer).Sign(message));
            for (var r = 0; r < n; r++)
            {
                if (r != signer.Value) Assert.False(keys.Verify(new ReplicaId((ushort)r), message, signature));
            }
            Assert.False(keys.Verify(signer, [.. message, 0], signature));
            var forged = signature.Span.ToArray();
            forged[rng.Next(forged.Length)] ^= (byte)(1 << rng.Next(8));
            Assert.False(keys.Verify(signer, message, new Signature(forged)));
            Assert.False(keys.Verify(new ReplicaId((ushort)n), message, signature));
            Assert.False(keys.Verify(signer, message, default));
        });

    [Fact]
    public void The_signature_is_the_documented_hash_twice()
    {
        var message = "hello"u8.ToArray();
        var secret = Hash32.Sha256(Encoding.UTF8.GetBytes("sim-key-3"));
        var h = Hash32.Sha256([.. secret.ToArray(), .. message]).ToArray();
        Assert.Equal(secret, FakeKeys.Secret(3));
        Assert.Equal(new Signature([.. h, .. h]), new FakeKeys(4).SignerFor(new ReplicaId(3)).Sign(message));
    }

    [Fact]
    public void Only_replicas_below_n_have_signers()
    {
        var keys = new FakeKeys(4);
        Assert.Equal(4, keys.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => keys.SignerFor(new ReplicaId(4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FakeKeys(-1));
    }
}
