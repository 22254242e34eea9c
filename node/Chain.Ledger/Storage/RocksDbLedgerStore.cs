using Chain.Ledger.Identity;
using RocksDbSharp;

namespace Chain.Ledger.Storage;

/// <summary>
/// The ledger store on RocksDB: one column family per <see cref="Column"/>, every commit one synced
/// write batch (the write-ahead log is fsynced before <see cref="LedgerStoreBase.Commit"/> returns).
/// </summary>
public sealed class RocksDbLedgerStore : LedgerStoreBase
{
    private static readonly string[] ColumnNames = ["blocks", "txindex", "state", "statetree", "stateroots", "meta"];

    private readonly RocksDb _db;
    private readonly ColumnFamilyHandle[] _columns;
    private readonly WriteOptions _synced = new WriteOptions().SetSync(true);
    private readonly WriteOptions _unsynced = new WriteOptions().SetSync(false);

    private RocksDbLedgerStore(RocksDb db, LedgerLimits limits) : base(limits)
    {
        _db = db;
        _columns = ColumnNames.Select(db.GetColumnFamily).ToArray();
    }

    public string Path { get; private init; } = "";

    /// <summary>Opens (creating if needed) the store in <paramref name="path"/> for <paramref name="genesis"/>.</summary>
    public static RocksDbLedgerStore Open(string path, Genesis genesis, LedgerLimits? limits = null) =>
        Open(path, genesis.Hash, genesis.Timestamp, limits);

    public static RocksDbLedgerStore Open(string path, Chain.Accel.Hash32 genesisHash, long genesisTimestamp,
        LedgerLimits? limits = null)
    {
        Directory.CreateDirectory(path);
        var options = new DbOptions()
            .SetCreateIfMissing(true)
            .SetCreateMissingColumnFamilies(true)
            .SetParanoidChecks(true)
            .IncreaseParallelism(Math.Max(2, Environment.ProcessorCount));
        var families = new ColumnFamilies();
        foreach (var name in ColumnNames) families.Add(name, new ColumnFamilyOptions());
        RocksDb db;
        try
        {
            db = RocksDb.Open(options, path, families);
        }
        catch (RocksDbException e)
        {
            throw Corrupt($"cannot open RocksDB at {path}: {e.Message}");
        }
        var store = new RocksDbLedgerStore(db, limits ?? LedgerLimits.Default) { Path = path };
        try
        {
            store.Initialise(genesisHash, genesisTimestamp);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    /// <summary>
    /// Opens an existing data directory read-only (a copy, or the directory of a running node: RocksDB's read-only mode
    /// takes no lock). Only the genesis hash and the tip record are checked here, so an auditor can open a damaged
    /// ledger and have the verifier name what is wrong; every write throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public static RocksDbLedgerStore OpenReadOnly(string path, Chain.Accel.Hash32 genesisHash, LedgerLimits? limits = null)
    {
        if (!Directory.Exists(path) || !File.Exists(System.IO.Path.Combine(path, "CURRENT")))
            throw Corrupt($"{path} is not a ledger data directory (no RocksDB database there)");
        var options = new DbOptions().SetParanoidChecks(true);
        var families = new ColumnFamilies();
        foreach (var name in ColumnNames) families.Add(name, new ColumnFamilyOptions());
        RocksDb db;
        try
        {
            db = RocksDb.OpenReadOnly(options, path, families, errIfLogFileExists: false);
        }
        catch (RocksDbException e)
        {
            throw Corrupt($"cannot open RocksDB at {path} read-only: {e.Message}");
        }
        var store = new RocksDbLedgerStore(db, limits ?? LedgerLimits.Default) { Path = path, _readOnly = true };
        try
        {
            store.InitialiseReadOnly(genesisHash);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    private bool _readOnly;

    protected override byte[]? Read(Column column, ReadOnlySpan<byte> key) => _db.Get(key.ToArray(), _columns[(int)column]);

    protected override IEnumerable<KeyValuePair<byte[], byte[]>> Scan(Column column, byte[] prefix, byte[]? startAfter = null)
    {
        using var iterator = _db.NewIterator(_columns[(int)column]);
        var after = startAfter is not null && startAfter.AsSpan().SequenceCompareTo(prefix) >= 0;
        for (iterator.Seek(after ? startAfter! : prefix); iterator.Valid(); iterator.Next())
        {
            var key = iterator.Key();
            if (!key.AsSpan().StartsWith(prefix)) yield break;
            if (after && key.AsSpan().SequenceEqual(startAfter)) continue;
            yield return KeyValuePair.Create(key, iterator.Value());
        }
    }

    protected override void Write(IReadOnlyList<StoreOp> ops, bool sync)
    {
        if (_readOnly) throw new InvalidOperationException($"the ledger at {Path} is open read-only");
        using var batch = new WriteBatch();
        foreach (var op in ops)
        {
            var cf = _columns[(int)op.Column];
            if (op.Value is null) batch.Delete(op.Key, cf);
            else batch.Put(op.Key, op.Value, cf);
        }
        _db.Write(batch, sync ? _synced : _unsynced);
    }

    /// <summary>For tests and the auditor's tamper checks: overwrite one raw entry, bypassing every rule.</summary>
    internal void RawPut(Column column, byte[] key, byte[]? value) => Write([new StoreOp(column, key, value)], sync: true);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _db.Dispose();
        base.Dispose(disposing);
    }
}
