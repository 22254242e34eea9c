namespace Chain.Client;

/// <summary>Read access to ledger state by full key ("models/&lt;model&gt;/v/&lt;version&gt;"), through a node or over a copied data directory.</summary>
public interface IStateReader
{
    Task<byte[]?> GetAsync(byte[] key, CancellationToken cancellationToken = default);

    /// <summary>Entries whose full key starts with <paramref name="prefix"/>, in key byte order.</summary>
    IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(byte[] prefix, CancellationToken cancellationToken = default);
}
