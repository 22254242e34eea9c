using System.Text;
using Chain.Accel;
using Chain.Chaincode;
using Chain.Client.Audit;
using Chain.Client.Sources;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Testing;

namespace Chain.Client.Tests.Audit;

/// <summary>One honest RocksDB ledger (20 blocks of 50 transactions), built once; each test verifies a fresh copy.</summary>
public sealed class VerifierLedger : IDisposable
{
    public const int Blocks = 20, TxPerBlock = 50;

    public VerifierLedger()
    {
        Root = Path.Combine(Path.GetTempPath(), "chain-verifier-" + Guid.NewGuid().ToString("N"));
        (LedgerPath, Built) = TestLedger.Default.CreateLedgerDirectory(Root, Blocks, TxPerBlock, seed: 7, contractMix: 0.3);
    }

    public string Root { get; }
    public string LedgerPath { get; }
    public BuiltLedger Built { get; }

    /// <summary>A copy of the ledger directory that a test may damage.</summary>
    public string Copy()
    {
        var target = Path.Combine(Root, "copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(LedgerPath)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public sealed class VerifierTests(VerifierLedger ledger) : IClassFixture<VerifierLedger>
{
    private static readonly TestLedger Consortium = TestLedger.Default;

    private static async Task<VerifyReport> Verify(string path, IProgress<VerifyProgress>? progress = null)
    {
        using var source = StoreLedgerSource.OpenDataDirectory(path, Consortium.Genesis);
        return await new LedgerVerifier(Consortium.Genesis, SystemContracts.Registry()).VerifyAsync(source, progress);
    }

    private static async Task<VerifyFailure> Fails(string path, ulong height, string check)
    {
        var report = await Verify(path);
        Assert.False(report.Ok, "the damaged ledger verified");
        Assert.Equal((height, check), (report.Failure!.Height, report.Failure.Check));
        Assert.Contains($"block {height}", report.Failure.Message, StringComparison.Ordinal);
        return report.Failure;
    }

    private static CommittedBlock ReadBlock(string path, ulong height)
    {
        byte[]? bytes = null;
        RawLedger.Tamper(path, (db, cf) => bytes = db.Get(RawLedger.HeightKey(height), cf("blocks")));
        return CommittedBlock.Decode(bytes!);
    }

    private static void WriteBlock(string path, ulong height, byte[] bytes) =>
        RawLedger.Tamper(path, (db, cf) => db.Put(RawLedger.HeightKey(height), bytes, cf("blocks")));

    /// <summary>The block rebuilt with new transactions (and so a new hash), optionally another state root.</summary>
    private static Block Rebuild(Block block, IReadOnlyList<Transaction> txs, Hash32? stateRoot = null)
    {
        var h = block.Header;
        return Block.Create(h.Height, h.PreviousHash, h.ExecutedHeight, stateRoot ?? h.StateRoot, h.Proposer, h.View, h.Timestamp, txs);
    }

    /// <summary>The transaction with the same sender and nonce but another value, properly re-signed.</summary>
    private static Transaction Altered(Transaction tx)
    {
        var key = Consortium.AppKeys.Concat([Consortium.AuditorKey, Consortium.RegulatorKey]).Single(k => k.PublicKey == tx.Sender);
        var args = tx.Args.Select(a => a.ToArray()).ToList();
        args[^1] = Encoding.UTF8.GetBytes("forged");
        return Transaction.Create(tx.ChainId, tx.Contract, tx.Function, [.. args.Select(a => (ReadOnlyMemory<byte>)a)], tx.Nonce, key);
    }

    [Fact]
    public void The_test_ledger_runs_real_contract_calls_some_refused()
    {
        Assert.Equal((1UL, 20UL, 1000L), (ledger.Built.FirstHeight, ledger.Built.Tip, ledger.Built.Transactions));
        Assert.InRange(ledger.Built.Refused, 1, ledger.Built.ContractCalls - 100);
        using var source = StoreLedgerSource.OpenDataDirectory(ledger.LedgerPath, Consortium.Genesis);
        var prefixes = new[] { "models/", "defense/", "fl/", "kv/" };
        foreach (var prefix in prefixes) Assert.NotEmpty(source.Store.ScanState(Encoding.UTF8.GetBytes(prefix)));
    }

    [Fact]
    public async Task An_honest_ledger_verifies()
    {
        var seen = new List<VerifyProgress>();
        var report = await Verify(ledger.Copy(), new SyncProgress(seen.Add));
        Assert.True(report.Ok, report.Failure?.Message);
        Assert.Equal((20UL, 1000L, ledger.Built.StateRoot), (report.Blocks, report.Transactions, report.StateRoot));
        Assert.True(report.TransactionsPerSecond > 0);
        Assert.Equal(new VerifyProgress(20, 20, 1000), seen[^1]);
        Assert.Equal(Enumerable.Range(1, 20).Select(h => (ulong)h), seen.Select(p => p.Height));
    }

    [Fact]
    public async Task The_same_ledger_in_memory_verifies()
    {
        var store = InMemoryLedgerStore.Create(Consortium.Genesis);
        var built = Consortium.Build(store, VerifierLedger.Blocks, VerifierLedger.TxPerBlock, seed: 7, contractMix: 0.3);
        Assert.Equal(ledger.Built, built);
        using var source = new StoreLedgerSource(store, "memory");
        var report = await new LedgerVerifier(Consortium.Genesis, SystemContracts.Registry(), parallelism: 1).VerifyAsync(source);
        Assert.True(report.Ok, report.Failure?.Message);
        Assert.Equal((20UL, 1000L), (report.Blocks, report.Transactions));
    }

    [Fact]
    public async Task A_flipped_byte_in_a_transaction_breaks_the_transaction_root()
    {
        var path = ledger.Copy();
        var bytes = ReadBlock(path, 7).Encode();
        bytes[^(253 + 10)] ^= 0x01; // inside the last transaction's signature, before the 3-signature certificate (253 bytes)
        WriteBlock(path, 7, bytes);
        await Fails(path, 7, "tx-root");
    }

    [Fact]
    public async Task A_flipped_byte_in_a_certificate_signature_is_a_forged_certificate()
    {
        var path = ledger.Copy();
        var bytes = ReadBlock(path, 11).Encode();
        bytes[^1] ^= 0x80;
        WriteBlock(path, 11, bytes);
        var failure = await Fails(path, 11, "certificate");
        Assert.Contains("forged", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_block_does_not_decode()
    {
        var path = ledger.Copy();
        WriteBlock(path, 3, ReadBlock(path, 3).Encode()[..^1]);
        await Fails(path, 3, "block");
    }

    [Fact]
    public async Task A_deleted_block_is_missing()
    {
        var path = ledger.Copy();
        RawLedger.Tamper(path, (db, cf) => db.Remove(RawLedger.HeightKey(12), cf("blocks")));
        await Fails(path, 12, "missing-block");
    }

    [Fact]
    public async Task A_certificate_with_two_signatures_is_not_a_quorum()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 9);
        WriteBlock(path, 9, new CommittedBlock(committed.Block, Consortium.Certify(committed.Block, [0, 1])).Encode());
        var failure = await Fails(path, 9, "certificate");
        Assert.Contains("2 signatures, Commit needs 3", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_forged_validator_signature_is_found()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 4);
        var honest = Consortium.Certify(committed.Block, [0, 1, 2]);
        var vote = honest.VoteBytes();
        var forged = new CommitCertificate(honest.Phase, honest.Height, honest.View, honest.BlockHash,
            [honest.Signatures[0], honest.Signatures[1], new ReplicaSignature(2, Consortium.AppKeys[2].Sign(vote))]);
        WriteBlock(path, 4, new CommittedBlock(committed.Block, forged).Encode());
        var failure = await Fails(path, 4, "certificate");
        Assert.Contains("replica 2", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transaction_altered_and_re_signed_breaks_the_transaction_root()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 5);
        var txs = committed.Block.Transactions.ToArray();
        txs[3] = Altered(txs[3]);
        var tampered = new Block(committed.Block.Header, txs); // the old header: its root no longer matches the body
        WriteBlock(path, 5, new CommittedBlock(tampered, committed.Certificate).Encode());
        await Fails(path, 5, "tx-root");
    }

    [Fact]
    public async Task A_transaction_altered_under_a_recomputed_header_loses_its_certificate()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 5);
        var txs = committed.Block.Transactions.ToArray();
        txs[3] = Altered(txs[3]);
        WriteBlock(path, 5, new CommittedBlock(Rebuild(committed.Block, txs), committed.Certificate).Encode());
        await Fails(path, 5, "certificate");
    }

    [Fact]
    public async Task A_block_rewritten_and_re_certified_by_a_colluding_quorum_breaks_the_next_link()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 5);
        var txs = committed.Block.Transactions.ToArray();
        txs[3] = Altered(txs[3]);
        var rebuilt = Rebuild(committed.Block, txs);
        WriteBlock(path, 5, new CommittedBlock(rebuilt, Consortium.Certify(rebuilt)).Encode());
        var failure = await Fails(path, 6, "hash-link");
        Assert.Contains("block 5", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certified_tip_block_with_a_badly_signed_transaction_is_found()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 20);
        var txs = committed.Block.Transactions.ToArray();
        var t = txs[17];
        var badSignature = t.Signature.Span.ToArray();
        badSignature[0] ^= 0x01;
        txs[17] = Transaction.FromParts(t.ChainId, t.Contract, t.Function, t.Args, t.Sender, t.Nonce, new Signature(badSignature));
        var rebuilt = Rebuild(committed.Block, txs);
        WriteBlock(path, 20, new CommittedBlock(rebuilt, Consortium.Certify(rebuilt)).Encode());
        var failure = await Fails(path, 20, "signature");
        Assert.Contains("transaction 17", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transaction_replayed_in_a_later_certified_block_is_found()
    {
        var path = ledger.Copy();
        var earlier = ReadBlock(path, 2).Block.Transactions[0];
        var committed = ReadBlock(path, 20);
        var rebuilt = Rebuild(committed.Block, [.. committed.Block.Transactions, earlier]);
        WriteBlock(path, 20, new CommittedBlock(rebuilt, Consortium.Certify(rebuilt)).Encode());
        var failure = await Fails(path, 20, "transaction");
        Assert.Contains("already committed", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certified_tip_block_claiming_a_wrong_state_root_is_found()
    {
        var path = ledger.Copy();
        var committed = ReadBlock(path, 20);
        var rebuilt = Rebuild(committed.Block, committed.Block.Transactions, Hash32.Sha256("not the state"u8));
        WriteBlock(path, 20, new CommittedBlock(rebuilt, Consortium.Certify(rebuilt)).Encode());
        await Fails(path, 20, "state-root");
    }

    [Fact]
    public async Task A_state_entry_altered_on_disk_is_named()
    {
        var path = ledger.Copy();
        byte[]? key = null;
        RawLedger.Tamper(path, (db, cf) =>
        {
            using var it = db.NewIterator(cf("state"));
            it.Seek("kv/"u8.ToArray());
            key = it.Key();
            var value = it.Value();
            value[^1] ^= 0x01;
            db.Put(key, value, cf("state"));
        });
        var report = await Verify(path);
        Assert.Equal((20UL, "state"), (report.Failure?.Height, report.Failure?.Check));
        Assert.Contains(Encoding.UTF8.GetString(key!), report.Failure!.Message, StringComparison.Ordinal);
        Assert.Equal((20UL, 1000L), (report.Blocks, report.Transactions)); // every block verified; only the stored state is wrong
    }

    [Fact]
    public async Task A_state_entry_added_on_disk_is_named()
    {
        var path = ledger.Copy();
        RawLedger.Tamper(path, (db, cf) => db.Put("kv/zzz-planted"u8.ToArray(), new byte[9], cf("state")));
        var report = await Verify(path);
        Assert.Equal("state", report.Failure?.Check);
        Assert.Contains("kv/zzz-planted", report.Failure!.Message, StringComparison.Ordinal);
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool, so its last report may come late).</summary>
    private sealed class SyncProgress(Action<VerifyProgress> report) : IProgress<VerifyProgress>
    {
        public void Report(VerifyProgress value) => report(value);
    }
}
