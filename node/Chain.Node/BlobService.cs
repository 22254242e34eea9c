using Chain.Api.V1;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Storage;
using Google.Protobuf;
using Grpc.Core;
using Status = Grpc.Core.Status;

namespace Chain.Node;

/// <summary>The off-chain blob API (proto/chain/v1/blobs.proto): content-addressed payloads the ledger records by hash.</summary>
internal sealed class BlobService(CallerIdentity callers, Lazy<RocksDbBlobStore> store, NodeMetrics metrics) : Blobs.BlobsBase
{
    public override Task<PutBlobResponse> Put(PutBlobRequest request, ServerCallContext context)
    {
        if (callers.RoleOf(context) is not (Role.Hospital or Role.Regulator))
            throw new RpcException(new Status(StatusCode.PermissionDenied, "auditors have read-only access: storing blobs is refused"));
        try
        {
            var hash = BlobStoreBase.ParseHash(request.Sha256);
            var stored = store.Value.Put(hash, request.Data.Span);
            if (stored) metrics.BlobStored(request.Data.Length);
            return Task.FromResult(new PutBlobResponse { Sha256 = hash.ToString(), Size = (ulong)request.Data.Length, AlreadyStored = !stored });
        }
        catch (BlobException e)
        {
            var code = e.Error == BlobError.Full ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument;
            throw new RpcException(new Status(code, e.Message));
        }
        catch (LedgerException e) when (e.Error == LedgerError.StoreCorrupt)
        {
            throw new RpcException(new Status(StatusCode.DataLoss, e.Message));
        }
    }

    public override Task<GetBlobResponse> Get(GetBlobRequest request, ServerCallContext context)
    {
        if (callers.RoleOf(context) is null)
            throw new RpcException(new Status(StatusCode.PermissionDenied, "the caller is not a member of this consortium"));
        try
        {
            var hash = BlobStoreBase.ParseHash(request.Sha256);
            var data = store.Value.Get(hash) ?? throw new RpcException(new Status(StatusCode.NotFound, $"this node holds no blob {hash}"));
            return Task.FromResult(new GetBlobResponse { Data = ByteString.CopyFrom(data) });
        }
        catch (BlobException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        catch (LedgerException e) when (e.Error == LedgerError.StoreCorrupt)
        {
            throw new RpcException(new Status(StatusCode.DataLoss, e.Message));
        }
    }
}
