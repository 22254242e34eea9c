using Chain.Accel;
using Chain.Ledger.Model;

namespace Chain.Node;

/// <summary>What the mempool did with a transaction.</summary>
public enum AdmitOutcome
{
    Admitted,
    /// <summary>Already waiting in the mempool (idempotent resubmission).</summary>
    AlreadyPending,
    /// <summary>The pool is at capacity: back-pressure.</summary>
    Full,
    /// <summary>This client already holds its share of the pool: back-pressure for it alone.</summary>
    ClientOverShare,
}

/// <summary>A transaction waiting to be ordered, with when it arrived (Stopwatch ticks) and whether a client of this node submitted it.</summary>
public sealed record PendingTx(Transaction Tx, long ArrivedAt, bool Local);

/// <summary>
/// The bounded pool of admitted transactions not yet committed. De-duplicates by transaction id; each client
/// key has its own queue and a cap (<see cref="MempoolOptions.PerClientCapacity"/>), and batches are taken
/// round-robin over clients so one busy client cannot starve the others. Signature checks happen before
/// <see cref="TryAdd"/> (admission), never here. Thread-safe.
/// </summary>
public sealed class Mempool(MempoolOptions options)
{
    private readonly object _lock = new();
    private readonly Dictionary<Hash32, LinkedListNode<PendingTx>> _byId = new();
    private readonly Dictionary<PublicKey, LinkedList<PendingTx>> _byClient = new();
    private readonly List<PublicKey> _rotation = [];
    private int _next;

    public int Count
    {
        get
        {
            lock (_lock) return _byId.Count;
        }
    }

    public bool Contains(Hash32 id)
    {
        lock (_lock) return _byId.ContainsKey(id);
    }

    /// <summary>The pending transaction with this id, if any (used to skip re-verifying a signature already checked).</summary>
    public PendingTx? Get(Hash32 id)
    {
        lock (_lock) return _byId.TryGetValue(id, out var node) ? node.Value : null;
    }

    public AdmitOutcome TryAdd(Transaction tx, long arrivedAt, bool local)
    {
        lock (_lock)
        {
            if (_byId.ContainsKey(tx.Id)) return AdmitOutcome.AlreadyPending;
            if (_byId.Count >= options.Capacity) return AdmitOutcome.Full;
            if (!_byClient.TryGetValue(tx.Sender, out var queue))
            {
                queue = new LinkedList<PendingTx>();
                _byClient[tx.Sender] = queue;
                _rotation.Add(tx.Sender);
            }
            if (queue.Count >= options.PerClientCapacity) return AdmitOutcome.ClientOverShare;
            _byId[tx.Id] = queue.AddLast(new PendingTx(tx, arrivedAt, local));
            return AdmitOutcome.Admitted;
        }
    }

    /// <summary>
    /// Up to <paramref name="max"/> transactions, oldest first within each client and round-robin across clients,
    /// skipping those <paramref name="exclude"/> names (already in an uncommitted block). Leaves them in the pool.
    /// </summary>
    public List<Transaction> TakeBatch(int max, IReadOnlySet<Hash32> exclude)
    {
        var batch = new List<Transaction>(Math.Min(max, 1024));
        lock (_lock)
        {
            if (_rotation.Count == 0) return batch;
            var cursors = new LinkedListNode<PendingTx>?[_rotation.Count];
            for (var i = 0; i < _rotation.Count; i++) cursors[i] = _byClient[_rotation[i]].First;
            var live = _rotation.Count;
            var start = _next++ % _rotation.Count;
            while (batch.Count < max && live > 0)
            {
                live = 0;
                for (var k = 0; k < cursors.Length && batch.Count < max; k++)
                {
                    var i = (start + k) % cursors.Length;
                    var node = cursors[i];
                    while (node is not null && exclude.Contains(node.Value.Tx.Id)) node = node.Next;
                    if (node is null)
                    {
                        cursors[i] = null;
                        continue;
                    }
                    batch.Add(node.Value.Tx);
                    cursors[i] = node.Next;
                    live++;
                }
            }
        }
        return batch;
    }

    /// <summary>
    /// Up to <paramref name="max"/> transactions this node's own clients submitted that arrived before
    /// <paramref name="arrivedBefore"/> (Stopwatch ticks) and are still pending, oldest first per client.
    /// </summary>
    public List<Transaction> LocalOlderThan(long arrivedBefore, int max)
    {
        var list = new List<Transaction>();
        lock (_lock)
        {
            foreach (var queue in _byClient.Values)
            {
                for (var node = queue.First; node is not null && list.Count < max; node = node.Next)
                {
                    if (node.Value.ArrivedAt >= arrivedBefore) break;
                    if (node.Value.Local) list.Add(node.Value.Tx);
                }
            }
        }
        return list;
    }

    /// <summary>Removes committed (or finally rejected) transactions; returns the ones that were pending.</summary>
    public List<PendingTx> Remove(IEnumerable<Hash32> ids)
    {
        var removed = new List<PendingTx>();
        lock (_lock)
        {
            foreach (var id in ids)
            {
                if (!_byId.Remove(id, out var node)) continue;
                var queue = node.List!;
                queue.Remove(node);
                removed.Add(node.Value);
                if (queue.Count == 0)
                {
                    _byClient.Remove(node.Value.Tx.Sender);
                    _rotation.Remove(node.Value.Tx.Sender);
                }
            }
        }
        return removed;
    }
}
