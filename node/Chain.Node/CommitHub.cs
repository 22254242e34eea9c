using System.Collections.Concurrent;
using Chain.Accel;
using Chain.Ledger.Model;

namespace Chain.Node;

/// <summary>
/// Tells waiting callers about commits: per-transaction waiters (Submit with wait_for_commit) and a
/// "the chain grew" signal for block subscribers. Subscribers read blocks from the store, so a slow subscriber
/// misses nothing and holds no buffer.
/// </summary>
public sealed class CommitHub
{
    private readonly ConcurrentDictionary<Hash32, TaskCompletionSource<ulong>> _waiters = new();
    private TaskCompletionSource _grew = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the height of the block that commits <paramref name="txId"/>. Call before checking the store, to avoid a race.</summary>
    public Task<ulong> WaitForCommit(Hash32 txId) =>
        _waiters.GetOrAdd(txId, _ => new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Drops a waiter whose caller gave up (only if nobody else is waiting on the same id... they share the task, so keep it).</summary>
    public void Forget(Hash32 txId, Task<ulong> task)
    {
        if (!task.IsCompleted && _waiters.TryGetValue(txId, out var tcs) && tcs.Task == task) _waiters.TryRemove(txId, out _);
    }

    /// <summary>A task that completes when the next block commits.</summary>
    public Task NextBlock => Volatile.Read(ref _grew).Task;

    internal void Committed(Block block)
    {
        foreach (var tx in block.Transactions)
        {
            if (_waiters.TryRemove(tx.Id, out var tcs)) tcs.TrySetResult(block.Height);
        }
        var old = Interlocked.Exchange(ref _grew, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        old.TrySetResult();
    }
}
