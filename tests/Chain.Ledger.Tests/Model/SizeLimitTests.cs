using System.Buffers.Binary;
using Chain.Accel;
using Chain.Ledger.Model;

namespace Chain.Ledger.Tests.Model;

/// <summary>Every size bound gives <see cref="LedgerError.TooLarge"/>, both when building and when decoding.</summary>
public class SizeLimitTests
{
    private static readonly LedgerLimits Small = new LedgerLimits { MaxTransactionBytes = 4096 }.Validate();

    /// <summary>
    /// Bytes a transaction takes besides its one argument's content: tag and version (2), "c", "k", "f" each with a
    /// length (3 x 5), the argument count (4) and length (4), sender (32), nonce (8), signature (64).
    /// </summary>
    private const int OneArgOverhead = 2 + 3 * 5 + 4 + 4 + 32 + 8 + 64;

    private static Transaction WithArg(int argBytes, LedgerLimits? limits = null) =>
        Transaction.Create("c", "k", "f", [new byte[argBytes]], 1, TestData.Key(0), limits);

    public static TheoryData<int> Limits => [1 << 20, 4096];

    [Theory]
    [MemberData(nameof(Limits))]
    public void A_transaction_of_exactly_the_limit_is_accepted_and_one_byte_more_is_TooLarge(int max)
    {
        var limits = new LedgerLimits { MaxTransactionBytes = max };
        var atLimit = WithArg(max - OneArgOverhead, limits);
        Assert.Equal(max, atLimit.Encoded.Length);
        LedgerAssert.Equal(atLimit, Transaction.Decode(atLimit.Encoded, limits));

        LedgerAssert.Throws(LedgerError.TooLarge, $"limit {max}", () => WithArg(max - OneArgOverhead + 1, limits));
        LedgerAssert.Throws(LedgerError.TooLarge, $"limit {max}", () => WithArg(max, limits));
        LedgerAssert.Throws(LedgerError.TooLarge, () => WithArg(4 * max, limits));
    }

    [Fact]
    public void Decoding_more_than_the_default_1_MiB_is_TooLarge()
    {
        var big = WithArg(1 << 20, new LedgerLimits { MaxTransactionBytes = 2 << 20 });
        var e = LedgerAssert.Throws(LedgerError.TooLarge, "limit 1048576", () => Transaction.Decode(big.Encoded));
        Assert.IsType<DecodeException>(e);
    }

    [Fact]
    public void Decoding_more_than_a_custom_limit_is_TooLarge()
    {
        var tx = WithArg(4096 - OneArgOverhead + 1);
        Assert.Equal(4097, tx.Encoded.Length);
        LedgerAssert.Throws(LedgerError.TooLarge, "limit 4096", () => Transaction.Decode(tx.Encoded, Small));
        // The same bytes decode under the default limits, and a transaction of exactly 4096 bytes under the small ones.
        Assert.Equal(tx.Id, Transaction.Decode(tx.Encoded).Id);
        Assert.Equal(4096, Transaction.Decode(WithArg(4096 - OneArgOverhead).Encoded, Small).Encoded.Length);
    }

    [Fact]
    public void A_length_or_count_prefix_beyond_its_limit_is_TooLarge_before_anything_is_allocated()
    {
        var tx = Transaction.Create("c", "k", "f", [new byte[3]], 1, TestData.Key(0));
        const int countAt = 2 + 3 * 5;
        var hugeArg = tx.Encoded.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(hugeArg.AsSpan(countAt + 4), uint.MaxValue);
        LedgerAssert.Throws(LedgerError.TooLarge, "transaction.args", () => Transaction.Decode(hugeArg));

        var tooManyArgs = tx.Encoded.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(tooManyArgs.AsSpan(countAt), 65);
        LedgerAssert.Throws(LedgerError.TooLarge, "limit 64", () => Transaction.Decode(tooManyArgs));

        var longChainId = tx.Encoded.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(longChainId.AsSpan(2), 65);
        LedgerAssert.Throws(LedgerError.TooLarge, "transaction.chainId", () => Transaction.Decode(longChainId));
    }

    [Fact]
    public void Too_many_arguments_is_TooLarge_when_building()
    {
        var args = Enumerable.Range(0, 65).Select(_ => (ReadOnlyMemory<byte>)Array.Empty<byte>());
        LedgerAssert.Throws(LedgerError.TooLarge, "65 arguments",
            () => Transaction.Create("c", "k", "f", args, 1, TestData.Key(0)));
        var fewer = new LedgerLimits { MaxArguments = 2 };
        LedgerAssert.Throws(LedgerError.TooLarge,
            () => Transaction.Create("c", "k", "f", [new byte[1], new byte[1], new byte[1]], 1, TestData.Key(0),
                fewer));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("sla/sh")]
    [InlineData("ünïcode")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 65 characters
    public void Bad_identifiers_are_Malformed(string id)
    {
        var key = TestData.Key(0);
        LedgerAssert.Throws(LedgerError.Malformed, "chainId", () => Transaction.Create(id, "k", "f", [], 1, key));
        LedgerAssert.Throws(LedgerError.Malformed, "contract", () => Transaction.Create("c", id, "f", [], 1, key));
        LedgerAssert.Throws(LedgerError.Malformed, "function", () => Transaction.Create("c", "k", id, [], 1, key));
    }

    [Fact]
    public void Block_and_certificate_bounds_are_TooLarge()
    {
        var net = TestData.Network();
        var committed = net.BuildChain(blocks: 1, transactionsPerBlock: 3)[0];
        var block = committed.Block.Encode();

        var oneTxPerBlock = new LedgerLimits { MaxTransactionsPerBlock = 2 };
        LedgerAssert.Throws(LedgerError.TooLarge, "block.transactions", () => Block.Decode(block, oneTxPerBlock));
        LedgerAssert.Throws(LedgerError.TooLarge, "block.transactions",
            () => CommittedBlock.Decode(committed.Encode(), oneTxPerBlock));

        var tinyBlocks = new LedgerLimits { MaxTransactionBytes = 256, MaxBlockBytes = 256 }.Validate();
        LedgerAssert.Throws(LedgerError.TooLarge, "limit 256", () => Block.Decode(block, tinyBlocks));
        LedgerAssert.Throws(LedgerError.TooLarge, "limit 256",
            () => CommittedBlock.Decode(committed.Encode(), tinyBlocks));

        var twoSignatures = new LedgerLimits { MaxCertificateSignatures = 2 };
        LedgerAssert.Throws(LedgerError.TooLarge, "certificate.signatures",
            () => CommitCertificate.Decode(committed.Certificate.Encode(), twoSignatures));
    }

    [Fact]
    public void A_body_that_does_not_match_its_header_is_InvalidBlock()
    {
        var net = TestData.Network();
        var block = net.BuildChain(blocks: 1, transactionsPerBlock: 2)[0].Block;
        var lying = new Block(block.Header with { TxRoot = Hash32.Sha256("x"u8) }, block.Transactions);
        LedgerAssert.Throws(LedgerError.InvalidBlock, "transaction root", () => Block.Decode(lying.Encode()));
        var miscounted = new Block(block.Header with { TxCount = 3 }, block.Transactions);
        LedgerAssert.Throws(LedgerError.InvalidBlock, "header says 3", () => Block.Decode(miscounted.Encode()));
        var height0 = new BlockHeader(0, Hash32.Zero, Hash32.Zero, 0, Hash32.Zero, 0, 0, 0, 0);
        LedgerAssert.Throws(LedgerError.Malformed, "height 0", () => BlockHeader.Decode(height0.Encode()));
    }

    [Fact]
    public void Inconsistent_limits_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LedgerLimits { MaxTransactionBytes = 255 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new LedgerLimits { MaxTransactionBytes = 4096, MaxBlockBytes = 4095 }.Validate());
        Assert.Same(LedgerLimits.Default, LedgerLimits.Default.Validate());
    }
}
