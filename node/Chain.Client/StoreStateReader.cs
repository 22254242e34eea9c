using System.Runtime.CompilerServices;
using Chain.Ledger.Storage;

namespace Chain.Client;

/// <summary>Reads state straight from a ledger store: a node's data directory opened read-only, or an in-memory store in tests.</summary>
public sealed class StoreStateReader(ILedgerStore store) : IStateReader
{
    public Task<byte[]?> GetAsync(byte[] key, CancellationToken cancellationToken = default) =>
        Task.FromResult(store.GetState(key)?.Value);

    public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var (key, entry) in store.ScanState(prefix))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return KeyValuePair.Create(key, entry.Value);
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
