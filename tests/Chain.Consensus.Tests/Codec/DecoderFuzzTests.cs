using Chain.Accel.Encoding;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Consensus.Tests.Codec;

/// <summary>
/// Decoder fuzzing, one concrete class per message kind: random bytes, valid encodings with 1-3 mutated bytes,
/// truncations and extensions, each decoded under the limits of a random n. <see cref="MessageCodec.Decode"/>
/// either fails with <see cref="CanonicalDecodeException"/> (never any other exception) or succeeds on bytes that
/// are exactly the canonical encoding of what it returned. Truncated and extended encodings are always rejected.
/// </summary>
public abstract class DecoderFuzzTests
{
    private const int Cases = 500;

    /// <summary>The kind's tag byte (its encoding starts tag, version 1).</summary>
    protected abstract byte Tag { get; }

    /// <summary>A valid message of this kind for <paramref name="n"/> replicas.</summary>
    protected abstract ConsensusMessage Draw(Random rng, int n);

    /// <summary>A random n and a valid encoding for it.</summary>
    private (int N, byte[] Bytes) ValidEncoding(Random rng)
    {
        var n = ConsensusTestData.RandomReplicaCount(rng);
        return (n, MessageCodec.Encode(Draw(rng, n)));
    }

    /// <summary>Null when decoding behaves, else what went wrong.</summary>
    private static string? CheckDecode(byte[] bytes, int n)
    {
        byte[] again;
        try
        {
            again = MessageCodec.Encode(MessageCodec.Decode(bytes, ConsensusTestData.Limits(n)));
        }
        catch (CanonicalDecodeException)
        {
            return null;
        }
        catch (Exception e)
        {
            return $"threw {e.GetType().Name} instead of CanonicalDecodeException: {e.Message}\n{e.StackTrace}";
        }
        return again.AsSpan().SequenceEqual(bytes)
            ? null
            : $"decoded non-canonical bytes {Convert.ToHexStringLower(bytes)}"
              + $" (re-encodes as {Convert.ToHexStringLower(again)})";
    }

    private static void Pass(string? problem, int seed) => Assert.True(problem is null, $"seed {seed}: {problem}");

    private static void Rejected(byte[] bytes, int n, int seed, string what)
    {
        var e = Record.Exception(() => MessageCodec.Decode(bytes, ConsensusTestData.Limits(n)));
        Assert.True(e is CanonicalDecodeException, $"seed {seed}: {what} gave {e?.ToString() ?? "no error"}");
    }

    [Property(MaxTest = Cases)]
    public Property Random_bytes_fail_only_with_CanonicalDecodeException() =>
        Prop.ForAll(Arb.From(Generators.Seed), seed =>
        {
            var rng = new Random(seed);
            // Lengths: anything short, or the length of a real encoding; half the time behind a correct tag and
            // version, and then a quarter of the time with a sender below n too.
            var (n, valid) = ValidEncoding(rng);
            var length = rng.Next(2) == 0 ? rng.Next(300) : valid.Length;
            var bytes = ConsensusTestData.RandomBytes(rng, length);
            if (length >= 4 && rng.Next(2) == 0)
            {
                (bytes[0], bytes[1]) = (Tag, 1);
                if (rng.Next(4) == 0) (bytes[2], bytes[3]) = (0, (byte)rng.Next(n));
            }
            Pass(CheckDecode(bytes, n), seed);
        });

    [Property(MaxTest = Cases)]
    public Property Mutated_encodings_fail_only_with_CanonicalDecodeException() =>
        Prop.ForAll(Arb.From(Generators.Seed), seed =>
        {
            var rng = new Random(seed);
            var (n, bytes) = ValidEncoding(rng);
            var mutations = rng.Next(1, 4);
            for (var i = 0; i < mutations; i++)
            {
                // Bias towards the front, where the tags, ids, lengths and counts are.
                var at = rng.Next(2) == 0 ? rng.Next(Math.Min(bytes.Length, 160)) : rng.Next(bytes.Length);
                bytes[at] = rng.Next(3) == 0 ? (byte)rng.Next(256) : (byte)(bytes[at] ^ (1 << rng.Next(8)));
            }
            Pass(CheckDecode(bytes, n), seed);
        });

    [Property(MaxTest = Cases)]
    public Property Truncated_encodings_are_rejected() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        var (n, bytes) = ValidEncoding(rng);
        var length = rng.Next(3) == 0 ? bytes.Length - 1 : rng.Next(bytes.Length);
        Rejected(bytes[..length], n, seed, $"truncation to {length} of {bytes.Length}");
    });

    [Property(MaxTest = Cases)]
    public Property Appended_bytes_are_rejected() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        var (n, bytes) = ValidEncoding(rng);
        var extra = ConsensusTestData.RandomBytes(rng, rng.Next(3) == 0 ? 1 : rng.Next(1, 64));
        Rejected([.. bytes, .. extra], n, seed, $"{extra.Length} appended bytes");
    });

    [Fact]
    public void The_valid_encodings_decode()
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var (n, bytes) = ValidEncoding(new Random(seed));
            Assert.Equal(Tag, bytes[0]);
            Assert.Equal(bytes, MessageCodec.Encode(MessageCodec.Decode(bytes, ConsensusTestData.Limits(n))));
        }
    }
}

public sealed class PrePrepareDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => MessageCodec.PrePrepareTag;

    protected override ConsensusMessage Draw(Random rng, int n) => ConsensusTestData.RandomPrePrepare(rng, n);
}

public sealed class VoteDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => MessageCodec.VoteTag;

    protected override ConsensusMessage Draw(Random rng, int n) => ConsensusTestData.RandomVote(rng, n);
}

public sealed class CertificateMessageDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => MessageCodec.CertificateTag;

    protected override ConsensusMessage Draw(Random rng, int n) => ConsensusTestData.RandomCertificateMessage(rng, n);
}

public sealed class CheckpointDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => MessageCodec.CheckpointTag;

    protected override ConsensusMessage Draw(Random rng, int n) => ConsensusTestData.RandomCheckpoint(rng, n);
}

public sealed class ViewChangeDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => MessageCodec.ViewChangeTag;

    protected override ConsensusMessage Draw(Random rng, int n) => ConsensusTestData.RandomViewChange(rng, n);
}

public sealed class NewViewDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => MessageCodec.NewViewTag;

    protected override ConsensusMessage Draw(Random rng, int n) => ConsensusTestData.RandomNewView(rng, n);
}
