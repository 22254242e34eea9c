using System.Runtime.CompilerServices;
using System.Text;
using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Storage;

namespace Chain.Client.Sources;

/// <summary>A ledger read straight from a store: a node's data directory opened read-only, or an in-memory store in tests.</summary>
public sealed class StoreLedgerSource(ILedgerStore store, string description, string? chainId = null, bool ownsStore = true) : ILedgerSource
{
    /// <summary>Opens the RocksDB data directory <paramref name="path"/> (a node's <c>data/ledger</c>) read-only for <paramref name="genesis"/>.</summary>
    public static StoreLedgerSource OpenDataDirectory(string path, Genesis genesis)
    {
        var ledger = Directory.Exists(Path.Combine(path, "ledger")) && !File.Exists(Path.Combine(path, "CURRENT")) ? Path.Combine(path, "ledger") : path;
        return new StoreLedgerSource(RocksDbLedgerStore.OpenReadOnly(ledger, genesis.Hash), $"data directory {ledger}", genesis.ChainId);
    }

    public ILedgerStore Store => store;

    public SourceKind Kind => SourceKind.DataDirectory;

    public string Description => description;

    public IStateReader State { get; } = new StoreStateReader(store);

    public Task<SourceTip> TipAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(new SourceTip(store.Height, store.TipHash, store.StateRoot, chainId));

    public Task<byte[]?> GetBlockBytesAsync(ulong height, CancellationToken cancellationToken = default) =>
        Task.FromResult(height == 0 ? null : store.GetBlockBytes(height));

    public Task<ulong?> FindTransactionAsync(Hash32 txId, CancellationToken cancellationToken = default) =>
        Task.FromResult(store.GetTxLocation(txId)?.Height);

    public async IAsyncEnumerable<KeyValuePair<byte[], StateEntry>> ScanStateEntriesAsync(byte[] prefix,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var kv in store.ScanState(prefix))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return kv;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    public Task<IReadOnlyList<string>> EvidenceAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. store.ScanMeta("evidence/").Select(kv => Encoding.UTF8.GetString(kv.Value))]);

    public void Dispose()
    {
        if (ownsStore) store.Dispose();
    }
}
