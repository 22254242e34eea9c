using Chain.Accel;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Testing;

namespace Chain.Cli.Tests;

/// <summary>A RocksDB ledger of <see cref="Blocks"/> blocks built by <see cref="TestLedger"/>, shared by a test class.</summary>
public sealed class LedgerFixture : IDisposable
{
    public const int Blocks = 12, TxPerBlock = 10;

    public LedgerFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "chain-cli-tests-" + Guid.NewGuid().ToString("N"));
        Ledger = TestLedger.CreateDataDirectory(Root, Blocks, TxPerBlock, seed: 7, contractMix: 0.5);
        Genesis = Path.Combine(Root, "genesis.json");
        using var store = RocksDbLedgerStore.OpenReadOnly(Ledger, TestLedger.Default.Genesis.Hash);
        TipHash = store.TipHash;
        StateRoot = store.StateRoot;
        var block = store.GetBlock(3)!;
        KvTx = block.Block.Transactions.First(t => t.Contract == "kv").Id;
        AllTransactions = [.. Enumerable.Range(1, Blocks).SelectMany(h => store.GetBlock((ulong)h)!.Block.Transactions)];
    }

    public string Root { get; }

    /// <summary>The RocksDB directory (<c>Root/data/ledger</c>).</summary>
    public string Ledger { get; }

    public string Genesis { get; }

    public string DataDir => Path.Combine(Root, "data");

    public Hash32 TipHash { get; }

    public Hash32 StateRoot { get; }

    public Hash32 KvTx { get; }

    public IReadOnlyList<Transaction> AllTransactions { get; }

    public string[] Offline(params string[] args) => [.. args, "--data", DataDir, "--genesis", Genesis];

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
