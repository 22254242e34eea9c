using System.Security.Cryptography;
using Chain.Accel;
using Chain.Ledger.Storage;

namespace Chain.Ledger.Tests.Storage;

/// <summary>The off-chain blob store: both twins obey the same rules; the RocksDB one keeps blobs and its size record across reopening.</summary>
public sealed class BlobStoreTests
{
    private static Hash32 Sha(byte[] data) => Hash32.FromBytes(SHA256.HashData(data));

    private static IBlobStore Open(string kind, TempDir dir, BlobLimits? limits = null) => kind switch
    {
        "rocksdb" => RocksDbBlobStore.Open(dir.Path, limits),
        "memory" => new InMemoryBlobStore(limits),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [InlineData("rocksdb")]
    [InlineData("memory")]
    public void A_blob_is_stored_once_under_its_hash_and_read_back(string kind)
    {
        using var dir = new TempDir();
        using var store = Open(kind, dir);
        var data = "update of hospital-a, round 3"u8.ToArray();
        Assert.Null(store.Get(Sha(data)));
        Assert.True(store.Put(Sha(data), data));
        Assert.False(store.Put(Sha(data), data));
        Assert.Equal(data, store.Get(Sha(data)));
        Assert.Equal(data.Length, store.TotalBytes);
    }

    [Theory]
    [InlineData("rocksdb")]
    [InlineData("memory")]
    public void Wrong_hashes_empty_oversized_and_over_quota_blobs_are_refused_with_their_reason(string kind)
    {
        using var dir = new TempDir();
        using var store = Open(kind, dir, new BlobLimits(MaxBlobBytes: 100, MaxTotalBytes: 150));
        var data = new byte[80];
        data[0] = 1;
        Assert.Equal(BlobError.Invalid, Assert.Throws<BlobException>(() => store.Put(Sha([1, 2, 3]), data)).Error);
        Assert.Equal(BlobError.Invalid, Assert.Throws<BlobException>(() => store.Put(Sha([]), [])).Error);
        var big = new byte[101];
        Assert.Equal(BlobError.TooLarge, Assert.Throws<BlobException>(() => store.Put(Sha(big), big)).Error);
        Assert.True(store.Put(Sha(data), data));
        var second = new byte[80];
        second[0] = 2;
        var full = Assert.Throws<BlobException>(() => store.Put(Sha(second), second));
        Assert.Equal(BlobError.Full, full.Error);
        Assert.Contains("80 of 150", full.Message);
        Assert.Null(store.Get(Sha(second)));
        Assert.Equal(80, store.TotalBytes);
        Assert.Equal(BlobError.Invalid, Assert.Throws<BlobException>(() => BlobStoreBase.ParseHash("abc")).Error);
        Assert.Equal(BlobError.Invalid, Assert.Throws<BlobException>(() => BlobStoreBase.ParseHash(new string('g', 64))).Error);
        Assert.Equal(Sha(data), BlobStoreBase.ParseHash(Sha(data).ToString().ToUpperInvariant()));
    }

    [Fact]
    public void The_rocksdb_store_keeps_blobs_and_their_total_after_reopening()
    {
        using var dir = new TempDir();
        var a = RandomNumberGenerator.GetBytes(1000);
        var b = RandomNumberGenerator.GetBytes(2000);
        using (var store = RocksDbBlobStore.Open(dir.Path))
        {
            store.Put(Sha(a), a);
            store.Put(Sha(b), b);
        }
        using (var store = RocksDbBlobStore.Open(dir.Path, new BlobLimits(MaxBlobBytes: 2000, MaxTotalBytes: 3500)))
        {
            Assert.Equal(3000, store.TotalBytes);
            Assert.Equal(a, store.Get(Sha(a)));
            Assert.Equal(b, store.Get(Sha(b)));
            var c = RandomNumberGenerator.GetBytes(600);
            Assert.Equal(BlobError.Full, Assert.Throws<BlobException>(() => store.Put(Sha(c), c)).Error);
        }
    }

    [Fact]
    public void Bad_limits_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryBlobStore(new BlobLimits(MaxBlobBytes: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryBlobStore(new BlobLimits(MaxBlobBytes: (16 << 20) + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InMemoryBlobStore(new BlobLimits(MaxBlobBytes: 100, MaxTotalBytes: 99)));
    }
}
