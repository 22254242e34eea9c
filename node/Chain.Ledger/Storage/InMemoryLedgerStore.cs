using Chain.Accel;
using Chain.Ledger.Identity;

namespace Chain.Ledger.Storage;

/// <summary>
/// The in-memory twin of <see cref="RocksDbLedgerStore"/>, for simulations: same rules, same encoding,
/// sorted tables instead of column families, and a write that applies all operations under one lock.
/// </summary>
public sealed class InMemoryLedgerStore : LedgerStoreBase
{
    private readonly object _lock = new();
    // Columns that are scanned (state, meta) are sorted; the others are only read by key, so hashed (faster for the
    // state tree, which every commit reads and writes along each changed path).
    private readonly IDictionary<byte[], byte[]>[] _tables =
        Enum.GetValues<Column>().Select(c => c is Column.State or Column.Meta
            ? (IDictionary<byte[], byte[]>)new SortedDictionary<byte[], byte[]>(ByteComparer.Instance)
            : new Dictionary<byte[], byte[]>(ByteComparer.Instance)).ToArray();

    private readonly bool _keepBlocks;

    private InMemoryLedgerStore(LedgerLimits limits, bool keepBlocks = true) : base(limits) => _keepBlocks = keepBlocks;

    public static InMemoryLedgerStore Create(Genesis genesis, LedgerLimits? limits = null) =>
        Create(genesis.Hash, genesis.Timestamp, limits);

    public static InMemoryLedgerStore Create(Hash32 genesisHash, long genesisTimestamp, LedgerLimits? limits = null)
    {
        var store = new InMemoryLedgerStore(limits ?? LedgerLimits.Default);
        store.Initialise(genesisHash, genesisTimestamp);
        return store;
    }

    /// <summary>
    /// A store for replaying a ledger read from elsewhere (an auditor's verifier): the same rules and state, transaction
    /// index and state roots, but block bytes are not kept (<see cref="LedgerStoreBase.GetBlock"/> returns null), so
    /// memory grows with the state, not with the chain.
    /// </summary>
    public static InMemoryLedgerStore CreateReplay(Genesis genesis, LedgerLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(genesis);
        var store = new InMemoryLedgerStore(limits ?? LedgerLimits.Default, keepBlocks: false);
        store.Initialise(genesis.Hash, genesis.Timestamp);
        return store;
    }

    protected override byte[]? Read(Column column, ReadOnlySpan<byte> key)
    {
        lock (_lock) return _tables[(int)column].TryGetValue(key.ToArray(), out var v) ? v : null;
    }

    protected override IEnumerable<KeyValuePair<byte[], byte[]>> Scan(Column column, byte[] prefix, byte[]? startAfter = null)
    {
        KeyValuePair<byte[], byte[]>[] snapshot;
        lock (_lock)
        {
            snapshot = _tables[(int)column].Where(kv => kv.Key.AsSpan().StartsWith(prefix) &&
                (startAfter is null || ByteComparer.Instance.Compare(kv.Key, startAfter) > 0)).ToArray();
        }
        if (_tables[(int)column] is not SortedDictionary<byte[], byte[]>)
            Array.Sort(snapshot, (x, y) => ByteComparer.Instance.Compare(x.Key, y.Key));
        return snapshot;
    }

    protected override void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        lock (_lock)
        {
            foreach (var op in ops)
            {
                if (!_keepBlocks && op.Column == Column.Blocks) continue;
                if (op.Value is null) _tables[(int)op.Column].Remove(op.Key);
                else _tables[(int)op.Column][op.Key] = op.Value;
            }
        }
    }
}
