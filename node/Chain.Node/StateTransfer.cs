using Chain.Accel;
using Chain.Consensus;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Grpc.Core;

namespace Chain.Node;

/// <summary>
/// Catches a lagging node up: fetches committed blocks from peers (one peer at a time, moving to the next on any
/// failure), verifies each one's commit certificate against the genesis validators and its link to the block
/// before, and hands verified runs of blocks to the driver, which executes and stores them. Never trusts a peer:
/// a block that fails verification ends that peer's turn.
/// </summary>
internal sealed class StateTransfer(PeerNetwork network, ValidatorSet validators, ILedgerStore store, Action<DriverItem> post,
    ILogger logger) : IDisposable
{
    private const int ChunkBlocks = 256;
    private readonly CancellationTokenSource _stop = new();

    public void Start(StateTransferNeeded request) => _ = Task.Run(() => RunAsync(request, _stop.Token));

    private async Task RunAsync(StateTransferNeeded request, CancellationToken ct)
    {
        string? error = null;
        try
        {
            // Ask the peers consensus named first, then everybody else.
            var peers = request.Peers.Select(p => p.Value).Concat(network.PeerIds).Distinct().ToList();
            var next = store.Height + 1;
            var prev = store.TipHash;
            var target = request.Target.Value;
            foreach (var peer in peers)
            {
                try
                {
                    while (next <= target && !ct.IsCancellationRequested)
                    {
                        var to = Math.Min(target, next + ChunkBlocks - 1);
                        var chunk = new List<CommittedBlock>();
                        await foreach (var item in network.GetBlocks(peer, next, to, ct).ConfigureAwait(false))
                        {
                            var block = Verify(item.CommittedBlock.Span, next, prev);
                            chunk.Add(block);
                            prev = block.Block.Hash;
                            next++;
                        }
                        if (chunk.Count == 0) break;
                        post(new TransferredItem(chunk));
                    }
                }
                catch (Exception e) when (e is RpcException or LedgerException or IOException or InvalidDataException)
                {
                    logger.LogWarning("state transfer from peer {Peer} failed at height {Height}: {Reason}", peer, next, e.Message);
                    error = e.Message;
                }
                if (next > target) break;
            }
            if (next <= target) error ??= $"no peer supplied blocks {next}..{target}";
            else error = null;
        }
        catch (OperationCanceledException)
        {
            error = "stopped";
        }
        post(new TransferEndedItem(request.Target, error));
    }

    private CommittedBlock Verify(ReadOnlySpan<byte> bytes, ulong height, Hash32 previous)
    {
        var block = CommittedBlock.Decode(bytes, LedgerLimits.Default);
        if (block.Height != height) throw new InvalidDataException($"peer sent height {block.Height}, expected {height}");
        if (block.Block.Header.PreviousHash != previous) throw new InvalidDataException($"block {height} does not link to {previous.Short}");
        var body = block.Block.CheckBody();
        if (body is not null) throw new InvalidDataException($"block {height}: {body}");
        var problem = block.Certificate.Check(block.Block.Hash, height, validators);
        if (problem is not null) throw new InvalidDataException($"block {height} certificate: {problem}");
        return block;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
