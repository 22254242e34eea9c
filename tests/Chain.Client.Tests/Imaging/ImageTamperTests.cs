using System.Buffers.Binary;
using Chain.Accel.Offload;
using Chain.Client.Imaging;
using Xunit.Abstractions;

namespace Chain.Client.Tests.Imaging;

/// <summary>
/// Every alteration of an encrypted file is refused by <see cref="ImageCipher.DecryptFile"/> with a typed error, and no
/// output file (nor a temporary one) is left behind.
/// </summary>
public sealed class ImageTamperTests : IDisposable
{
    private const int Chunk = ImageHeader.MinChunkSize;
    private const int Chunks = 6;
    private const int Size = (Chunks - 1) * Chunk + 1000;

    private readonly ITestOutputHelper _output;
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-image-tamper-").FullName;
    private readonly ImageKey _key = ImageKey.Create();
    private readonly ImageCipher _cipher;
    private readonly ParallelCpuAccelerator _parallel = new(workers: 2, minParallelItems: 2);
    private readonly byte[] _plain = ImageRoundTripTests.Data(Size, 11);
    private readonly byte[] _file;
    private readonly ImageHeader _header;

    public ImageTamperTests(ITestOutputHelper output)
    {
        _output = output;
        _cipher = new ImageCipher(_parallel, batchBytes: 2 * Chunk);
        _file = ImageRoundTripTests.Encrypt(_cipher, _key, _plain, Chunk);
        _header = ImageHeader.Read(new MemoryStream(_file));
        Assert.Equal(Chunks, _header.ChunkCount);
    }

    public void Dispose()
    {
        _key.Dispose();
        _parallel.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private int H => _header.Bytes.Length;

    /// <summary>Where chunk <paramref name="i"/> starts in the file; its ciphertext, then its tag.</summary>
    private int ChunkAt(int i) => H + i * (Chunk + 16);

    private int ChunkBytes(int i) => _header.ChunkLength(i) + 16;

    private byte[] Segment(int i) => _file.AsSpan(ChunkAt(i), ChunkBytes(i)).ToArray();

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    /// <summary>Writes <paramref name="bytes"/>, decrypts them to a fresh output; asserts the failure and that nothing is left.</summary>
    private ImageCipherException Refused(byte[] bytes, ImageError expected, string? message = null, ImageKey? key = null)
    {
        var input = Path($"in-{Guid.NewGuid():N}.chimg");
        var output = Path($"out-{Guid.NewGuid():N}.dcm");
        File.WriteAllBytes(input, bytes);
        var e = Assert.Throws<ImageCipherException>(() => _cipher.DecryptFile(input, output, key ?? _key));
        Assert.True(expected == e.Error, $"expected {expected}, got {e.Error}: {e.Message}");
        if (message is not null) Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output), "a plaintext output was left");
        Assert.Empty(Directory.GetFiles(_dir, "*.partial"));
        File.Delete(input);
        return e;
    }

    private byte[] Flip(int offset)
    {
        var copy = (byte[])_file.Clone();
        copy[offset] ^= 0x01;
        return copy;
    }

    [Fact]
    public void The_untouched_file_decrypts_to_a_file_readable_only_by_its_owner()
    {
        var input = Path("good.chimg");
        File.WriteAllBytes(input, _file);
        _cipher.DecryptFile(input, Path("good.dcm"), _key);
        Assert.Equal(_plain, File.ReadAllBytes(Path("good.dcm")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path("good.dcm")));
        Assert.Empty(Directory.GetFiles(_dir, "*.partial"));
    }

    [Fact]
    public void Every_header_byte_is_protected()
    {
        for (var i = 0; i < H; i++)
        {
            var e = Assert.Throws<ImageCipherException>(() => ImageRoundTripTests.Decrypt(_cipher, _key, Flip(i)));
            Assert.True(e.Error is ImageError.BadHeader or ImageError.WrongKey, $"byte {i}: {e.Error}: {e.Message}");
        }
        // A sample through the file API: nothing is left either.
        Refused(Flip(0), ImageError.BadHeader, "not a Chain image file");
        Refused(Flip(9), ImageError.BadHeader, "version");
        Refused(Flip(15), ImageError.BadHeader, "chunk count");              // the chunk size
        Refused(Flip(H - 1), ImageError.BadHeader, "MAC");                   // the MAC itself
        Refused(Flip(H - 40), ImageError.WrongKey, "fingerprints agree");    // the key check
        Refused(Flip(40), ImageError.WrongKey);                              // the file id (salt of the key check)
    }

    [Fact]
    public void A_flipped_byte_in_any_chunk_or_tag_names_that_chunk()
    {
        for (var i = 0; i < Chunks; i++)
        {
            Refused(Flip(ChunkAt(i)), ImageError.Tampered, $"chunk {i} of {Chunks}");
            Refused(Flip(ChunkAt(i) + _header.ChunkLength(i) / 2), ImageError.Tampered, $"chunk {i} of {Chunks}");
            Refused(Flip(ChunkAt(i) + _header.ChunkLength(i)), ImageError.Tampered, $"chunk {i} of {Chunks}");      // first tag byte
            Refused(Flip(ChunkAt(i) + ChunkBytes(i) - 1), ImageError.Tampered, $"chunk {i} of {Chunks}");         // last tag byte
        }
    }

    [Fact]
    public void A_dropped_chunk_is_found()
    {
        var dropped = _file[..ChunkAt(2)].Concat(_file[ChunkAt(3)..]).ToArray();
        Refused(dropped, ImageError.Truncated);
        // Through a stream that cannot seek, it is found where the data runs out or stops authenticating.
        var e = Assert.Throws<ImageCipherException>(() => _cipher.Decrypt(new OneWayStream(dropped), new MemoryStream(), _key));
        Assert.True(e.Error is ImageError.Tampered or ImageError.Truncated, e.Message);
    }

    [Fact]
    public void Swapped_chunks_are_found()
    {
        var swapped = (byte[])_file.Clone();
        Segment(2).CopyTo(swapped, ChunkAt(1));
        Segment(1).CopyTo(swapped, ChunkAt(2));
        Refused(swapped, ImageError.Tampered, "chunk 1 of");
    }

    [Fact]
    public void A_duplicated_chunk_is_found_over_another_or_appended()
    {
        var over = (byte[])_file.Clone();
        Segment(1).CopyTo(over, ChunkAt(2));
        Refused(over, ImageError.Tampered, "chunk 2 of");
        Refused([.. _file, .. Segment(1)], ImageError.TrailingData);
        var e = Assert.Throws<ImageCipherException>(() => _cipher.Decrypt(new OneWayStream([.. _file, .. Segment(1)]), new MemoryStream(), _key));
        Assert.Equal(ImageError.TrailingData, e.Error);
    }

    [Fact]
    public void The_last_chunk_cannot_be_cut_off_by_lowering_the_count()
    {
        var cut = _file[..ChunkAt(Chunks - 1)];
        BinaryPrimitives.WriteUInt64BigEndian(cut.AsSpan(18), (ulong)((Chunks - 1) * Chunk));   // length
        BinaryPrimitives.WriteUInt64BigEndian(cut.AsSpan(26), Chunks - 1);                      // count
        Refused(cut, ImageError.BadHeader, "MAC");
    }

    [Fact]
    public void Truncation_anywhere_is_found()
    {
        var seed = Environment.GetEnvironmentVariable("CHAIN_TEST_SEED") is { } s
            ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)
            : Environment.TickCount;
        _output.WriteLine($"seed {seed} (replay with CHAIN_TEST_SEED={seed})");
        var rng = new Random(seed);
        var cuts = new List<int> { 0, 5, H - 1, H, H + 1, ChunkAt(1), ChunkAt(Chunks - 1), _file.Length - 16, _file.Length - 1 };
        for (var i = 0; i < 20; i++) cuts.Add(rng.Next(_file.Length));
        foreach (var cut in cuts)
        {
            var e = Refused(_file[..cut], cut < H ? ImageError.BadHeader : ImageError.Truncated);
            if (cut >= H)
            {
                var streamed = Assert.Throws<ImageCipherException>(() => _cipher.Decrypt(new OneWayStream(_file[..cut]), new MemoryStream(), _key));
                Assert.True(streamed.Error == ImageError.Truncated, $"cut at {cut}: {streamed.Message}");
            }
            _output.WriteLine($"cut at {cut}: {e.Message}");
        }
    }

    [Fact]
    public void Appended_bytes_are_found()
    {
        Refused([.. _file, 0], ImageError.TrailingData, "follow the last chunk");
        Refused([.. _file, .. new byte[100_000]], ImageError.TrailingData);
    }

    [Fact]
    public void A_wrong_key_is_named_before_any_chunk()
    {
        using var other = ImageKey.Create();
        var e = Refused(_file, ImageError.WrongKey, "the key does not open this file", other);
        Assert.Contains(_key.Fingerprint, e.Message, StringComparison.Ordinal);
        Assert.Contains(other.Fingerprint, e.Message, StringComparison.Ordinal);
        // Even with the chunks gone: the key is checked from the header alone.
        Assert.Equal(ImageError.WrongKey, Assert.Throws<ImageCipherException>(() =>
            ImageRoundTripTests.Decrypt(_cipher, other, _file[..H])).Error);
        using var custody = CustodyImageKey.FromReleasedSecret(new byte[32], ImageKeySource.Custody("chain", "model-key", 0, "r1"));
        Refused(_file, ImageError.WrongKey, "not a key from custody", custody);
    }

    [Fact]
    public void A_header_from_another_file_under_the_same_key_does_not_open_these_chunks()
    {
        var other = ImageRoundTripTests.Encrypt(_cipher, _key, ImageRoundTripTests.Data(Size, 12), Chunk);
        Assert.Equal(other.Length, _file.Length);
        var spliced = other[..H].Concat(_file[H..]).ToArray();
        Refused(spliced, ImageError.Tampered, "chunk 0 of");
        // And a chunk of the other file in this one.
        var mixed = (byte[])_file.Clone();
        other.AsSpan(ChunkAt(3), ChunkBytes(3)).CopyTo(mixed.AsSpan(ChunkAt(3)));
        Refused(mixed, ImageError.Tampered, "chunk 3 of");
    }

    [Fact]
    public void An_empty_file_round_trips_and_its_single_chunk_is_protected()
    {
        var empty = Path("empty.dcm");
        File.WriteAllBytes(empty, []);
        var header = _cipher.EncryptFile(empty, Path("empty.chimg"), _key, new ImageEncryptOptions { ChunkSize = Chunk });
        Assert.Equal((0, 1), (header.Length, header.ChunkCount));
        var bytes = File.ReadAllBytes(Path("empty.chimg"));
        Assert.Equal(header.Bytes.Length + 16, bytes.Length);
        _cipher.DecryptFile(Path("empty.chimg"), Path("empty-out.dcm"), _key);
        Assert.Empty(File.ReadAllBytes(Path("empty-out.dcm")));
        var tampered = (byte[])bytes.Clone();
        tampered[^1] ^= 1;
        Refused(tampered, ImageError.Tampered, "chunk 0 of 1");
        Refused(bytes[..^16], ImageError.Truncated);
    }

    [Fact]
    public void An_existing_output_is_kept_unless_replacing_is_asked_for()
    {
        var input = Path("x.chimg");
        File.WriteAllBytes(input, _file);
        var output = Path("x.dcm");
        File.WriteAllText(output, "precious");
        var e = Assert.Throws<ImageCipherException>(() => _cipher.DecryptFile(input, output, _key));
        Assert.Equal(ImageError.OutputExists, e.Error);
        Assert.Equal("precious", File.ReadAllText(output));
        var enc = Assert.Throws<ImageCipherException>(() => _cipher.EncryptFile(output, input, _key));
        Assert.Equal(ImageError.OutputExists, enc.Error);
        Assert.Equal(_file, File.ReadAllBytes(input));

        _cipher.DecryptFile(input, output, _key, overwrite: true);
        Assert.Equal(_plain, File.ReadAllBytes(output));
        Assert.Throws<ArgumentException>(() => _cipher.DecryptFile(input, input, _key, overwrite: true));
        Assert.Throws<ArgumentException>(() => _cipher.DecryptFile(input, _dir, _key, overwrite: true));
        // A tampered file does not replace the existing output either, even with overwrite.
        File.WriteAllBytes(input, Flip(ChunkAt(4)));
        Assert.Throws<ImageCipherException>(() => _cipher.DecryptFile(input, output, _key, overwrite: true));
        Assert.Equal(_plain, File.ReadAllBytes(output));
        Assert.Empty(Directory.GetFiles(_dir, "*.partial"));
    }

    [Fact]
    public void Plaintext_is_written_only_to_an_owner_only_temporary_file_until_the_end()
    {
        var input = Path("p.chimg");
        File.WriteAllBytes(input, _file);
        var output = Path("p.dcm");
        var seen = new List<(string File, UnixFileMode Mode, bool Final)>();
        var progress = new Inline(done =>
        {
            foreach (var f in Directory.GetFiles(_dir, "*.partial")) seen.Add((System.IO.Path.GetFileName(f), File.GetUnixFileMode(f), File.Exists(output)));
        });
        _cipher.DecryptFile(input, output, _key, progress: progress);
        Assert.NotEmpty(seen);
        Assert.All(seen, s => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, s.Mode));
        Assert.All(seen, s => Assert.False(s.Final));
        Assert.All(seen, s => Assert.StartsWith(".p.dcm.", s.File, StringComparison.Ordinal));
    }

    [Fact]
    public void Cancelling_leaves_nothing()
    {
        var input = Path("c.chimg");
        File.WriteAllBytes(input, _file);
        using var cts = new CancellationTokenSource();
        var progress = new Inline(_ => cts.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() => _cipher.DecryptFile(input, Path("c.dcm"), _key, progress: progress, cancellationToken: cts.Token));
        Assert.False(File.Exists(Path("c.dcm")));
        Assert.Empty(Directory.GetFiles(_dir, "*.partial"));
    }

    [Fact]
    public void A_missing_input_or_output_folder_is_an_io_error_and_leaves_nothing()
    {
        Assert.Throws<FileNotFoundException>(() => _cipher.DecryptFile(Path("missing.chimg"), Path("m.dcm"), _key));
        var input = Path("f.chimg");
        File.WriteAllBytes(input, _file);
        Assert.Throws<DirectoryNotFoundException>(() => _cipher.DecryptFile(input, Path("no/such/dir/f.dcm"), _key));
        Assert.False(File.Exists(Path("m.dcm")));
    }

    /// <summary>Reports on the calling thread (Progress{T} would post to the thread pool).</summary>
    private sealed class Inline(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
