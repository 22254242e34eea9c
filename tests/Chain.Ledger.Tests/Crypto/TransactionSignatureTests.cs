using Chain.Accel;
using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Crypto;

public class TransactionSignatureTests
{
    /// <summary>
    /// Null when <paramref name="bytes"/> fail to decode or decode to a transaction whose signature fails.
    /// </summary>
    private static string? MustNotVerify(byte[] bytes)
    {
        Transaction tx;
        try
        {
            tx = Transaction.Decode(bytes);
        }
        catch (DecodeException)
        {
            return null;
        }
        return tx.VerifySignature() ? $"tampered transaction still verifies: {Convert.ToHexStringLower(bytes)}" : null;
    }

    private static Transaction Signed(Random rng) =>
        TestData.RandomTransaction(rng, TestData.Key(rng.Next(TestData.RandomSenderKeys)));

    [Property(MaxTest = 300)]
    public Property Any_flipped_bit_breaks_the_signature() => Prop.ForAll(Arb.From(Generators.Seed), seed =>
    {
        var rng = new Random(seed);
        var tx = Signed(rng);
        Assert.True(tx.VerifySignature());
        var bytes = tx.Encoded.ToArray();
        // Half the cases hit the signature (the last 64 bytes), half anywhere.
        var at = rng.Next(2) == 0 ? bytes.Length - 1 - rng.Next(Signature.Size) : rng.Next(bytes.Length);
        bytes[at] ^= (byte)(1 << rng.Next(8));
        Assert.True(MustNotVerify(bytes) is null, $"seed {seed}: flipped byte {at} of {bytes.Length}");
    });

    [Fact]
    public void Every_bit_of_one_transaction_is_covered_by_the_signature()
    {
        var tx = Transaction.Create(TestData.ChainId, "records", "append",
            [new byte[] { 1, 2, 3 }, Array.Empty<byte>()], 42, TestData.Key(3));
        var original = tx.Encoded.ToArray();
        for (var at = 0; at < original.Length; at++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var bytes = (byte[])original.Clone();
                bytes[at] ^= (byte)(1 << bit);
                var problem = MustNotVerify(bytes);
                Assert.True(problem is null, $"byte {at} bit {bit}: {problem}");
            }
        }
    }

    [Fact]
    public void Signature_from_another_key_or_over_another_body_fails()
    {
        var tx = TestData.Put(TestData.Key(1), 1, "k", "v");
        var other = TestData.Put(TestData.Key(1), 2, "k", "v");
        var byOtherKey = TestData.Put(TestData.Key(2), 1, "k", "v");
        Assert.True(tx.VerifySignature());
        Assert.False(Transaction.FromParts(tx.ChainId, tx.Contract, tx.Function, tx.Args, tx.Sender, tx.Nonce,
            other.Signature).VerifySignature());
        Assert.False(Transaction.FromParts(tx.ChainId, tx.Contract, tx.Function, tx.Args, tx.Sender, tx.Nonce,
            byOtherKey.Signature).VerifySignature());
        // A signature over the body without the "chain.tx.v1" domain does not verify either.
        var undomained = TestData.Key(1).Sign(tx.Body);
        Assert.False(Transaction.FromParts(tx.ChainId, tx.Contract, tx.Function, tx.Args, tx.Sender, tx.Nonce,
            undomained).VerifySignature());
    }

    [Fact]
    public void The_id_is_the_hash_of_the_body_only()
    {
        var tx = TestData.Put(TestData.Key(1), 1, "k", "v");
        Assert.Equal(Hash32.Sha256(tx.Body), tx.Id);
        var resigned = Transaction.FromParts(tx.ChainId, tx.Contract, tx.Function, tx.Args, tx.Sender, tx.Nonce,
            TestData.RandomSignature(new Random(1)));
        Assert.Equal(tx.Id, resigned.Id);
        Assert.NotEqual(tx.Id, TestData.Put(TestData.Key(1), 2, "k", "v").Id);
    }

    [Fact]
    public void Keys_from_the_same_seed_are_the_same_key()
    {
        using var a = TestData.NewKey(7);
        using var b = SigningKey.FromSeed(TestData.Seed(7));
        Assert.Equal(a.PublicKey, b.PublicKey);
        Assert.Equal(TestData.Seed(7), a.ExportSeed());
        Assert.NotEqual(TestData.Key(8).PublicKey, a.PublicKey);
        Assert.True(Ed25519.Verify(b.PublicKey, "m"u8, a.Sign("m"u8)));
        Assert.Throws<ArgumentException>(() => SigningKey.FromSeed(new byte[31]));
    }
}
