using Chain.Accel;
using Chain.Ledger.Merkle;
using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Codec;

/// <summary>decode(encode(x)) equals x field by field, and re-encoding gives the same bytes.</summary>
public class RoundTripTests
{
    [Property(MaxTest = 300)]
    public Property Transaction_round_trips() => Prop.ForAll(Generators.Transactions(), s =>
    {
        var tx = s.Value;
        var back = Transaction.Decode(tx.Encoded);
        LedgerAssert.Equal(tx, back);
        Assert.Equal(tx.VerifySignature(), back.VerifySignature());
        var rebuilt = Transaction.FromParts(back.ChainId, back.Contract, back.Function, back.Args, back.Sender,
            back.Nonce, back.Signature);
        Assert.Equal(tx.Encoded.ToArray(), rebuilt.Encoded.ToArray());
    });

    [Property(MaxTest = 300)]
    public Property BlockHeader_round_trips() => Prop.ForAll(Generators.Headers(), s =>
    {
        var header = s.Value;
        var bytes = header.Encode();
        Assert.Equal(BlockHeader.EncodedSize, bytes.Length);
        var back = BlockHeader.Decode(bytes);
        LedgerAssert.Equal(header, back);
        Assert.Equal(bytes, back.Encode());
    });

    [Property(MaxTest = 200)]
    public Property Block_round_trips() => Prop.ForAll(Generators.Blocks(), s =>
    {
        var block = s.Value;
        var bytes = block.Encode();
        var back = Block.Decode(bytes);
        LedgerAssert.Equal(block, back);
        Assert.Null(back.CheckBody());
        Assert.Equal(bytes, back.Encode());
    });

    [Property(MaxTest = 300)]
    public Property CommitCertificate_round_trips() => Prop.ForAll(Generators.Certificates(), s =>
    {
        var cert = s.Value;
        Assert.InRange(cert.Signatures.Count, 0, 7);
        var bytes = cert.Encode();
        var back = CommitCertificate.Decode(bytes);
        LedgerAssert.Equal(cert, back);
        Assert.Equal(bytes, back.Encode());
        Assert.Equal(cert.VoteBytes(), back.VoteBytes());
    });

    [Property(MaxTest = 200)]
    public Property CommittedBlock_round_trips() => Prop.ForAll(Generators.CommittedBlocks(), s =>
    {
        var committed = s.Value;
        var bytes = committed.Encode();
        var back = CommittedBlock.Decode(bytes);
        LedgerAssert.Equal(committed, back);
        Assert.Equal(bytes, back.Encode());
    });

    [Fact]
    public void Transaction_at_every_identifier_and_argument_bound_round_trips()
    {
        var limits = LedgerLimits.Default;
        var id = new string('a', limits.MaxIdentifierBytes);
        ReadOnlyMemory<byte>[] args = [.. Enumerable.Range(0, limits.MaxArguments)
            .Select(i => (ReadOnlyMemory<byte>)new byte[i % 3 == 0 ? 0 : i])];
        var tx = Transaction.Create(id, id, id, args, ulong.MaxValue, TestData.Key(0));
        LedgerAssert.Equal(tx, Transaction.Decode(tx.Encoded));

        var empty = Transaction.Create("c", "k", "f", [], 0, TestData.Key(1));
        var back = Transaction.Decode(empty.Encoded);
        LedgerAssert.Equal(empty, back);
        Assert.Empty(back.Args);
    }

    [Fact]
    public void Committed_block_from_a_real_network_round_trips_and_its_certificate_still_checks()
    {
        var net = TestData.Network(validators: 4);
        foreach (var committed in net.BuildChain(blocks: 3, transactionsPerBlock: 3))
        {
            var back = CommittedBlock.Decode(committed.Encode());
            LedgerAssert.Equal(committed, back);
            Assert.Null(back.Certificate.Check(back.Block.Hash, back.Height, net.Validators));
            Assert.All(back.Block.Transactions, t => Assert.True(t.VerifySignature()));
        }
    }

    [Fact]
    public void Block_with_no_transactions_has_the_empty_root()
    {
        var block = Block.Create(1, Hash32.Zero, 0, Hash32.Zero, 0, 0, 0, []);
        Assert.Equal(MerkleTree.EmptyRoot, block.Header.TxRoot);
        LedgerAssert.Equal(block, Block.Decode(block.Encode()));
    }
}
