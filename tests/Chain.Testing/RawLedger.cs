using System.Buffers.Binary;
using RocksDbSharp;

namespace Chain.Testing;

/// <summary>A (closed) ledger directory opened with RocksDB directly, as an attacker with disk access would: for tamper tests.</summary>
public static class RawLedger
{
    /// <summary>The store's column families (RocksDbLedgerStore).</summary>
    public static readonly IReadOnlyList<string> Columns = ["blocks", "txindex", "state", "statetree", "stateroots", "meta"];

    /// <summary>Opens <paramref name="path"/> and hands the database and a column lookup to <paramref name="change"/>.</summary>
    public static void Tamper(string path, Action<RocksDb, Func<string, ColumnFamilyHandle>> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var families = new ColumnFamilies();
        foreach (var name in Columns) families.Add(name, new ColumnFamilyOptions());
        using var db = RocksDb.Open(new DbOptions(), path, families);
        change(db, db.GetColumnFamily);
    }

    /// <summary>The key of block <paramref name="height"/> in the "blocks" column (8 bytes, big-endian).</summary>
    public static byte[] HeightKey(ulong height)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(key, height);
        return key;
    }
}
