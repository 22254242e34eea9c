using Chain.Accel;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Ledger.Tests.Storage;

/// <summary>A temp folder removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "chain-test-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder is harmless
        }
    }
}

/// <summary>Builds valid blocks on top of a store: signed transactions, writes, and a single-signer certificate.</summary>
public sealed class ChainBuilder : IDisposable
{
    public static readonly Hash32 GenesisHash = Hash32.Sha256("store-test-genesis"u8);
    private readonly SigningKey _validator = SigningKey.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
    private readonly SigningKey _client = SigningKey.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray());
    private ulong _nonce;

    public static ILedgerStore Open(string kind, TempDir dir) => kind switch
    {
        "rocksdb" => RocksDbLedgerStore.Open(dir.Path, GenesisHash, 0),
        "memory" => InMemoryLedgerStore.Create(GenesisHash, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public Transaction Tx(string contract = "kv") =>
        Transaction.Create("test", contract, "put", [BitConverter.GetBytes(_nonce)], ++_nonce, _client);

    public CommittedBlock Next(ILedgerStore store, IReadOnlyList<Transaction> txs, long? timestamp = null)
    {
        var height = store.Height + 1;
        var block = Block.Create(height, store.TipHash, store.Height, store.StateRoot, 0, 0, timestamp ?? (long)height, txs);
        return Certify(block);
    }

    public CommittedBlock Certify(Block block)
    {
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, block.Height, 0, block.Hash);
        return new CommittedBlock(block,
            new CommitCertificate(CertificatePhase.Commit, block.Height, 0, block.Hash, [new ReplicaSignature(0, _validator.Sign(vote))]));
    }

    public static StateWrite Put(string key, string value) =>
        new(System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(value));

    public static StateWrite Delete(string key) => new(System.Text.Encoding.UTF8.GetBytes(key), null);

    public void Dispose()
    {
        _validator.Dispose();
        _client.Dispose();
    }
}
