using Chain.Accel;
using Chain.Api.V1;
using StateEntry = Chain.Ledger.Storage.StateEntry;
using Grpc.Core;

namespace Chain.Client.Sources;

/// <summary>A ledger read through one node's client API (mutual TLS). The node is not trusted: callers check what it returns.</summary>
public sealed class GrpcLedgerSource(ChainClient client, string address, bool ownsClient = true) : ILedgerSource
{
    private const uint PageSize = 2_000;

    private readonly GrpcStateReader _entries = new(client.Api, PageSize);

    public ChainClient Client => client;

    public SourceKind Kind => SourceKind.Node;

    public string Description => $"node {address}";

    public IStateReader State => client.State;

    public async Task<SourceTip> TipAsync(CancellationToken cancellationToken = default)
    {
        var s = await client.StatusAsync(cancellationToken).ConfigureAwait(false);
        if (!Hash32.TryParse(s.TipHash, out var tip) || s.StateRoot.Length != Hash32.Size)
            throw new InvalidDataException($"{Description} returned a malformed status (tip hash or state root)");
        return new SourceTip(s.Height, tip, Hash32.FromBytes(s.StateRoot.Span), s.ChainId);
    }

    public async Task<byte[]?> GetBlockBytesAsync(ulong height, CancellationToken cancellationToken = default)
    {
        if (height == 0) return null;
        try
        {
            var r = await client.Api.GetBlockAsync(new GetBlockRequest { Height = height }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return r.CommittedBlock.ToByteArray();
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<ulong?> FindTransactionAsync(Hash32 txId, CancellationToken cancellationToken = default)
    {
        try
        {
            var r = await client.Api.GetTransactionAsync(new GetTransactionRequest { TxId = txId.ToString() }, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            return r.Status == TxStatus.Committed ? r.Height : null;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    public IAsyncEnumerable<KeyValuePair<byte[], StateEntry>> ScanStateEntriesAsync(byte[] prefix, CancellationToken cancellationToken = default) =>
        _entries.ScanEntriesAsync(prefix, cancellationToken);

    /// <summary>The node's evidence records (<c>ListEvidence</c>), up to the node's maximum, newest last.</summary>
    public async Task<IReadOnlyList<string>> EvidenceAsync(CancellationToken cancellationToken = default)
    {
        var r = await client.Api.ListEvidenceAsync(new ListEvidenceRequest { Limit = 10_000 }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return [.. r.Records];
    }

    public void Dispose()
    {
        if (ownsClient) client.Dispose();
    }
}
