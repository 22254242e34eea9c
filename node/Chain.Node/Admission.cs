using System.Diagnostics;
using System.Threading.Channels;
using Chain.Accel;
using Chain.Ledger;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Ledger.Validation;
using Grpc.Core;

namespace Chain.Node;

/// <summary>The result of admitting a client's transaction.</summary>
internal sealed record Admitted(Transaction Tx, ulong? CommittedAt);

/// <summary>
/// Admission of transactions into the mempool: decode strictly, check chain, sender, contract and signature
/// (rejecting early with a typed gRPC status), skip already-committed ids, apply back-pressure when the pool or
/// the client's share is full, journal durably before acknowledging, and gossip to peers. Transactions gossiped by
/// peers go through the same checks but are not journaled here (their origin node journaled them).
/// </summary>
internal sealed class Admission(
    TransactionValidator validator,
    Mempool mempool,
    ILedgerStore store,
    MempoolJournal journal,
    NodeMetrics metrics,
    LedgerLimits limits,
    Action wake) : IDisposable
{
    private readonly Channel<byte[]> _gossip = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(100_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });

    /// <summary>Admits a client transaction; throws <see cref="RpcException"/> with the reason when refused.</summary>
    public async Task<Admitted> SubmitAsync(byte[] bytes)
    {
        var check = validator.Check(bytes, limits, out var tx);
        if (!check.IsAccepted)
        {
            metrics.Rejected.WithLabels(check.Error!.Value.ToString()).Inc();
            throw new RpcException(new Status(StatusOf(check.Error!.Value), check.Message));
        }
        if (store.GetTxLocation(tx!.Id) is { } location) return new Admitted(tx, location.Height);
        switch (mempool.TryAdd(tx, Stopwatch.GetTimestamp(), local: true))
        {
            case AdmitOutcome.Full:
                metrics.Rejected.WithLabels("MempoolFull").Inc();
                throw new RpcException(new Status(StatusCode.ResourceExhausted, "the mempool is full; retry later"));
            case AdmitOutcome.ClientOverShare:
                metrics.Rejected.WithLabels("ClientOverShare").Inc();
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    "this client already has its share of the mempool pending; retry later"));
            case AdmitOutcome.AlreadyPending:
                return new Admitted(tx, null);
        }
        try
        {
            await journal.Append(tx.Id, bytes).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LedgerException or ObjectDisposedException or InvalidOperationException)
        {
            mempool.Remove([tx.Id]);
            throw new RpcException(new Status(StatusCode.Unavailable, "the node could not store the transaction; retry"));
        }
        _gossip.Writer.TryWrite(bytes);
        wake();
        return new Admitted(tx, null);
    }

    /// <summary>Transactions a peer gossiped: admitted when valid, silently skipped otherwise (counted).</summary>
    public void AdmitGossip(IEnumerable<byte[]> batch)
    {
        var fresh = new List<Transaction>();
        foreach (var bytes in batch)
        {
            if (bytes.Length > limits.MaxTransactionBytes) continue;
            Transaction tx;
            try
            {
                tx = Transaction.Decode(bytes, limits);
            }
            catch (LedgerException)
            {
                metrics.Rejected.WithLabels("GossipMalformed").Inc();
                continue;
            }
            if (mempool.Contains(tx.Id) || store.GetTxLocation(tx.Id) is not null) continue;
            fresh.Add(tx);
        }
        if (fresh.Count == 0) return;
        // The batch's signatures are checked together (on the accelerator; already-verified ones are skipped).
        var verdicts = validator.CheckAll(fresh);
        var added = false;
        for (var i = 0; i < fresh.Count; i++)
        {
            if (!verdicts[i].IsAccepted)
            {
                metrics.Rejected.WithLabels("Gossip" + verdicts[i].Error).Inc();
                continue;
            }
            added |= mempool.TryAdd(fresh[i], Stopwatch.GetTimestamp(), local: false) == AdmitOutcome.Admitted;
        }
        if (added) wake();
    }

    /// <summary>Re-admits journaled transactions after a restart (already checked once; checked again anyway).</summary>
    public int Recover()
    {
        var count = 0;
        var stale = new List<Hash32>();
        foreach (var bytes in journal.Load())
        {
            if (validator.Check(bytes, limits, out var tx).IsAccepted && store.GetTxLocation(tx!.Id) is null)
            {
                if (mempool.TryAdd(tx, Stopwatch.GetTimestamp(), local: true) == AdmitOutcome.Admitted)
                {
                    count++;
                    _gossip.Writer.TryWrite(bytes);
                }
            }
            else if (tx is not null)
            {
                stale.Add(tx.Id);
            }
        }
        if (stale.Count > 0) journal.Remove(stale);
        return count;
    }

    /// <summary>Sends admitted transactions to every peer in batches, until cancelled.</summary>
    public async Task GossipLoop(PeerNetwork network, CancellationToken ct)
    {
        var reader = _gossip.Reader;
        var batch = new List<byte[]>(512);
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < 512 && reader.TryRead(out var tx)) batch.Add(tx);
                network.Gossip(batch);
                if (batch.Count < 512) await Task.Delay(2, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Every <paramref name="period"/>, gossips again this node's own pending transactions older than the period:
    /// a gossip frame lost with a broken link (a partition, a peer's restart) is not resent by the transport, and
    /// only the primary proposes, so without this a transaction acknowledged here could wait forever.
    /// </summary>
    public async Task RegossipLoop(TimeSpan period, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var cutoff = Stopwatch.GetTimestamp() - (long)(period.TotalSeconds * Stopwatch.Frequency);
                foreach (var tx in mempool.LocalOlderThan(cutoff, 5_000)) _gossip.Writer.TryWrite(tx.Encoded.ToArray());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal static StatusCode StatusOf(LedgerError error) => error switch
    {
        LedgerError.Malformed or LedgerError.TooLarge => StatusCode.InvalidArgument,
        LedgerError.BadSignature or LedgerError.UnknownSender or LedgerError.WrongChain => StatusCode.PermissionDenied,
        LedgerError.UnknownContract => StatusCode.FailedPrecondition,
        _ => StatusCode.InvalidArgument,
    };

    public void Dispose() => _gossip.Writer.TryComplete();
}
