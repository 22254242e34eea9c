using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using FsCheck;
using FsCheck.Fluent;

namespace Chain.Simulation.Tests;

/// <summary>
/// Peer input never throws (STYLE b.4): random bytes and mutated encodings of valid messages, fed to a real
/// Replica, are dropped and counted in <see cref="Status.Dropped"/>. A message is "certainly invalid" when it
/// does not decode, names a sender other than the authenticated peer, or carries a signature that does not
/// verify; each such message must add exactly one to the dropped total and cause no send, persist or commit.
/// </summary>
public class PeerInputTests
{
    private const int N = 4;
    private static readonly CodecLimits Limits = CodecLimits.For(SimDefaults.Options, N);
    private static readonly FakeVerifier Verifier = new(N);

    private static Replica NewReplica(ushort id = 1)
    {
        var ledger = new SimLedger();
        var config = new ReplicaConfig(new ReplicaId(id), N, SimDefaults.Options, new SeqNo(0),
            SimLedger.GenesisDigest);
        return new Replica(config, new FakeSigner(new ReplicaId(id)), new FakeVerifier(N), new SimValidator(ledger, 3));
    }

    private static long DroppedTotal(Replica replica) => replica.Status.Dropped.Values.Sum();

    [Fact]
    public void Random_bytes_are_dropped_and_counted()
    {
        var property = Prop.ForAll(Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)).ToArbitrary(),
            Gen.Choose(0, N - 1).ToArbitrary(), (bytes, from) => FeedAndCheck(NewReplica(), (ushort)from, bytes));
        Check.One(Quiet(200), property);
    }

    [Fact]
    public void Mutated_encodings_of_valid_messages_are_dropped_and_counted()
    {
        if (SimSettings.ReplaySeed is { } replay)
        {
            FeedMutations(replay);
            return;
        }
        var property = Prop.ForAll(Gen.Choose(0, int.MaxValue - 1).ToArbitrary(), FeedMutations);
        Check.One(Quiet(100), property);
    }

    private static Config Quiet(int share) =>
        Config.QuickThrowOnFailure.WithMaxTest(SimSettings.Schedules(share)).WithQuietOnSuccess(true);

    private static void FeedMutations(int seed)
    {
        var random = new Random(seed);
        var replica = NewReplica();
        var originals = ValidMessages();
        for (var i = 0; i < 20; i++)
        {
            var original = originals[random.Next(originals.Count)];
            var from = (ushort)random.Next(N);
            var context = $"seed {seed} (CHAIN_SIM_SEED={seed}), mutation {i}";
            FeedAndCheck(replica, from, Mutate(random, original, from), context);
        }
    }

    private static void FeedAndCheck(Replica replica, ushort from, byte[] bytes, string context = "")
    {
        var before = DroppedTotal(replica);
        var ready = replica.Step(new PeerMessage(new ReplicaId(from), bytes));
        if (!CertainlyInvalid(from, bytes)) return;
        var after = DroppedTotal(replica);
        Assert.True(after == before + 1,
            $"{context}: a certainly invalid {bytes.Length}-byte message from r{from} " +
            $"changed Dropped by {after - before}");
        Assert.True(ready.Send.Count == 0 && ready.Persist.Count == 0 && ready.Committed.Count == 0,
            $"{context}: a dropped message caused output");
    }

    private static bool CertainlyInvalid(ushort from, byte[] bytes)
    {
        ConsensusMessage message;
        try
        {
            message = MessageCodec.Decode(bytes, Limits);
        }
        catch (CanonicalDecodeException)
        {
            return true;
        }
        if (message.Sender.Value != from) return true;
        var signed = MessageCodec.SigningBytes(message);
        return signed is not null && !Verifier.Verify(message.Sender, signed, SignatureOf(message));
    }

    private static Signature SignatureOf(ConsensusMessage message) => message switch
    {
        PrePrepare p => p.Signature,
        Vote v => v.Signature,
        Checkpoint c => c.Signature,
        ViewChange vc => vc.Signature,
        NewView nv => nv.Signature,
        _ => default,
    };

    /// <summary>A valid pre-prepare from r0 (view 0, height 1), votes on it, and a checkpoint, all signed.</summary>
    private static List<byte[]> ValidMessages()
    {
        var parent = SimLedger.GenesisDigest;
        var payload = SimPayload.Encode(parent, [SimTransaction.Create(0, 0), SimTransaction.Create(1, 0)]);
        var digest = SimPayload.Digest(1, parent, payload);
        var r0 = new FakeSigner(new ReplicaId(0));
        var unsigned = new PrePrepare(new ReplicaId(0), new View(0), new SeqNo(1), parent, digest, payload, default);
        var pp = unsigned with { Signature = r0.Sign(MessageCodec.SigningBytes(unsigned)!) };
        var messages = new List<byte[]> { MessageCodec.Encode(pp) };
        foreach (var phase in new[] { VotePhase.Prepare, VotePhase.Commit })
        {
            for (ushort r = 0; r < N; r++)
            {
                var bytes = MessageCodec.VoteBytes(phase, new SeqNo(1), new View(0), digest);
                var signature = new FakeSigner(new ReplicaId(r)).Sign(bytes);
                var vote = new Vote(new ReplicaId(r), phase, new View(0), new SeqNo(1), digest, signature);
                messages.Add(MessageCodec.Encode(vote));
            }
        }
        var checkpoint = MessageCodec.CheckpointBytes(new SeqNo(4), Hash32.Sha256("x"u8));
        messages.Add(MessageCodec.Encode(new Checkpoint(new ReplicaId(2), new SeqNo(4), Hash32.Sha256("x"u8),
            new FakeSigner(new ReplicaId(2)).Sign(checkpoint))));
        return messages;
    }

    private static byte[] Mutate(Random random, byte[] original, ushort from)
    {
        var bytes = original.ToArray();
        switch (random.Next(4))
        {
            case 0:
                for (var i = random.Next(1, 4); i > 0; i--)
                    bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                return bytes;
            case 1:
                return bytes[..random.Next(bytes.Length)];
            case 2:
                var extra = new byte[random.Next(1, 16)];
                random.NextBytes(extra);
                return [.. bytes, .. extra];
            default:
                // Claim a sender other than the authenticated peer (the sender field follows tag and version).
                var claimed = (ushort)((from + random.Next(1, N)) % N);
                bytes[2] = (byte)(claimed >> 8);
                bytes[3] = (byte)claimed;
                return bytes;
        }
    }
}
