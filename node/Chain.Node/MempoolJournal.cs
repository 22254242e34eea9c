using System.Threading.Channels;
using Chain.Accel;
using Chain.Ledger.Storage;

namespace Chain.Node;

/// <summary>
/// Makes admission durable: a transaction is acknowledged to its client only after it is written (synced) to
/// the store's metadata under "mempool/&lt;id&gt;". Concurrent admissions share one synced write (group commit).
/// On restart the node re-admits every journaled transaction that is not yet committed, so an acknowledged
/// transaction survives a crash. Entries are removed (unsynced) when their transaction commits; a removal lost
/// in a crash is harmless, because re-admission skips committed ids.
/// </summary>
internal sealed class MempoolJournal : IDisposable
{
    internal const string Prefix = "mempool/";
    private readonly ILedgerStore _store;
    private readonly Channel<(Hash32 Id, byte[] Bytes, TaskCompletionSource Done)> _queue =
        Channel.CreateUnbounded<(Hash32, byte[], TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    public MempoolJournal(ILedgerStore store)
    {
        _store = store;
        _writer = Task.Run(WriteLoop);
    }

    public Task Append(Hash32 id, byte[] bytes)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite((id, bytes, done))) done.SetException(new ObjectDisposedException(nameof(MempoolJournal)));
        return done.Task;
    }

    public void Remove(IEnumerable<Hash32> ids)
    {
        var records = ids.Select(id => KeyValuePair.Create(Prefix + id, (byte[]?)null)).ToList();
        _store.WriteMeta(records, sync: false);
    }

    /// <summary>Every journaled transaction (id, encoded bytes).</summary>
    public IEnumerable<byte[]> Load() => _store.ScanMeta(Prefix).Select(kv => kv.Value);

    private async Task WriteLoop()
    {
        var reader = _queue.Reader;
        var batch = new List<(Hash32 Id, byte[] Bytes, TaskCompletionSource Done)>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < 4096 && reader.TryRead(out var item)) batch.Add(item);
            try
            {
                _store.WriteMeta([.. batch.Select(b => KeyValuePair.Create(Prefix + b.Id, (byte[]?)b.Bytes))], sync: true);
                foreach (var b in batch) b.Done.TrySetResult();
            }
            catch (Exception e)
            {
                foreach (var b in batch) b.Done.TrySetException(e);
            }
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(5));
    }
}
