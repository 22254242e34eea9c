using Chain.Accel.Offload;
using Chain.Client.Imaging;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Client.Tests.Imaging;

/// <summary>Encrypt then decrypt gives the plaintext back, for every size around the chunk boundaries and on every backend.</summary>
public sealed class ImageRoundTripTests
{
    private const int Chunk = ImageHeader.MinChunkSize;

    public static TheoryData<int, string, bool> Sizes()
    {
        var data = new TheoryData<int, string, bool>();
        foreach (var backend in new[] { "cpu", "cpu-parallel" })
        {
            foreach (var overlap in new[] { true, false })
            {
                foreach (var size in new[] { 0, 1, Chunk - 1, Chunk, Chunk + 1, 3 * Chunk, 7 * Chunk + 123, 20 * Chunk - 1 })
                    data.Add(size, backend, overlap);
            }
        }
        return data;
    }

    internal static IAccelerator Backend(string name) => name == "cpu" ? CpuAccelerator.Instance : new ParallelCpuAccelerator(workers: 3, minParallelItems: 2);

    internal static byte[] Data(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    internal static byte[] Encrypt(ImageCipher cipher, ImageKey key, byte[] plain, int chunkSize = Chunk, string? name = null)
    {
        using var output = new MemoryStream();
        cipher.Encrypt(new MemoryStream(plain), output, key, new ImageEncryptOptions { ChunkSize = chunkSize, FileName = name });
        return output.ToArray();
    }

    internal static byte[] Decrypt(ImageCipher cipher, ImageKey key, byte[] file)
    {
        using var output = new MemoryStream();
        cipher.Decrypt(new MemoryStream(file), output, key);
        return output.ToArray();
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Round_trips_at_and_around_chunk_boundaries(int size, string backend, bool overlap)
    {
        using var accelerator = Backend(backend);
        // Three chunks per accelerator call, so the larger sizes go through several batches and a short last one.
        var cipher = new ImageCipher(accelerator, batchBytes: 3 * Chunk, overlapIo: overlap);
        using var key = ImageKey.Create();
        var plain = Data(size, size);
        var file = Encrypt(cipher, key, plain);
        var header = ImageHeader.Read(new MemoryStream(file));
        Assert.Equal(size, header.Length);
        Assert.Equal(Math.Max(1, (size + Chunk - 1) / Chunk), header.ChunkCount);
        Assert.Equal(header.FileLength, file.Length);
        Assert.Equal(header.Bytes.Length + size + 16 * header.ChunkCount, file.Length);
        Assert.Equal(plain, Decrypt(cipher, key, file));
    }

    [Fact]
    public void Backends_read_each_others_files_and_every_file_is_different()
    {
        using var parallel = new ParallelCpuAccelerator(workers: 4, minParallelItems: 2);
        var cpu = new ImageCipher(CpuAccelerator.Instance);
        var multi = new ImageCipher(parallel, batchBytes: 8 * Chunk);
        using var key = ImageKey.Create();
        var plain = Data(50 * Chunk + 5, 1);
        var a = Encrypt(cpu, key, plain);
        var b = Encrypt(multi, key, plain);
        Assert.Equal(plain, Decrypt(multi, key, a));
        Assert.Equal(plain, Decrypt(cpu, key, b));
        // A fresh file id each time: same key, same plaintext, different files (and different data keys).
        Assert.NotEqual(a, b);
        Assert.NotEqual(ImageHeader.Read(new MemoryStream(a)).FileId, ImageHeader.Read(new MemoryStream(b)).FileId);
        // The ciphertext does not carry the plaintext.
        Assert.False(a.AsSpan().IndexOf(plain.AsSpan(0, 64)) >= 0);
    }

    [Fact]
    public void The_default_accelerator_is_the_process_one()
    {
        Assert.Same(Offloaded.Current, new ImageCipher().Accelerator);
        using var key = ImageKey.Create();
        var plain = Data(3 * ImageHeader.DefaultChunkSize + 1, 2);
        var cipher = new ImageCipher();
        Assert.Equal(8, cipher.ChunksPerBatch(ImageHeader.DefaultChunkSize));
        Assert.Equal(plain, Decrypt(cipher, key, Encrypt(cipher, key, plain, ImageHeader.DefaultChunkSize)));
    }

    [Fact]
    public void The_largest_chunk_size_round_trips_and_sizes_outside_the_range_are_refused()
    {
        var cipher = new ImageCipher(CpuAccelerator.Instance);
        using var key = ImageKey.Create();
        var plain = Data(ImageHeader.MaxChunkSize + 10, 3);
        Assert.Equal(plain, Decrypt(cipher, key, Encrypt(cipher, key, plain, ImageHeader.MaxChunkSize)));
        Assert.Equal(ImageCipher.MinChunksPerBatch, cipher.ChunksPerBatch(ImageHeader.MaxChunkSize));
        Assert.Equal(ImageCipher.MaxChunksPerBatch, new ImageCipher(batchBytes: 64 << 20).ChunksPerBatch(ImageHeader.MinChunkSize));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageCipher(batchBytes: ImageCipher.MaxBatchBytes + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageCipher(batchBytes: 100));
        foreach (var bad in new[] { 0, 4095, ImageHeader.MaxChunkSize + 1 })
            Assert.Throws<ArgumentOutOfRangeException>(() => Encrypt(cipher, key, plain, bad));
    }

    [Fact]
    public void A_stream_that_cannot_seek_needs_the_length_and_must_deliver_exactly_it()
    {
        var cipher = new ImageCipher(CpuAccelerator.Instance);
        using var key = ImageKey.Create();
        var plain = Data(3 * Chunk + 7, 4);
        Assert.Throws<ArgumentException>(() => cipher.Encrypt(new OneWayStream(plain), new MemoryStream(), key));
        using var output = new MemoryStream();
        cipher.Encrypt(new OneWayStream(plain), output, key, new ImageEncryptOptions { ChunkSize = Chunk, Length = plain.Length });
        Assert.Equal(plain, Decrypt(cipher, key, output.ToArray()));
        // Decrypting from a stream that cannot seek works too (no size check up front, the reads find the end).
        using var again = new MemoryStream();
        cipher.Decrypt(new OneWayStream(output.ToArray()), again, key);
        Assert.Equal(plain, again.ToArray());

        var shorter = Assert.Throws<ImageCipherException>(() => cipher.Encrypt(new OneWayStream(plain), new MemoryStream(), key,
            new ImageEncryptOptions { ChunkSize = Chunk, Length = plain.Length + 1 }));
        Assert.Equal(ImageError.InputChanged, shorter.Error);
        var longer = Assert.Throws<ImageCipherException>(() => cipher.Encrypt(new OneWayStream(plain), new MemoryStream(), key,
            new ImageEncryptOptions { ChunkSize = Chunk, Length = plain.Length - 1 }));
        Assert.Equal(ImageError.InputChanged, longer.Error);
    }

    [Fact]
    public void The_header_reads_without_the_key_and_records_the_stored_name()
    {
        var cipher = new ImageCipher(CpuAccelerator.Instance);
        using var key = ImageKey.Create();
        var file = Encrypt(cipher, key, Data(10_000, 5), Chunk, "CT-thorax 0001.dcm");
        var header = ImageHeader.Read(new MemoryStream(file));
        Assert.Equal(1, header.Version);
        Assert.Equal(Chunk, header.ChunkSize);
        Assert.Equal(10_000, header.Length);
        Assert.Equal(3, header.ChunkCount);
        Assert.Equal("CT-thorax 0001.dcm", header.FileName);
        Assert.Equal(ImageKeyKind.KeyFile, header.KeySource.Kind);
        Assert.Equal(key.Fingerprint, header.KeyFingerprint);
        Assert.Matches("^[0-9a-f]{64}$", header.FileIdHex);
        Assert.Null(ImageHeader.Read(new MemoryStream(Encrypt(cipher, key, [], Chunk))).FileName);
        Assert.Equal(header.Bytes.Length, ImageHeader.Read(new MemoryStream(file)).Bytes.Length);
        Assert.Throws<ArgumentException>(() => Encrypt(cipher, key, [1], Chunk, "bad\ud800name"));
        Assert.Throws<ArgumentException>(() => Encrypt(cipher, key, [1], Chunk, new string('x', ImageHeader.MaxNameBytes + 1)));
    }

    /// <summary>
    /// Random sizes, chunk sizes, batch sizes and backends, all drawn from one seed (FsCheck prints the failing seed; the
    /// label says what it drew).
    /// </summary>
    [Property(MaxTest = 60)]
    public Property Any_size_round_trips() =>
        Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), seed =>
        {
            var rng = new Random(seed);
            var size = rng.Next(4) == 0 ? rng.Next(3 * Chunk) : rng.Next(300_000);
            var chunk = rng.Next(ImageHeader.MinChunkSize, 20_000);
            var batch = rng.Next(1, 9);
            var parallel = rng.Next(2) == 0;
            using var accelerator = Backend(parallel ? "cpu-parallel" : "cpu");
            var cipher = new ImageCipher(accelerator, batchBytes: Math.Max(ImageHeader.MinChunkSize, batch * chunk), overlapIo: rng.Next(2) == 0);
            using var key = ImageKey.Create();
            var plain = Data(size, seed);
            var file = Encrypt(cipher, key, plain, chunk);
            var ok = file.Length == ImageHeader.Read(new MemoryStream(file)).FileLength && Decrypt(cipher, key, file).AsSpan().SequenceEqual(plain);
            return ok.Label($"seed {seed}: size {size}, chunk {chunk}, {batch} chunk(s) per batch, {(parallel ? "cpu-parallel" : "cpu")}");
        });
}

/// <summary>A read-only stream that cannot seek (a pipe).</summary>
internal sealed class OneWayStream(byte[] data) : Stream
{
    private readonly MemoryStream _inner = new(data);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 10_000));
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
