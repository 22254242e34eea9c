using Chain.Accel;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Consensus;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Google.Protobuf;
using Grpc.Core;
using Status = Grpc.Core.Status;

namespace Chain.Node;

/// <summary>Who is calling, from their mutual-TLS certificate, checked against the genesis.</summary>
internal sealed class CallerIdentity(MutualTls tls, Genesis genesis)
{
    public TlsIdentity? Of(ServerCallContext context) => tls.Identify(context.GetHttpContext().Connection.ClientCertificate);

    /// <summary>The validator a peer certificate belongs to: common name "node-&lt;id&gt;" issued by that validator's organisation's CA.</summary>
    public ReplicaId? Node(ServerCallContext context)
    {
        var id = Of(context);
        if (id is null || !id.CommonName.StartsWith("node-", StringComparison.Ordinal) ||
            !ushort.TryParse(id.CommonName.AsSpan(5), out var n) || !genesis.Validators.TryGet(n, out var v) ||
            v.Organisation != id.Organisation)
        {
            return null;
        }
        return new ReplicaId(n);
    }

    /// <summary>The organisation's role, for a caller whose CA belongs to a genesis organisation.</summary>
    public Role? RoleOf(ServerCallContext context)
    {
        var id = Of(context);
        return id is null ? null : genesis.Organisations.FirstOrDefault(o => o.Id == id.Organisation)?.Role;
    }
}

/// <summary>The peer API: consensus frames and gossip in, committed blocks out for state transfer.</summary>
internal sealed class PeerService(CallerIdentity callers, Func<Driver> driver, Admission admission, ILedgerStore store,
    ReplicaId self, int maxConsensusBytes, PeerNetwork network) : Peer.PeerBase
{
    private const int MaxBlocksPerCall = 1024;

    public override async Task<PeerAck> Stream(IAsyncStreamReader<PeerFrame> requestStream, ServerCallContext context)
    {
        var from = callers.Node(context);
        if (from is not { } peer || peer == self)
            throw new RpcException(new Status(StatusCode.PermissionDenied, "the caller is not another validator of this consortium"));
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            var frame = requestStream.Current;
            network.Heard(peer.Value);
            switch (frame.BodyCase)
            {
                case PeerFrame.BodyOneofCase.Consensus:
                    if (frame.Consensus.Length <= maxConsensusBytes) driver().Post(new PeerItem(peer, frame.Consensus.ToByteArray()));
                    break;
                case PeerFrame.BodyOneofCase.Transactions:
                    admission.AdmitGossip(frame.Transactions.Transactions.Select(t => t.ToByteArray()));
                    break;
            }
        }
        return new PeerAck();
    }

    public override async Task GetBlocks(BlockRangeRequest request, IServerStreamWriter<BlockBytes> responseStream, ServerCallContext context)
    {
        if (callers.Node(context) is null)
            throw new RpcException(new Status(StatusCode.PermissionDenied, "the caller is not a validator of this consortium"));
        if (request.From == 0 || request.To < request.From)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "need 1 <= from <= to"));
        var to = Math.Min(Math.Min(request.To, store.Height), request.From + MaxBlocksPerCall - 1);
        for (var h = request.From; h <= to && !context.CancellationToken.IsCancellationRequested; h++)
        {
            var bytes = store.GetBlockBytes(h);
            if (bytes is null) break;
            await responseStream.WriteAsync(new BlockBytes { Height = h, CommittedBlock = ByteString.CopyFrom(bytes) }).ConfigureAwait(false);
        }
    }
}

/// <summary>The client API (proto/chain/v1/ledger.proto).</summary>
internal sealed class LedgerService(CallerIdentity callers, Admission admission, ILedgerStore store, Mempool mempool,
    CommitHub hub, Outcomes outcomes, Func<Driver> driver, Func<int> peersConnected, Genesis genesis, ReplicaId self) : Api.V1.Ledger.LedgerBase
{
    public override async Task<SubmitResponse> Submit(SubmitRequest request, ServerCallContext context)
    {
        if (callers.RoleOf(context) is not (Role.Hospital or Role.Regulator))
            throw new RpcException(new Status(StatusCode.PermissionDenied, "auditors have read-only access: submitting is refused"));
        if (request.Transaction.IsEmpty) throw new RpcException(new Status(StatusCode.InvalidArgument, "transaction is empty"));
        var bytes = request.Transaction.ToByteArray();
        var admitted = await admission.SubmitAsync(bytes).ConfigureAwait(false);
        var id = admitted.Tx.Id;
        if (admitted.CommittedAt is { } at) return Committed(id, at);
        if (!request.WaitForCommit) return new SubmitResponse { TxId = id.ToString(), Status = TxStatus.Pending };
        // Register first, then look: a commit between the two is seen by one or the other.
        var waiter = hub.WaitForCommit(id);
        if (store.GetTxLocation(id) is { } done) return Committed(id, done.Height);
        var timeout = TimeSpan.FromMilliseconds(request.TimeoutMs == 0 ? 10_000 : Math.Min(request.TimeoutMs, 60_000u));
        try
        {
            var height = await waiter.WaitAsync(timeout, context.CancellationToken).ConfigureAwait(false);
            return Committed(id, height);
        }
        catch (TimeoutException)
        {
            hub.Forget(id, waiter);
            return store.GetTxLocation(id) is { } loc ? Committed(id, loc.Height)
                : new SubmitResponse { TxId = id.ToString(), Status = TxStatus.Pending };
        }
    }

    private SubmitResponse Committed(Hash32 id, ulong height)
    {
        var response = new SubmitResponse { TxId = id.ToString(), Status = TxStatus.Committed, Height = height };
        if (store.GetTxLocation(id) is { } loc && outcomes.Of(loc.Height, loc.Index) is { } outcome)
        {
            response.Succeeded = outcome.Success;
            response.Error = outcome.Error ?? "";
        }
        return response;
    }

    public override Task<GetBlockResponse> GetBlock(GetBlockRequest request, ServerCallContext context)
    {
        var height = request.Height == 0 ? store.Height : request.Height;
        var bytes = height == 0 ? null : store.GetBlockBytes(height);
        if (bytes is null) throw new RpcException(new Status(StatusCode.NotFound, $"no block at height {request.Height} (tip {store.Height})"));
        var block = CommittedBlock.Decode(bytes);
        return Task.FromResult(new GetBlockResponse { Height = height, Hash = block.Block.Hash.ToString(), CommittedBlock = ByteString.CopyFrom(bytes) });
    }

    public override Task<GetTransactionResponse> GetTransaction(GetTransactionRequest request, ServerCallContext context)
    {
        if (!Hash32.TryParse(request.TxId, out var id))
            throw new RpcException(new Status(StatusCode.InvalidArgument, "tx_id must be 64 hex characters"));
        if (store.GetTxLocation(id) is not { } loc)
        {
            if (mempool.Get(id) is { } pending)
                return Task.FromResult(new GetTransactionResponse { Status = TxStatus.Pending, Transaction = ByteString.CopyFrom(pending.Tx.Encoded) });
            throw new RpcException(new Status(StatusCode.NotFound, $"transaction {id.Short} is neither committed nor pending here"));
        }
        var committed = store.GetBlock(loc.Height)!;
        var proof = committed.Block.ProveTransaction(loc.Index);
        var response = new GetTransactionResponse
        {
            Status = TxStatus.Committed,
            Transaction = ByteString.CopyFrom(committed.Block.Transactions[loc.Index].Encoded),
            Height = loc.Height,
            Proof = new Api.V1.MerkleProof { Index = (uint)proof.Index, LeafCount = (uint)proof.LeafCount },
            BlockHeader = ByteString.CopyFrom(committed.Block.Header.Encode()),
            CommitCertificate = ByteString.CopyFrom(committed.Certificate.Encode()),
        };
        if (outcomes.Of(loc.Height, loc.Index) is { } outcome)
        {
            response.Succeeded = outcome.Success;
            response.Error = outcome.Error ?? "";
            response.Events.AddRange(outcome.Events.Select(ToEvent));
        }
        response.Proof.Siblings.AddRange(proof.Siblings.Select(s => ByteString.CopyFrom(s.ToArray())));
        return Task.FromResult(response);
    }

    public override Task<QueryStateResponse> QueryState(QueryStateRequest request, ServerCallContext context)
    {
        if (request.Key.IsEmpty || request.Key.Length > LedgerLimits.Default.MaxStateKeyBytes)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"key must be 1-{LedgerLimits.Default.MaxStateKeyBytes} bytes"));
        var key = request.Key.ToByteArray();
        // Value, proof, height and root from one committed state (a block committing meanwhile cannot mix them).
        var read = store.ReadState(key);
        var entry = read.Entry;
        return Task.FromResult(new QueryStateResponse
        {
            Found = entry is not null,
            Value = entry is null ? ByteString.Empty : ByteString.CopyFrom(entry.Value),
            Version = entry?.Version ?? 0,
            Height = read.Height,
            StateRoot = ByteString.CopyFrom(read.StateRoot.ToArray()),
            Proof = ByteString.CopyFrom(read.Proof.Encode()),
        });
    }

    private const int DefaultScanPage = 500, MaxScanPage = 5_000;

    public override Task<ScanStateResponse> ScanState(ScanStateRequest request, ServerCallContext context)
    {
        var maxKey = LedgerLimits.Default.MaxStateKeyBytes;
        if (request.Prefix.Length > maxKey || request.StartAfter.Length > maxKey)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"prefix and start_after are at most {maxKey} bytes"));
        var limit = request.Limit == 0 ? DefaultScanPage : (int)Math.Min(request.Limit, MaxScanPage);
        var prefix = request.Prefix.ToByteArray();
        var after = request.StartAfter.ToByteArray();
        var response = new ScanStateResponse { Height = store.Height };
        foreach (var (key, entry) in store.ScanState(prefix, after))
        {
            if (response.Entries.Count == limit)
            {
                response.More = true;
                break;
            }
            response.Entries.Add(new Api.V1.StateEntry { Key = ByteString.CopyFrom(key), Value = ByteString.CopyFrom(entry.Value), Version = entry.Version });
        }
        return Task.FromResult(response);
    }

    public override async Task Subscribe(SubscribeRequest request, IServerStreamWriter<BlockEvent> responseStream, ServerCallContext context)
    {
        var next = request.FromHeight == 0 ? store.Height + 1 : request.FromHeight;
        var ct = context.CancellationToken;
        while (!ct.IsCancellationRequested)
        {
            var grew = hub.NextBlock;
            while (next <= store.Height && !ct.IsCancellationRequested)
            {
                var committed = store.GetBlock(next)!;
                await responseStream.WriteAsync(ToEvent(committed, store.GetStateRoot(next)), ct).ConfigureAwait(false);
                next++;
            }
            try
            {
                await grew.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static Api.V1.ContractEvent ToEvent(Chaincode.ContractEvent e) => new()
    {
        TxId = e.TxId.ToString(),
        Contract = e.Contract,
        Name = e.Name,
        Data = ByteString.CopyFrom(e.Data),
    };

    private BlockEvent ToEvent(CommittedBlock committed, Hash32? stateRoot)
    {
        var b = committed.Block;
        var ev = new BlockEvent
        {
            Height = b.Height,
            Hash = b.Hash.ToString(),
            Timestamp = b.Header.Timestamp,
            Proposer = b.Header.Proposer,
            View = b.Header.View,
            StateRoot = ByteString.CopyFrom((stateRoot ?? Hash32.Zero).ToArray()),
        };
        ev.TxIds.AddRange(b.Transactions.Select(t => t.Id.ToString()));
        var results = outcomes.Of(b.Height);
        ev.Events.AddRange(results.SelectMany(o => o.Events).Select(ToEvent));
        ev.Failed.AddRange(results.Where(o => !o.Success).Select(o => $"{o.TxId}: {o.Error}"));
        return ev;
    }

    private const int DefaultEvidence = 1_000, MaxEvidence = 10_000;

    public override Task<ListEvidenceResponse> ListEvidence(ListEvidenceRequest request, ServerCallContext context)
    {
        var limit = request.Limit == 0 ? DefaultEvidence : (int)Math.Min(request.Limit, MaxEvidence);
        // Keep only the newest records (bounded memory however many there are).
        var newest = new Queue<string>(Math.Min(limit, 64));
        var truncated = false;
        foreach (var (_, value) in store.ScanMeta("evidence/"))
        {
            if (newest.Count == limit)
            {
                newest.Dequeue();
                truncated = true;
            }
            newest.Enqueue(System.Text.Encoding.UTF8.GetString(value));
        }
        var response = new ListEvidenceResponse { Truncated = truncated };
        response.Records.AddRange(newest);
        return Task.FromResult(response);
    }

    public override Task<NodeStatus> GetStatus(StatusRequest request, ServerCallContext context)
    {
        var d = driver();
        var status = d.Status;
        return Task.FromResult(new NodeStatus
        {
            ChainId = genesis.ChainId,
            NodeId = self.Value,
            Height = store.Height,
            TipHash = store.TipHash.ToString(),
            View = status?.View.Value ?? 0,
            Primary = status?.Primary.Value ?? 0,
            InViewChange = status?.InViewChange ?? false,
            MempoolSize = (uint)mempool.Count,
            PeersConnected = (uint)peersConnected(),
            StateRoot = ByteString.CopyFrom(store.StateRoot.ToArray()),
            StableCheckpoint = status?.StableCheckpoint.Value ?? 0,
            ViewChanges = (ulong)d.ViewChanges,
        });
    }
}
