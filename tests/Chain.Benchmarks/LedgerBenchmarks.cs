using BenchmarkDotNet.Attributes;
using Chain.Accel;
using Chain.Ledger.Merkle;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Benchmarks;

/// <summary>Shared test data: realistic signed transactions (about 200 bytes each).</summary>
internal static class Data
{
    public static Transaction[] SignedTransactions(int count, int salt)
    {
        using var key = SigningKey.FromSeed(Enumerable.Repeat((byte)5, 32).ToArray());
        var random = new Random(salt);
        var txs = new Transaction[count];
        for (var i = 0; i < count; i++)
        {
            var value = new byte[64];
            random.NextBytes(value);
            txs[i] = Transaction.Create("bench", "kv", "put",
                [System.Text.Encoding.UTF8.GetBytes($"telemetry/device-{i % 5000:D5}"), value], (ulong)salt * 10_000_000 + (ulong)i, key);
        }
        return txs;
    }
}

/// <summary>Merkle root over 10,000 and 100,000 transaction leaves (leaf hashes precomputed).</summary>
[MemoryDiagnoser]
public class MerkleBenchmarks
{
    private Hash32[] _leaves = [];

    [Params(10_000, 100_000)]
    public int Transactions { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _leaves = Enumerable.Range(0, Transactions).Select(i => MerkleTree.LeafHash(BitConverter.GetBytes(i))).ToArray();

    [Benchmark]
    public Hash32 Root() => MerkleTree.Root(_leaves);
}

/// <summary>Canonical encode and strict decode of a 1,000-transaction block.</summary>
[MemoryDiagnoser]
public class BlockCodecBenchmarks
{
    private Block _block = null!;
    private byte[] _encoded = [];

    [GlobalSetup]
    public void Setup()
    {
        var txs = Data.SignedTransactions(1000, 1);
        _block = Block.Create(1, Hash32.Zero, 0, Hash32.Zero, 0, 0, 1, txs);
        _encoded = _block.Encode();
    }

    [Benchmark]
    public byte[] Encode() => _block.Encode();

    /// <summary>Decoding includes recomputing and checking the transaction root.</summary>
    [Benchmark]
    public Block Decode() => Block.Decode(_encoded);
}

/// <summary>
/// Block commit to RocksDB: each invocation builds a 1,000-transaction block on the tip (Merkle root),
/// certifies it, and commits it with 1,000 state writes in one synced write batch. Per-transaction time is
/// the mean divided by 1,000 (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 30, invocationCount: 1)]
public class BlockCommitBenchmarks
{
    private const int TxPerBlock = 1000;
    private const int Blocks = 50; // jitting + 3 warm-up + 30 measured invocations, with room to spare
    private readonly SigningKey _validator = SigningKey.FromSeed(Enumerable.Repeat((byte)6, 32).ToArray());
    private Transaction[] _pool = [];
    private string _dir = "";
    private RocksDbLedgerStore _store = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _pool = Data.SignedTransactions(TxPerBlock * Blocks, 2);
        _dir = Path.Combine(Path.GetTempPath(), "chain-bench-" + Guid.NewGuid().ToString("N"));
        _store = RocksDbLedgerStore.Open(_dir, Hash32.Sha256("bench"u8), 0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = TxPerBlock)]
    public Hash32 CommitBlockSynced()
    {
        if (_next + TxPerBlock > _pool.Length) throw new InvalidOperationException("transaction pool exhausted; raise Blocks");
        var txs = new ArraySegment<Transaction>(_pool, _next, TxPerBlock);
        _next += TxPerBlock;
        var height = _store.Height + 1;
        var block = Block.Create(height, _store.TipHash, _store.Height, _store.StateRoot, 0, 0, (long)height, txs);
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, height, 0, block.Hash);
        var cert = new CommitCertificate(CertificatePhase.Commit, height, 0, block.Hash,
            [new ReplicaSignature(0, _validator.Sign(vote))]);
        var writes = new List<StateWrite>(TxPerBlock);
        foreach (var tx in txs) writes.Add(new StateWrite(tx.Args[0].ToArray(), tx.Args[1].ToArray()));
        return _store.Commit(new CommittedBlock(block, cert), writes);
    }
}
