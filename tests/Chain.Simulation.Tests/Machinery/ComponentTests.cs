using System.Security.Cryptography;
using System.Text;
using Chain.Accel;
using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Simulation.Tests.Machinery;

/// <summary>The simulator's parts: fake signatures, transactions and payloads, the validator, certificates.</summary>
public class ComponentTests
{
    private static readonly ReplicaId R1 = new(1);

    [Fact]
    public void Fake_signatures_are_the_documented_hash_and_verify_only_for_their_signer()
    {
        var message = "hello"u8.ToArray();
        var signature = new FakeSigner(R1).Sign(message);
        var secret = SHA256.HashData(Encoding.ASCII.GetBytes("sim-key-1"));
        var h = SHA256.HashData([.. secret, .. message]);
        Assert.Equal([.. h, .. h], signature.Span.ToArray());
        var verifier = new FakeVerifier(4);
        Assert.True(verifier.Verify(R1, message, signature));
        Assert.False(verifier.Verify(new ReplicaId(2), message, signature));
        Assert.False(verifier.Verify(R1, "hellO"u8, signature));
        Assert.False(verifier.Verify(new ReplicaId(4), message, new FakeSigner(new ReplicaId(4)).Sign(message)));
        var counting = new CountingVerifier(verifier);
        counting.Verify(R1, message, signature);
        counting.Verify(R1, new byte[2000], signature);
        Assert.Equal(2, counting.Calls);
    }

    [Fact]
    public void Transactions_carry_48_byte_client_signatures_and_payloads_round_trip()
    {
        var tx = SimTransaction.Create(2, 7);
        Assert.Equal(48, tx.ClientSignature.Length);
        Assert.True(tx.IsValid(3));
        Assert.False(tx.IsValid(2));
        Assert.False((tx with { ClientSignature = new byte[48] }).IsValid(3));
        var parent = Hash32.Sha256("p"u8);
        var payload = SimPayload.Encode(parent, [tx, SimTransaction.Create(0, 1)]);
        Assert.True(SimPayload.TryDecode(payload, out var decodedParent, out var txs));
        Assert.Equal(parent, decodedParent);
        Assert.Equal([tx.Id, new TxId(0, 1)], txs.Select(t => t.Id));
        Assert.False(SimPayload.TryDecode(payload.AsSpan(0, payload.Length - 1), out _, out _));
        Assert.False(SimPayload.TryDecode([.. payload, 0], out _, out _));
    }

    [Fact]
    public void The_validator_accepts_valid_proposals_with_the_documented_digest()
    {
        var validator = new SimValidator(new SimLedger(), 3);
        var parent = SimLedger.GenesisDigest;
        var payload = SimPayload.Encode(parent, [SimTransaction.Create(0, 0)]);
        var check = validator.Check(new SeqNo(1), parent, payload);
        Assert.True(check.Valid, check.Reason);
        var expected = SHA256.HashData([.. BitConverter.GetBytes(1UL).Reverse(), .. parent.ToArray(), .. payload]);
        Assert.Equal(Hash32.FromBytes(expected), check.Digest);
    }

    [Fact]
    public void The_validator_rejects_malformed_forged_and_duplicate_transactions()
    {
        var ledger = new SimLedger();
        var validator = new SimValidator(ledger, 3);
        var genesis = SimLedger.GenesisDigest;
        var a = SimTransaction.Create(0, 0);
        var b = SimTransaction.Create(1, 0);
        Assert.False(validator.Check(new SeqNo(1), genesis, [1, 2, 3]).Valid);
        Assert.False(validator.Check(new SeqNo(1), Hash32.Sha256("x"u8), SimPayload.Encode(genesis, [a])).Valid);
        var forged = a with { ClientSignature = new byte[48] };
        Assert.False(validator.Check(new SeqNo(1), genesis, SimPayload.Encode(genesis, [forged])).Valid);
        var unknownClient = SimTransaction.Create(5, 0);
        Assert.False(validator.Check(new SeqNo(1), genesis, SimPayload.Encode(genesis, [unknownClient])).Valid);
        Assert.False(validator.Check(new SeqNo(1), genesis, SimPayload.Encode(genesis, [a, a])).Valid);

        // In a known ancestor: block 1 {a} then block 2 {a} on top of it.
        var first = validator.Check(new SeqNo(1), genesis, SimPayload.Encode(genesis, [a]));
        Assert.True(first.Valid);
        var again = validator.Check(new SeqNo(2), first.Digest, SimPayload.Encode(first.Digest, [a]));
        Assert.Contains("ancestor", again.Reason);
        Assert.True(validator.Check(new SeqNo(2), first.Digest, SimPayload.Encode(first.Digest, [b])).Valid);
        Assert.Equal([a.Id], validator.InFlight(2, first.Digest));

        // Committed: once block 1 is in the ledger, {a} at height 2 is a committed duplicate.
        ledger.Append(CheckerTests.Entry(1, genesis, [a]), [a]);
        var committed = ledger.DigestAt(1);
        var duplicate = validator.Check(new SeqNo(2), committed, SimPayload.Encode(committed, [a]));
        Assert.Contains("committed", duplicate.Reason);
        var fork = validator.Check(new SeqNo(2), genesis, SimPayload.Encode(genesis, [b]));
        Assert.Contains("committed chain", fork.Reason);
    }

    [Fact]
    public void Certificates_need_a_quorum_of_commit_votes_or_all_prepare_votes()
    {
        Assert.Equal(3, Certificates.Quorum(4));
        Assert.Equal(5, Certificates.Quorum(7));
        var entry = CheckerTests.Entry(1, SimLedger.GenesisDigest, []);
        CommittedEntry WithVotes(VotePhase phase, params int[] signers)
        {
            var bytes = MessageCodec.VoteBytes(phase, entry.Seq, new View(3), entry.Digest);
            var votes = signers.Select(i => new ReplicaId((ushort)i))
                .Select(r => new SignedBy(r, new FakeSigner(r).Sign(bytes))).ToList();
            var qc = new QuorumCertificate(phase, new View(3), entry.Seq, entry.Digest, votes);
            return entry with { Certificate = qc };
        }
        var verifier = new FakeVerifier(4);
        Assert.Null(Certificates.Problem(WithVotes(VotePhase.Commit, 0, 1, 3), verifier, 4));
        Assert.NotNull(Certificates.Problem(WithVotes(VotePhase.Commit, 0, 1), verifier, 4));
        Assert.NotNull(Certificates.Problem(WithVotes(VotePhase.Commit, 1, 1, 1), verifier, 4));
        Assert.NotNull(Certificates.Problem(WithVotes(VotePhase.Prepare, 0, 1, 2), verifier, 4));
        Assert.Null(Certificates.Problem(WithVotes(VotePhase.Prepare, 0, 1, 2, 3), verifier, 4));
        var wrongDigest = WithVotes(VotePhase.Commit, 0, 1, 2) with { Digest = Hash32.Sha256("other"u8) };
        Assert.NotNull(Certificates.Problem(wrongDigest, verifier, 4));
    }
}
