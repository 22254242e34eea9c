using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Codec;

/// <summary>
/// Decoder fuzzing, one concrete class per type: random bytes, valid encodings with 1-3 mutated bytes,
/// truncations and extensions. Decoding either fails with <see cref="DecodeException"/> (never any other
/// exception), or succeeds on bytes that are exactly the canonical encoding of what it returned. Truncated
/// and extended encodings are always rejected.
/// </summary>
public abstract class DecoderFuzzTests
{
    private const int Cases = 500;

    /// <summary>The type's tag byte (its encoding starts tag, version 1).</summary>
    protected abstract byte Tag { get; }

    /// <summary>A valid encoding drawn from <paramref name="rng"/>.</summary>
    protected abstract byte[] ValidEncoding(Random rng);

    /// <summary>Decodes and re-encodes canonically (throws on bad input).</summary>
    protected abstract byte[] DecodeAndReencode(byte[] bytes);

    /// <summary>Null when decoding behaves, else what went wrong.</summary>
    private string? CheckDecode(byte[] bytes)
    {
        byte[] again;
        try
        {
            again = DecodeAndReencode(bytes);
        }
        catch (DecodeException)
        {
            return null;
        }
        catch (Exception e)
        {
            return $"threw {e.GetType().Name} instead of DecodeException: {e.Message}\n{e.StackTrace}";
        }
        return again.AsSpan().SequenceEqual(bytes)
            ? null
            : $"decoded non-canonical bytes {Convert.ToHexStringLower(bytes)}"
              + $" (re-encodes as {Convert.ToHexStringLower(again)})";
    }

    private static void Pass(string? problem, int seed) => Assert.True(problem is null, $"seed {seed}: {problem}");

    [Property(MaxTest = Cases)]
    public Property Random_bytes_fail_only_with_DecodeException() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        // Lengths: anything short, or the length of a real encoding; half the time behind a correct tag and version.
        var length = rng.Next(2) == 0 ? rng.Next(300) : ValidEncoding(rng).Length;
        var bytes = TestData.RandomBytes(rng, length);
        if (length >= 2 && rng.Next(2) == 0) (bytes[0], bytes[1]) = (Tag, 1);
        Pass(CheckDecode(bytes), seed);
    });

    [Property(MaxTest = Cases)]
    public Property Mutated_encodings_fail_only_with_DecodeException() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        var bytes = ValidEncoding(rng);
        var mutations = rng.Next(1, 4);
        for (var i = 0; i < mutations; i++)
        {
            // Bias towards the front, where the tags, lengths and counts are.
            var at = rng.Next(2) == 0 ? rng.Next(Math.Min(bytes.Length, 160)) : rng.Next(bytes.Length);
            bytes[at] = rng.Next(3) == 0 ? (byte)rng.Next(256) : (byte)(bytes[at] ^ (1 << rng.Next(8)));
        }
        Pass(CheckDecode(bytes), seed);
    });

    [Property(MaxTest = Cases)]
    public Property Truncated_encodings_are_rejected() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        var bytes = ValidEncoding(rng);
        var length = rng.Next(3) == 0 ? bytes.Length - 1 : rng.Next(bytes.Length);
        var truncated = bytes[..length];
        var e = Record.Exception(() => DecodeAndReencode(truncated));
        Assert.True(e is DecodeException,
            $"seed {seed}: truncation to {length} of {bytes.Length} gave {e?.ToString() ?? "no error"}");
    });

    [Property(MaxTest = Cases)]
    public Property Appended_bytes_are_rejected() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        var bytes = ValidEncoding(rng);
        byte[] extended = [.. bytes, .. TestData.RandomBytes(rng, rng.Next(3) == 0 ? 1 : rng.Next(1, 64))];
        var e = Record.Exception(() => DecodeAndReencode(extended));
        Assert.True(e is DecodeException,
            $"seed {seed}: {extended.Length - bytes.Length} appended bytes gave {e?.ToString() ?? "no error"}");
    });

    [Fact]
    public void The_valid_encodings_decode()
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var bytes = ValidEncoding(new Random(seed));
            Assert.Equal(bytes, DecodeAndReencode(bytes));
        }
    }
}

public sealed class TransactionDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => Transaction.Tag;

    protected override byte[] ValidEncoding(Random rng) => TestData.RandomTransaction(rng).Encoded.ToArray();

    protected override byte[] DecodeAndReencode(byte[] bytes)
    {
        var tx = Transaction.Decode(bytes);
        return Transaction.FromParts(tx.ChainId, tx.Contract, tx.Function, tx.Args, tx.Sender, tx.Nonce, tx.Signature)
            .Encoded.ToArray();
    }
}

public sealed class BlockHeaderDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => BlockHeader.Tag;

    protected override byte[] ValidEncoding(Random rng) => TestData.RandomHeader(rng).Encode();

    protected override byte[] DecodeAndReencode(byte[] bytes) => BlockHeader.Decode(bytes).Encode();
}

public sealed class BlockDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => Block.Tag;

    protected override byte[] ValidEncoding(Random rng) => TestData.RandomBlock(rng, maxTransactions: 3).Encode();

    protected override byte[] DecodeAndReencode(byte[] bytes) => Block.Decode(bytes).Encode();
}

public sealed class CommitCertificateDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => CommitCertificate.Tag;

    protected override byte[] ValidEncoding(Random rng) => TestData.RandomCertificate(rng).Encode();

    protected override byte[] DecodeAndReencode(byte[] bytes) => CommitCertificate.Decode(bytes).Encode();
}

public sealed class CommittedBlockDecoderFuzzTests : DecoderFuzzTests
{
    protected override byte Tag => CommittedBlock.Tag;

    protected override byte[] ValidEncoding(Random rng) =>
        TestData.RandomCommittedBlock(rng, maxTransactions: 3).Encode();

    protected override byte[] DecodeAndReencode(byte[] bytes) => CommittedBlock.Decode(bytes).Encode();
}
