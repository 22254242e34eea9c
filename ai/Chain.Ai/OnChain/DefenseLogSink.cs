using System.Text;
using Chain.Api.V1;
using Chain.Chaincode.Contracts;
using Chain.Client;
using Chain.Ledger.Model;
using Grpc.Core;

namespace Chain.Ai.OnChain;

/// <summary>What became of one attempt to put a batch on chain.</summary>
public enum BatchOutcome
{
    /// <summary>Committed, and the contract accepted every action.</summary>
    Committed,

    /// <summary>Refused for good (by admission or by the contract): retrying the same batch cannot help.</summary>
    Refused,

    /// <summary>Not known to be committed (node slow, unreachable, busy, or the wait ended): retry the same batch.</summary>
    Transient,
}

/// <summary>The result of one submission attempt: the outcome, why (when not committed), and where it committed.</summary>
public sealed record BatchResult(BatchOutcome Outcome, string? Error = null, ulong Height = 0, string? TxId = null)
{
    public static BatchResult Transient(string error) => new(BatchOutcome.Transient, error);
}

/// <summary>
/// A batch of actions on its way to the defense-action log: the actions as the contract takes them and their JSON (the
/// one argument of <c>record</c>). A sink may keep what it needs across attempts in <see cref="SinkState"/> (the chain
/// sink keeps the signed transaction there, so a retry resubmits the same transaction id and cannot log twice).
/// </summary>
public sealed class DefenseLogBatch
{
    internal DefenseLogBatch(long sequence, IReadOnlyList<DefenseAction> actions, string json)
    {
        Sequence = sequence;
        Actions = actions;
        Json = json;
    }

    /// <summary>1 for the logger's first batch, then 2, 3...</summary>
    public long Sequence { get; }

    public IReadOnlyList<DefenseAction> Actions { get; }

    public string Json { get; }

    /// <summary>Attempts made so far, counting the one in progress (1 during the first).</summary>
    public int Attempts { get; internal set; }

    public object? SinkState { get; set; }
}

/// <summary>Where <see cref="ActionLogger"/> sends its batches: the ledger (<see cref="ChainDefenseLogSink"/>), or a test double.</summary>
public interface IDefenseLogSink
{
    /// <summary>
    /// One attempt to put <paramref name="batch"/> on chain. Called again with the same batch after
    /// <see cref="BatchOutcome.Transient"/>. An exception counts as transient.
    /// </summary>
    Task<BatchResult> SubmitAsync(DefenseLogBatch batch, CancellationToken cancellationToken);
}

/// <summary>
/// Submits batches to the defense-action log contract (<c>defense.record(batchJson)</c>) through <see cref="ChainClient"/>s
/// of one hospital member (the same key). The transaction is signed once per batch and resubmitted unchanged
/// on retries: a node answers a transaction it already holds with its status, so a retry after a lost answer does not log
/// twice. With several clients (connections to different nodes), a batch's attempt k goes to client (p + k - 1) mod n,
/// where p is the client that last committed a batch: a slow or unreachable node is left after one attempt, and later
/// batches start where the last one went through. Each attempt is bounded by <c>attemptTimeout</c> (default 15 s) even when
/// the node does not answer at all.
/// </summary>
public sealed class ChainDefenseLogSink : IDefenseLogSink
{
    private readonly ChainClient[] _clients;
    private readonly TimeSpan _timeout;
    private int _preferred;

    public ChainDefenseLogSink(ChainClient client, TimeSpan? attemptTimeout = null)
        : this([client ?? throw new ArgumentNullException(nameof(client))], attemptTimeout)
    {
    }

    /// <param name="clients">One member's connections (same signing key), to one or more nodes.</param>
    /// <param name="attemptTimeout">The bound on one attempt: more than 0, at most 10 minutes.</param>
    public ChainDefenseLogSink(IReadOnlyList<ChainClient> clients, TimeSpan? attemptTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(clients);
        if (clients.Count == 0 || clients.Any(c => c is null)) throw new ArgumentException("give at least one client, none null", nameof(clients));
        _clients = [.. clients];
        _timeout = attemptTimeout ?? TimeSpan.FromSeconds(15);
        if (_timeout <= TimeSpan.Zero || _timeout > TimeSpan.FromMinutes(10))
            throw new ArgumentOutOfRangeException(nameof(attemptTimeout), _timeout, "the attempt timeout must be more than 0 and at most 10 minutes");
    }

    public TimeSpan AttemptTimeout => _timeout;

    public async Task<BatchResult> SubmitAsync(DefenseLogBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(_timeout);
        try
        {
            var index = (Volatile.Read(ref _preferred) + Math.Max(1, batch.Attempts) - 1) % _clients.Length;
            if (batch.SinkState is not Transaction tx)
            {
                // Signed by this attempt's client: its first signature asks its node for the chain id, which a frozen node never gives.
                tx = await _clients[index].SignAsync(DefenseLogContract.ContractId, "record", [Encoding.UTF8.GetBytes(batch.Json)], attempt.Token)
                    .ConfigureAwait(false);
                batch.SinkState = tx;
            }
            // The node waits a little less than the attempt, so it usually answers PENDING rather than being cut off.
            var serverWait = _timeout > TimeSpan.FromSeconds(2) ? _timeout - TimeSpan.FromSeconds(1) : _timeout;
            var r = await _clients[index].SubmitAsync(tx, true, serverWait, attempt.Token).ConfigureAwait(false);
            if (r.Status == TxStatus.Committed) Volatile.Write(ref _preferred, index);
            return r.Status switch
            {
                TxStatus.Committed when r.Succeeded => new BatchResult(BatchOutcome.Committed, null, r.Height, r.TxId.ToString()),
                TxStatus.Committed => new BatchResult(BatchOutcome.Refused, $"the contract refused the batch: {r.Error}", r.Height, r.TxId.ToString()),
                TxStatus.Rejected => new BatchResult(BatchOutcome.Refused, $"the node rejected the batch: {r.Error}", 0, r.TxId.ToString()),
                _ => BatchResult.Transient($"not committed within {_timeout.TotalSeconds:0.#} s ({r.Status}{(r.Error is null ? "" : ": " + r.Error)})"),
            };
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            return BatchResult.Transient($"{e.StatusCode}: {e.Status.Detail}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return BatchResult.Transient($"no answer within {_timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when ((e is HttpRequestException or IOException) && !cancellationToken.IsCancellationRequested)
        {
            return BatchResult.Transient($"{e.GetType().Name}: {e.Message}");
        }
    }
}
