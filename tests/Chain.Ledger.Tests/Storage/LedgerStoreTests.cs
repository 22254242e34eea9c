using Chain.Accel;
using Chain.Ledger.Model;
using Chain.Ledger.State;
using Chain.Ledger.Storage;

namespace Chain.Ledger.Tests.Storage;

/// <summary>The store contract, run against RocksDB and the in-memory twin alike.</summary>
public class LedgerStoreTests
{
    public static TheoryData<string> Kinds => new() { "rocksdb", "memory" };

    private static byte[] B(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task A_state_read_while_blocks_commit_is_always_one_consistent_state(string kind)
    {
        // A reader proving keys while another thread commits blocks that rewrite them: every read's proof must check
        // against the root it came with (a proof stitched from two commits' tree nodes used to fail as "store corrupt").
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var store = ChainBuilder.Open(kind, dir);
        var keys = Enumerable.Range(0, 64).Select(i => $"k/{i}").ToArray();
        store.Commit(chain.Next(store, [chain.Tx()]), [.. keys.Select(k => ChainBuilder.Put(k, "0"))]);
        using var done = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            try
            {
                for (var b = 1; b <= 60; b++)
                    store.Commit(chain.Next(store, [chain.Tx()]), [.. keys.Select(k => ChainBuilder.Put(k, b.ToString(System.Globalization.CultureInfo.InvariantCulture)))]);
            }
            finally
            {
                done.Cancel();
            }
        });
        var reads = 0;
        string? failure = null;
        while (failure is null && (!done.IsCancellationRequested || reads == 0))
        {
            var key = keys[reads % keys.Length];
            try
            {
                var read = store.ReadState(B(key));
                if (read.Entry is null
                    || !read.Proof.VerifyInclusion(read.StateRoot, SparseMerkleTree.ValueDigest(read.Entry.Version, read.Entry.Value))
                    || store.GetStateRoot(read.Height) != read.StateRoot)
                    failure = $"read {reads} of {key} at height {read.Height} does not verify against its root";
            }
            catch (LedgerException e)
            {
                failure = $"read {reads} of {key}: {e.Message}";
            }
            reads++;
        }
        await writer; // before the store is disposed, whatever happened
        Assert.Null(failure);
        Assert.True(reads > 0);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_state_scan_starts_after_a_key_by_seeking(string kind)
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var store = ChainBuilder.Open(kind, dir);
        store.Commit(chain.Next(store, [chain.Tx()]), [.. new[] { "p/a", "p/b", "p/c", "q/a", "o/z" }.Select(k => ChainBuilder.Put(k, "v"))]);
        string[] Keys(string prefix, string after) =>
            [.. store.ScanState(B(prefix), B(after)).Select(kv => System.Text.Encoding.UTF8.GetString(kv.Key))];
        Assert.Equal(["p/a", "p/b", "p/c"], Keys("p/", ""));
        Assert.Equal(["p/c"], Keys("p/", "p/b"));
        Assert.Equal(["p/b", "p/c"], Keys("p/", "p/a0"));   // a key between entries
        Assert.Equal(["p/a", "p/b", "p/c"], Keys("p/", "o/z")); // before the prefix: everything
        Assert.Empty(Keys("p/", "p/c"));
        Assert.Empty(Keys("p/", "q/"));                       // beyond the prefix
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Committed_blocks_transactions_and_state_can_be_read_back(string kind)
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var store = ChainBuilder.Open(kind, dir);
        Assert.Equal(0UL, store.Height);
        Assert.Equal(ChainBuilder.GenesisHash, store.TipHash);
        Assert.Equal(Hash32.Zero, store.StateRoot);

        var txs = new[] { chain.Tx(), chain.Tx(), chain.Tx() };
        var first = chain.Next(store, txs);
        var root = store.Commit(first, [ChainBuilder.Put("a", "1"), ChainBuilder.Put("b", "2")]);
        var second = chain.Next(store, [chain.Tx()]);
        store.Commit(second, [ChainBuilder.Put("a", "3"), ChainBuilder.Delete("b")]);

        Assert.Equal(2UL, store.Height);
        Assert.Equal(second.Block.Hash, store.TipHash);
        Assert.Equal(root, second.Block.Header.StateRoot);
        Assert.Equal(first.Block.Hash, store.GetBlock(1)!.Block.Hash);
        Assert.Equal(new TxLocation(1, 2), store.GetTxLocation(txs[2].Id));
        Assert.Null(store.GetTxLocation(Hash32.Sha256(B("nope"))));
        Assert.Equal(B("3"), store.GetState(B("a"))!.Value);
        Assert.Equal(2UL, store.GetState(B("a"))!.Version);
        Assert.Null(store.GetState(B("b")));
        Assert.Null(store.GetBlock(3));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void State_proofs_verify_against_the_store_root(string kind)
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var store = ChainBuilder.Open(kind, dir);
        var writes = Enumerable.Range(0, 50).Select(i => ChainBuilder.Put($"key{i}", $"value{i}")).ToList();
        store.Commit(chain.Next(store, [chain.Tx()]), writes);

        var entry = store.GetState(B("key7"))!;
        Assert.True(store.ProveState(B("key7")).VerifyInclusion(store.StateRoot, SparseMerkleTree.ValueDigest(entry.Version, entry.Value)));
        Assert.False(store.ProveState(B("key7")).VerifyInclusion(store.StateRoot, SparseMerkleTree.ValueDigest(entry.Version, B("forged"))));
        Assert.True(store.ProveState(B("absent")).VerifyAbsence(store.StateRoot));
        var all = store.ScanState(B("key")).ToList();
        Assert.Equal(50, all.Count);
        Assert.Equal(SparseMerkleTree.ComputeRoot(all.Select(kv => (SparseMerkleTree.KeyHash(kv.Key),
            SparseMerkleTree.ValueDigest(kv.Value.Version, kv.Value.Value)))), store.StateRoot);
    }

    public static TheoryData<string, string> Rejections()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "rocksdb", "memory" })
        {
            foreach (var why in new[] { "height", "previous", "stateRoot", "executedAhead", "timestamp", "txRoot", "certificate", "duplicateTx", "keySize" })
                data.Add(kind, why);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Rejections))]
    public void A_block_that_does_not_extend_the_chain_is_refused_and_nothing_is_written(string kind, string why)
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var store = ChainBuilder.Open(kind, dir);
        var earlier = chain.Tx();
        store.Commit(chain.Next(store, [earlier]), [ChainBuilder.Put("a", "1")]);
        var (tip, root) = (store.TipHash, store.StateRoot);
        var good = chain.Next(store, [chain.Tx()]);
        var h = good.Block.Header;
        var writes = new List<StateWrite> { ChainBuilder.Put("b", "2") };
        CommittedBlock bad = why switch
        {
            "height" => chain.Certify(new Block(h with { Height = 3 }, good.Block.Transactions)),
            "previous" => chain.Certify(new Block(h with { PreviousHash = Hash32.Zero }, good.Block.Transactions)),
            "stateRoot" => chain.Certify(new Block(h with { StateRoot = Hash32.Zero }, good.Block.Transactions)),
            "executedAhead" => chain.Certify(new Block(h with { ExecutedHeight = 2 }, good.Block.Transactions)),
            "timestamp" => chain.Certify(new Block(h with { Timestamp = 1 }, good.Block.Transactions)),
            "txRoot" => chain.Certify(new Block(h with { TxRoot = Hash32.Zero }, good.Block.Transactions)),
            "certificate" => good with { Certificate = chain.Next(store, [chain.Tx()]).Certificate },
            "duplicateTx" => chain.Next(store, [earlier]),
            "keySize" => good,
            _ => throw new ArgumentOutOfRangeException(nameof(why)),
        };
        if (why == "keySize") writes.Add(new StateWrite(new byte[LedgerLimits.Default.MaxStateKeyBytes + 1], [1]));
        var error = Assert.Throws<LedgerException>(() => store.Commit(bad, writes)).Error;
        var expected = why switch
        {
            "certificate" => LedgerError.InvalidCertificate,
            "duplicateTx" => LedgerError.DuplicateTransaction,
            "keySize" => LedgerError.TooLarge,
            _ => LedgerError.InvalidBlock,
        };
        Assert.Equal(expected, error);
        Assert.Equal(1UL, store.Height);
        Assert.Equal(tip, store.TipHash);
        Assert.Equal(root, store.StateRoot);
        Assert.Null(store.GetState(B("b")));
        Assert.Null(store.GetBlock(2));
        store.Commit(good, [ChainBuilder.Put("b", "2")]);
        Assert.Equal(2UL, store.Height);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Pipelined_headers_commit_to_an_earlier_executed_height_which_never_goes_back(string kind)
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var store = ChainBuilder.Open(kind, dir);
        store.Commit(chain.Next(store, [chain.Tx()]), [ChainBuilder.Put("a", "1")]);
        var rootAfter1 = store.StateRoot;
        // Block 2 was proposed before block 1 executed: it commits to the state after height 0.
        var block2 = chain.Certify(Block.Create(2, store.TipHash, 0, Hash32.Zero, 0, 0, 2, [chain.Tx()]));
        store.Commit(block2, [ChainBuilder.Put("b", "2")]);
        Assert.Equal(rootAfter1, store.GetStateRoot(1));
        Assert.Equal(Hash32.Zero, store.GetStateRoot(0));
        // Block 3 claiming height 1 with the wrong root, or going back to height 0 after 2 claimed 0, is refused.
        var wrongRoot = chain.Certify(Block.Create(3, store.TipHash, 1, Hash32.Zero, 0, 0, 3, [chain.Tx()]));
        Assert.Equal(LedgerError.InvalidBlock, Assert.Throws<LedgerException>(() => store.Commit(wrongRoot, [])).Error);
        var block3 = chain.Certify(Block.Create(3, store.TipHash, 2, store.StateRoot, 0, 0, 3, [chain.Tx()]));
        store.Commit(block3, []);
        var backwards = chain.Certify(Block.Create(4, store.TipHash, 1, rootAfter1, 0, 0, 4, [chain.Tx()]));
        Assert.Equal(LedgerError.InvalidBlock, Assert.Throws<LedgerException>(() => store.Commit(backwards, [])).Error);
        Assert.Equal(3UL, store.Height);
    }

    [Fact]
    public void RocksDb_store_survives_reopen_and_refuses_another_genesis()
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        Hash32 tip, root;
        using (var store = ChainBuilder.Open("rocksdb", dir))
        {
            for (var i = 0; i < 5; i++) store.Commit(chain.Next(store, [chain.Tx()]), [ChainBuilder.Put($"k{i}", "v")]);
            store.PutMeta("consensus/view", [0, 7]);
            (tip, root) = (store.TipHash, store.StateRoot);
        }
        using (var store = ChainBuilder.Open("rocksdb", dir))
        {
            Assert.Equal(5UL, store.Height);
            Assert.Equal(tip, store.TipHash);
            Assert.Equal(root, store.StateRoot);
            Assert.Equal(new byte[] { 0, 7 }, store.GetMeta("consensus/view"));
            Assert.Null(store.GetMeta("consensus/none"));
        }
        var e = Assert.Throws<LedgerException>(() => RocksDbLedgerStore.Open(dir.Path, Hash32.Sha256("other"u8), 0));
        Assert.Equal(LedgerError.StoreCorrupt, e.Error);
    }

    [Fact]
    public void A_data_directory_opens_read_only_beside_its_writer_and_refuses_writes()
    {
        using var dir = new TempDir();
        using var chain = new ChainBuilder();
        using var writer = ChainBuilder.Open("rocksdb", dir);
        for (var i = 0; i < 3; i++) writer.Commit(chain.Next(writer, [chain.Tx()]), [ChainBuilder.Put($"k{i}", "v")]);
        using (var reader = RocksDbLedgerStore.OpenReadOnly(dir.Path, writer.GenesisHash))
        {
            Assert.Equal((writer.Height, writer.TipHash, writer.StateRoot), (reader.Height, reader.TipHash, reader.StateRoot));
            Assert.Equal(writer.GetBlockBytes(2), reader.GetBlockBytes(2));
            Assert.Equal("v"u8.ToArray(), reader.GetState("k1"u8)!.Value);
            Assert.Throws<InvalidOperationException>(() => reader.PutMeta("x", [1]));
        }
        Assert.Equal(LedgerError.StoreCorrupt,
            Assert.Throws<LedgerException>(() => RocksDbLedgerStore.OpenReadOnly(dir.Path, Hash32.Sha256("other"u8))).Error);
        using var empty = new TempDir();
        Assert.Equal(LedgerError.StoreCorrupt, Assert.Throws<LedgerException>(() => RocksDbLedgerStore.OpenReadOnly(empty.Path, writer.GenesisHash)).Error);
    }

    [Fact]
    public void RocksDb_and_in_memory_stores_agree_on_every_root_for_the_same_blocks()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        using var dir = new TempDir();
        using var chainA = new ChainBuilder();
        using var rocks = ChainBuilder.Open("rocksdb", dir);
        using var memory = ChainBuilder.Open("memory", dir);
        for (var b = 0; b < 30; b++)
        {
            var writes = Enumerable.Range(0, random.Next(0, 40))
                .Select(_ => random.Next(5) == 0 ? ChainBuilder.Delete($"k{random.Next(100)}") : ChainBuilder.Put($"k{random.Next(100)}", $"{random.Next()}"))
                .ToList();
            var block = chainA.Next(rocks, [chainA.Tx()]);
            Assert.Equal(rocks.Commit(block, writes), memory.Commit(block, writes));
        }
        Assert.True(rocks.StateRoot == memory.StateRoot, $"seed {seed}");
        Assert.Equal(rocks.ScanState([]).Select(kv => Convert.ToHexString(kv.Key)), memory.ScanState([]).Select(kv => Convert.ToHexString(kv.Key)));
    }
}
