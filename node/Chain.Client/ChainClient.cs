using System.Runtime.CompilerServices;
using Chain.Accel;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chain.Client;

/// <summary>What became of a submitted transaction.</summary>
/// <param name="TxId">SHA-256 of the transaction body.</param>
/// <param name="Height">Committed only: the block that holds it.</param>
/// <param name="Status">Committed, pending (not committed within the wait) or rejected at admission.</param>
/// <param name="Succeeded">Committed only: the contract accepted it. A refused transaction is committed without effect.</param>
/// <param name="Error">Why the contract refused it (or why admission rejected it).</param>
public sealed record SubmitResult(Hash32 TxId, TxStatus Status, ulong Height, bool Succeeded, string? Error)
{
    public bool Committed => Status == TxStatus.Committed;

    /// <summary>Throws <see cref="TransactionFailedException"/> unless the transaction committed and the contract accepted it.</summary>
    public SubmitResult EnsureSucceeded(string what)
    {
        if (Status != TxStatus.Committed) throw new TransactionFailedException($"{what}: not committed ({Status}{(Error is null ? "" : ": " + Error)})", this);
        if (!Succeeded) throw new TransactionFailedException($"{what}: refused by the contract: {Error}", this);
        return this;
    }
}

/// <summary>A transaction that did not commit, or that its contract refused.</summary>
public sealed class TransactionFailedException(string message, SubmitResult result) : Exception(message)
{
    public SubmitResult Result { get; } = result;
}

/// <summary>
/// A member's connection to one node: signs transactions with the member's Ed25519 key, submits them over mutual TLS
/// and reads state (<see cref="State"/>). Nonces come from a per-client counter seeded by the clock, so two
/// transactions with the same content still get different ids (the ledger refuses a replayed id).
/// </summary>
public sealed class ChainClient : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly SigningKey? _key;
    private readonly bool _ownsKey;
    private string? _chainId;
    private long _nonce;

    public ChainClient(GrpcChannel channel, SigningKey? key = null, string? chainId = null, bool ownsKey = false)
    {
        _channel = channel;
        _key = key;
        _ownsKey = ownsKey;
        _chainId = chainId;
        Api = new Api.V1.Ledger.LedgerClient(channel);
        BlobApi = new Api.V1.Blobs.BlobsClient(channel);
        State = new GrpcStateReader(Api);
        _nonce = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    }

    /// <summary>
    /// Connects as the member whose files are in <paramref name="clientDir"/> (<c>tls.crt</c>, <c>tls.key</c> and, to submit,
    /// <c>signing.key</c>) to the node at <paramref name="address"/>, trusting the organisation CAs in <paramref name="cas"/>.
    /// </summary>
    public static ChainClient Open(string clientDir, string address, IEnumerable<(string Organisation, string Path)> cas)
    {
        var tls = MutualTls.Load(Path.Combine(clientDir, "tls.crt"), Path.Combine(clientDir, "tls.key"), cas);
        var keyPath = Path.Combine(clientDir, "signing.key");
        var key = File.Exists(keyPath) ? KeyFile.Load(keyPath) : null;
        return new ChainClient(tls.CreateChannel(address), key, ownsKey: true);
    }

    public Api.V1.Ledger.LedgerClient Api { get; }

    /// <summary>The node's off-chain blob API (proto/chain/v1/blobs.proto).</summary>
    public Api.V1.Blobs.BlobsClient BlobApi { get; }

    /// <summary>Stores <paramref name="data"/> on this node under its SHA-256 (durably) and returns the hash. Refusals come
    /// back as <see cref="RpcException"/> (INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED).</summary>
    public async Task<Hash32> PutBlobAsync(byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var hash = Hash32.FromBytes(System.Security.Cryptography.SHA256.HashData(data));
        await BlobApi.PutAsync(new PutBlobRequest { Sha256 = hash.ToString(), Data = ByteString.CopyFrom(data) },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return hash;
    }

    /// <summary>The blob with this hash from this node, or null if the node does not hold it. The bytes are checked against
    /// the hash here: a node that serves other bytes is caught (<see cref="InvalidDataException"/>).</summary>
    public async Task<byte[]?> GetBlobAsync(Hash32 sha256, CancellationToken cancellationToken = default)
    {
        GetBlobResponse response;
        try
        {
            response = await BlobApi.GetAsync(new GetBlobRequest { Sha256 = sha256.ToString() }, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
        var data = response.Data.ToByteArray();
        if (Hash32.FromBytes(System.Security.Cryptography.SHA256.HashData(data)) != sha256)
            throw new InvalidDataException($"the node served bytes for blob {sha256} that hash to something else");
        return data;
    }

    /// <summary>Current state through this node (pages of <c>ScanState</c>; single keys with <c>QueryState</c>).</summary>
    public IStateReader State { get; }

    public PublicKey? PublicKey => _key?.PublicKey;

    /// <summary>Raised with every transaction just before it is sent (tests and tools that keep a record of what was submitted).</summary>
    public event Action<Transaction>? Submitting;

    public async Task<NodeStatus> StatusAsync(CancellationToken cancellationToken = default) =>
        await Api.GetStatusAsync(new StatusRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary>Signs a transaction with the next nonce.</summary>
    public async Task<Transaction> SignAsync(string contract, string function, IReadOnlyList<byte[]> args, CancellationToken cancellationToken = default)
    {
        if (_key is null) throw new InvalidOperationException("this client has no signing key: it can only read");
        _chainId ??= (await StatusAsync(cancellationToken).ConfigureAwait(false)).ChainId;
        return Transaction.Create(_chainId, contract, function, [.. args.Select(a => (ReadOnlyMemory<byte>)a)],
            (ulong)Interlocked.Increment(ref _nonce), _key);
    }

    /// <summary>Signs and submits; with <paramref name="wait"/>, returns once committed (or after <paramref name="timeout"/>: pending).</summary>
    public async Task<SubmitResult> SubmitAsync(string contract, string function, IReadOnlyList<string> args, bool wait = true,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        await SubmitAsync(contract, function, [.. args.Select(a => System.Text.Encoding.UTF8.GetBytes(a))], wait, timeout, cancellationToken)
            .ConfigureAwait(false);

    public async Task<SubmitResult> SubmitAsync(string contract, string function, IReadOnlyList<byte[]> args, bool wait,
        TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var tx = await SignAsync(contract, function, args, cancellationToken).ConfigureAwait(false);
        return await SubmitAsync(tx, wait, timeout, cancellationToken).ConfigureAwait(false);
    }

    public async Task<SubmitResult> SubmitAsync(Transaction tx, bool wait = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        Submitting?.Invoke(tx);
        var ms = (uint)Math.Clamp((timeout ?? TimeSpan.FromSeconds(30)).TotalMilliseconds, 1, 60_000);
        SubmitResponse r;
        try
        {
            r = await Api.SubmitAsync(new SubmitRequest { Transaction = ByteString.CopyFrom(tx.Encoded), WaitForCommit = wait, TimeoutMs = ms },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.PermissionDenied or StatusCode.FailedPrecondition)
        {
            return new SubmitResult(tx.Id, TxStatus.Rejected, 0, false, $"{e.StatusCode}: {e.Status.Detail}");
        }
        return new SubmitResult(tx.Id, r.Status, r.Height, r.Status == TxStatus.Committed && r.Succeeded,
            r.Status == TxStatus.Committed ? (r.Succeeded ? null : r.Error) : r.Reason.Length > 0 ? r.Reason : null);
    }

    public void Dispose()
    {
        _channel.Dispose();
        if (_ownsKey) _key?.Dispose();
    }
}

/// <summary>Reads current state through a node's client API.</summary>
public sealed class GrpcStateReader(Api.V1.Ledger.LedgerClient api, uint pageSize = 1000) : IStateReader
{
    public async Task<byte[]?> GetAsync(byte[] key, CancellationToken cancellationToken = default)
    {
        var r = await api.QueryStateAsync(new QueryStateRequest { Key = ByteString.CopyFrom(key) }, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return r.Found ? r.Value.ToByteArray() : null;
    }

    public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (key, entry) in ScanEntriesAsync(prefix, cancellationToken).ConfigureAwait(false))
            yield return KeyValuePair.Create(key, entry.Value);
    }

    /// <summary>Entries under <paramref name="prefix"/> with their versions, in pages of <c>ScanState</c> (each page starts after the last key).</summary>
    public async IAsyncEnumerable<KeyValuePair<byte[], Ledger.Storage.StateEntry>> ScanEntriesAsync(byte[] prefix,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var after = ByteString.Empty;
        while (true)
        {
            var page = await api.ScanStateAsync(new ScanStateRequest { Prefix = ByteString.CopyFrom(prefix), StartAfter = after, Limit = pageSize },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var e in page.Entries) yield return KeyValuePair.Create(e.Key.ToByteArray(), new Ledger.Storage.StateEntry(e.Value.ToByteArray(), e.Version));
            if (!page.More || page.Entries.Count == 0) yield break;
            after = page.Entries[^1].Key;
        }
    }
}
