using System.Security.Cryptography;
using Chain.Accel;
using RocksDbSharp;

namespace Chain.Ledger.Storage;

/// <summary>Why a blob was refused.</summary>
public enum BlobError
{
    /// <summary>Empty data, or a hash that is not 64 hex digits or does not match the data.</summary>
    Invalid,
    /// <summary>Data larger than the store's per-blob limit.</summary>
    TooLarge,
    /// <summary>The store would exceed its total size limit.</summary>
    Full,
}

/// <summary>A blob refused by the store, with the reason.</summary>
public sealed class BlobException(BlobError error, string message) : Exception(message)
{
    public BlobError Error { get; } = error;
}

/// <summary>Limits of a blob store: the largest blob and the total bytes it may hold.</summary>
public sealed record BlobLimits(int MaxBlobBytes = 16 << 20, long MaxTotalBytes = 1L << 30)
{
    public static BlobLimits Default { get; } = new();

    public BlobLimits Validate()
    {
        if (MaxBlobBytes is < 1 or > 16 << 20) throw new ArgumentOutOfRangeException(nameof(MaxBlobBytes), "must be 1 B to 16 MiB");
        if (MaxTotalBytes < MaxBlobBytes) throw new ArgumentOutOfRangeException(nameof(MaxTotalBytes), "must be at least MaxBlobBytes");
        return this;
    }
}

/// <summary>
/// The port for off-chain payloads the ledger refers to by hash (federated-learning updates, aggregates): a
/// content-addressed store, key = SHA-256 of the bytes. A put is durable when it returns; a blob is never replaced or
/// deleted (the same hash is the same bytes). Twins: <see cref="RocksDbBlobStore"/> and <see cref="InMemoryBlobStore"/>,
/// which share every rule through <see cref="BlobStoreBase"/>.
/// </summary>
public interface IBlobStore : IDisposable
{
    BlobLimits Limits { get; }

    /// <summary>Bytes held, over all blobs.</summary>
    long TotalBytes { get; }

    /// <summary>Stores <paramref name="data"/> under <paramref name="sha256"/> after checking the hash, the size and the
    /// quota; returns false when the blob was already stored.</summary>
    bool Put(Hash32 sha256, ReadOnlySpan<byte> data);

    /// <summary>The blob, or null; the bytes are re-hashed on the way out, so a damaged store is reported, not served.</summary>
    byte[]? Get(Hash32 sha256);
}

/// <summary>The rules both blob stores share; subclasses only read and write.</summary>
public abstract class BlobStoreBase(BlobLimits limits) : IBlobStore
{
    private readonly Lock _gate = new();

    public BlobLimits Limits { get; } = (limits ?? throw new ArgumentNullException(nameof(limits))).Validate();

    public long TotalBytes { get; protected set; }

    /// <summary>Parses a blob hash from its 64 lower- or upper-case hex digits.</summary>
    public static Hash32 ParseHash(string? hex)
    {
        if (hex is null || hex.Length != 64 || !hex.All(Uri.IsHexDigit))
            throw new BlobException(BlobError.Invalid, "a blob hash is 64 hex digits (SHA-256)");
        return Hash32.Parse(hex.ToLowerInvariant());
    }

    public bool Put(Hash32 sha256, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) throw new BlobException(BlobError.Invalid, "a blob cannot be empty");
        if (data.Length > Limits.MaxBlobBytes)
            throw new BlobException(BlobError.TooLarge, $"blob of {data.Length} bytes is over the limit of {Limits.MaxBlobBytes}");
        if (Hash32.FromBytes(SHA256.HashData(data)) != sha256)
            throw new BlobException(BlobError.Invalid, $"the data does not hash to {sha256}");
        lock (_gate)
        {
            if (Contains(sha256)) return false;
            if (TotalBytes + data.Length > Limits.MaxTotalBytes)
                throw new BlobException(BlobError.Full, $"the blob store holds {TotalBytes} of {Limits.MaxTotalBytes} bytes; {data.Length} more do not fit");
            Write(sha256, data, TotalBytes + data.Length);
            TotalBytes += data.Length;
            return true;
        }
    }

    public byte[]? Get(Hash32 sha256)
    {
        var data = Read(sha256);
        if (data is null) return null;
        if (Hash32.FromBytes(SHA256.HashData(data)) != sha256)
            throw new LedgerException(LedgerError.StoreCorrupt, $"stored blob {sha256} does not hash to its key");
        return data;
    }

    protected abstract bool Contains(Hash32 sha256);

    protected abstract byte[]? Read(Hash32 sha256);

    /// <summary>Writes the blob and the new total atomically (and durably, for a persistent store).</summary>
    protected abstract void Write(Hash32 sha256, ReadOnlySpan<byte> data, long newTotal);

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>The in-memory twin of <see cref="RocksDbBlobStore"/>.</summary>
public sealed class InMemoryBlobStore(BlobLimits? limits = null) : BlobStoreBase(limits ?? BlobLimits.Default)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Hash32, byte[]> _blobs = new();

    protected override bool Contains(Hash32 sha256) => _blobs.ContainsKey(sha256);

    protected override byte[]? Read(Hash32 sha256) => _blobs.TryGetValue(sha256, out var b) ? (byte[])b.Clone() : null;

    protected override void Write(Hash32 sha256, ReadOnlySpan<byte> data, long newTotal) => _blobs[sha256] = data.ToArray();
}

/// <summary>Blobs in their own RocksDB (a node keeps it in <c>&lt;DataDir&gt;/blobs</c>, apart from the ledger): key = the
/// 32-byte hash, plus one record of the total size, written with each blob in one synced batch.</summary>
public sealed class RocksDbBlobStore : BlobStoreBase
{
    private static readonly byte[] TotalKey = "$total"u8.ToArray();
    private readonly RocksDb _db;
    private readonly WriteOptions _synced = new WriteOptions().SetSync(true);

    private RocksDbBlobStore(RocksDb db, BlobLimits limits) : base(limits) => _db = db;

    public static RocksDbBlobStore Open(string path, BlobLimits? limits = null)
    {
        Directory.CreateDirectory(path);
        var options = new DbOptions().SetCreateIfMissing(true).SetParanoidChecks(true);
        RocksDb db;
        try
        {
            db = RocksDb.Open(options, path);
        }
        catch (RocksDbException e)
        {
            throw new LedgerException(LedgerError.StoreCorrupt, $"cannot open the blob store at {path}: {e.Message}");
        }
        var store = new RocksDbBlobStore(db, limits ?? BlobLimits.Default);
        var total = db.Get(TotalKey);
        if (total is not null)
        {
            if (total.Length != 8)
            {
                store.Dispose();
                throw new LedgerException(LedgerError.StoreCorrupt, $"the blob store at {path} has a malformed size record");
            }
            store.TotalBytes = BitConverter.ToInt64(total);
        }
        return store;
    }

    protected override bool Contains(Hash32 sha256) => _db.Get(sha256.ToArray()) is not null;

    protected override byte[]? Read(Hash32 sha256) => _db.Get(sha256.ToArray());

    protected override void Write(Hash32 sha256, ReadOnlySpan<byte> data, long newTotal)
    {
        using var batch = new WriteBatch();
        batch.Put(sha256.ToArray(), data.ToArray());
        batch.Put(TotalKey, BitConverter.GetBytes(newTotal));
        _db.Write(batch, _synced);
    }

    public override void Dispose()
    {
        _db.Dispose();
        base.Dispose();
    }
}
