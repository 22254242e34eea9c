using Chain.Accel;
using Chain.Consensus;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Ledger.Validation;

namespace Chain.Node.Tests;

public sealed class BlockValidatorTests : IDisposable
{
    private static readonly SigningKey Node0 = SigningKey.FromSeed(Enumerable.Repeat((byte)10, 32).ToArray());
    private static readonly SigningKey Client = SigningKey.FromSeed(Enumerable.Repeat((byte)11, 32).ToArray());
    private static readonly SigningKey Stranger = SigningKey.FromSeed(Enumerable.Repeat((byte)12, 32).ToArray());

    private readonly Genesis _genesis = Genesis.FromDocument(new Genesis.Document("test-chain", 1_000,
    [
        new Genesis.OrganisationDocument("hospital-a", "Hospital A", Role.Hospital,
            [new Genesis.NodeDocument(0, "node-0", Node0.PublicKey.ToString(), "127.0.0.1:1")],
            [new Genesis.ClientDocument("app", Client.PublicKey.ToString())]),
    ]));
    private readonly InMemoryLedgerStore _store;
    private readonly Mempool _mempool = new(new MempoolOptions());
    private readonly BlockValidator _validator;

    public BlockValidatorTests()
    {
        _store = InMemoryLedgerStore.Create(_genesis);
        _validator = new BlockValidator(_store, new TransactionValidator(_genesis, Chain.Chaincode.SystemContracts.Registry().Ids), _mempool,
            LedgerLimits.Default, _genesis.Timestamp);
    }

    public void Dispose() => _store.Dispose();

    private Transaction Tx(ulong nonce, SigningKey? key = null, string contract = "kv") =>
        Transaction.Create("test-chain", contract, "put", ["k"u8.ToArray(), BitConverter.GetBytes(nonce)], nonce, key ?? Client);

    private Block Next(params Transaction[] txs) =>
        Block.Create(_store.Height + 1, _store.TipHash, _store.Height, _store.StateRoot, 0, 0, 2_000 + (long)_store.Height, txs);

    private ProposalCheck Check(Block b) => _validator.Check(new SeqNo(b.Height), b.Header.PreviousHash, b.Encode());

    [Fact]
    public void A_valid_block_is_accepted_with_its_hash_proposer_and_view()
    {
        var block = Next(Tx(1), Tx(2));
        var check = Check(block);
        Assert.True(check.Valid, check.Reason);
        Assert.Equal(block.Hash, check.Digest);
        Assert.Equal(new ReplicaId(0), check.Proposer);
    }

    [Fact]
    public void Garbage_and_truncated_payloads_are_rejected_not_thrown()
    {
        Assert.False(_validator.Check(new SeqNo(1), _store.TipHash, [1, 2, 3]).Valid);
        var bytes = Next(Tx(1)).Encode();
        Assert.False(_validator.Check(new SeqNo(1), _store.TipHash, bytes.AsSpan(0, bytes.Length - 1)).Valid);
        Assert.False(_validator.Describe(new SeqNo(1), _store.TipHash, [0xff]).Valid);
    }

    [Fact]
    public void Wrong_height_parent_state_root_or_timestamp_is_rejected()
    {
        var good = Next(Tx(1));
        Assert.False(_validator.Check(new SeqNo(2), good.Header.PreviousHash, good.Encode()).Valid);
        Assert.False(_validator.Check(new SeqNo(1), Hash32.Sha256("other"u8), good.Encode()).Valid);
        var badRoot = Block.Create(1, _store.TipHash, 0, Hash32.Sha256("root"u8), 0, 0, 2_000, [Tx(1)]);
        Assert.Contains("state root", Check(badRoot).Reason, StringComparison.Ordinal);
        var old = Block.Create(1, _store.TipHash, 0, _store.StateRoot, 0, 0, _genesis.Timestamp, [Tx(1)]);
        Assert.Contains("timestamp", Check(old).Reason, StringComparison.Ordinal);
        var ahead = Block.Create(1, _store.TipHash, 1, _store.StateRoot, 0, 0, 2_000, [Tx(1)]);
        Assert.False(Check(ahead).Valid);
    }

    [Fact]
    public void Forged_unknown_duplicate_and_unregistered_transactions_are_rejected()
    {
        var forged = Transaction.FromParts("test-chain", "kv", "put", ["k"u8.ToArray()], Client.PublicKey, 9, Stranger.Sign("x"u8));
        Assert.Contains("signature", Check(Next(forged)).Reason, StringComparison.Ordinal);
        Assert.Contains("genesis", Check(Next(Tx(1, Stranger))).Reason, StringComparison.Ordinal);
        Assert.Contains("twice", Check(Next(Tx(1), Tx(1))).Reason, StringComparison.Ordinal);
        Assert.Contains("contract", Check(Next(Tx(1, contract: "nope"))).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_transaction_already_in_an_uncommitted_parent_or_the_ledger_is_rejected()
    {
        var first = Next(Tx(1));
        Assert.True(Check(first).Valid);
        var child = Block.Create(2, first.Hash, 0, _store.StateRoot, 0, 0, 3_000, [Tx(1)]);
        Assert.Contains("already ordered", _validator.Check(new SeqNo(2), first.Hash, child.Encode()).Reason, StringComparison.Ordinal);
        var fresh = Block.Create(2, first.Hash, 0, _store.StateRoot, 0, 0, 3_000, [Tx(2)]);
        Assert.True(_validator.Check(new SeqNo(2), first.Hash, fresh.Encode()).Valid);
    }
}
