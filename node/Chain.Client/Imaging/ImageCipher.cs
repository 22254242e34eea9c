using System.Security.Cryptography;
using Chain.Accel.Offload;
using Chain.Ledger.Identity;

namespace Chain.Client.Imaging;

/// <summary>How to encrypt one image.</summary>
public sealed record ImageEncryptOptions
{
    /// <summary>Plaintext bytes per chunk: 4 KiB to 16 MiB (default 1 MiB).</summary>
    public int ChunkSize { get; init; } = ImageHeader.DefaultChunkSize;

    /// <summary>The original file name to record in the header, or null (the default): it is authenticated, not encrypted.</summary>
    public string? FileName { get; init; }

    /// <summary>The plaintext length, required only when the input stream cannot seek.</summary>
    public long? Length { get; init; }
}

/// <summary>
/// Chunked AES-256-GCM of a file of any size in the Chain image format (IMAGE-FORMAT.md), through the accelerator's bulk
/// AES-GCM: chunks go to <see cref="IAccelerator.SealAesGcm"/> / <see cref="IAccelerator.OpenAesGcm"/> several at a time
/// (<see cref="ChunksPerBatch"/>), so a multi-core or hardware backend speeds it up. With <c>overlapIo</c> (the default),
/// reading the next batch and writing the previous one run beside the cryptography of the current one.
/// <para>The stream methods write each batch as soon as it authenticates, so a failure part-way leaves a prefix of the
/// plaintext in the output stream; <see cref="DecryptFile"/> never does: it writes to an owner-only temporary file and
/// renames it into place only when every chunk has authenticated.</para>
/// </summary>
public sealed class ImageCipher
{
    public const int DefaultBatchBytes = 8 * 1024 * 1024;
    public const int MinChunksPerBatch = 2;
    public const int MaxChunksPerBatch = 1024;
    public const int MaxBatchBytes = 256 * 1024 * 1024;

    private readonly IAccelerator? _accelerator;
    private readonly int _batchBytes;
    private readonly bool _overlapIo;

    /// <param name="accelerator">The backend doing AES-GCM (default: <see cref="Offloaded.Current"/> at each call).</param>
    /// <param name="batchBytes">
    /// Plaintext bytes per accelerator call, within 2-1024 chunks (default 8 MiB: 8 chunks of 1 MiB, so two batches in
    /// flight, plaintext and sealed, fit a 32 MiB L3 cache).
    /// </param>
    /// <param name="overlapIo">Read and write on other threads while the current batch is processed.</param>
    public ImageCipher(IAccelerator? accelerator = null, int batchBytes = DefaultBatchBytes, bool overlapIo = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchBytes, ImageHeader.MinChunkSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchBytes, MaxBatchBytes);
        _accelerator = accelerator;
        _batchBytes = batchBytes;
        _overlapIo = overlapIo;
    }

    public IAccelerator Accelerator => _accelerator ?? Offloaded.Current;

    /// <summary>Chunks per accelerator call for <paramref name="chunkSize"/>.</summary>
    public int ChunksPerBatch(int chunkSize) => Math.Clamp(_batchBytes / chunkSize, MinChunksPerBatch, MaxChunksPerBatch);

    /// <summary>
    /// Encrypts the rest of <paramref name="input"/> into <paramref name="output"/> (header, then every chunk). The input
    /// must give exactly the announced length (<see cref="ImageError.InputChanged"/> otherwise).
    /// </summary>
    public ImageHeader Encrypt(Stream input, Stream output, ImageKey key, ImageEncryptOptions? options = null, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(key);
        options ??= new ImageEncryptOptions();
        var length = options.Length ?? (input.CanSeek
            ? input.Length - input.Position
            : throw new ArgumentException("an input stream that cannot seek needs ImageEncryptOptions.Length", nameof(input)));
        var header = ImageHeader.Create(key, options.ChunkSize, length, options.FileName);
        output.Write(header.Bytes);
        Process(header, key, input, output, seal: true, progress, cancellationToken);
        output.Flush();
        return header;
    }

    /// <summary>
    /// Decrypts <paramref name="input"/> into <paramref name="output"/>: reads the header, checks the key against it (a wrong
    /// key fails before any chunk is opened), checks the size when the input can seek, then opens every chunk. Throws
    /// <see cref="ImageCipherException"/> on the first problem; see the class remarks about partial output.
    /// </summary>
    public ImageHeader Decrypt(Stream input, Stream output, ImageKey key, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(key);
        var header = ImageHeader.Read(input);
        header.CheckKey(key);
        if (input.CanSeek)
        {
            var remaining = input.Length - input.Position;
            if (remaining < header.BodyLength)
            {
                throw new ImageCipherException(ImageError.Truncated,
                    $"the file is truncated: {header.FileLength:N0} bytes expected, {input.Length:N0} found");
            }
            if (remaining > header.BodyLength)
            {
                throw new ImageCipherException(ImageError.TrailingData,
                    $"{remaining - header.BodyLength:N0} unexpected byte(s) follow the last chunk (the file is {input.Length:N0} bytes, " +
                    $"{header.FileLength:N0} expected)");
            }
        }
        Process(header, key, input, output, seal: false, progress, cancellationToken);
        output.Flush();
        return header;
    }

    /// <summary>
    /// Encrypts the file <paramref name="inputPath"/> to <paramref name="outputPath"/> through a temporary file in the same
    /// folder, renamed into place when complete. Refuses an existing output unless <paramref name="overwrite"/>.
    /// </summary>
    public ImageHeader EncryptFile(string inputPath, string outputPath, ImageKey key, ImageEncryptOptions? options = null, bool overwrite = false,
        IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var (input, output) = Paths(inputPath, outputPath, overwrite);
        using var source = OpenRead(input);
        return WriteAtomically(output, overwrite, ownerOnly: false, stream => Encrypt(source, stream, key, options, progress, cancellationToken));
    }

    /// <summary>
    /// Decrypts the file <paramref name="inputPath"/> to <paramref name="outputPath"/>. Plaintext goes to a temporary file in
    /// the output's folder, readable by its owner only (0600), which is renamed into place only after every chunk has
    /// authenticated; on any failure it is deleted, so no partial plaintext is ever left. Refuses an existing output unless
    /// <paramref name="overwrite"/>.
    /// </summary>
    public ImageHeader DecryptFile(string inputPath, string outputPath, ImageKey key, bool overwrite = false, IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var (input, output) = Paths(inputPath, outputPath, overwrite);
        using var source = OpenRead(input);
        return WriteAtomically(output, overwrite, ownerOnly: true, stream => Decrypt(source, stream, key, progress, cancellationToken));
    }

    internal static int ReadFull(Stream stream, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static (string Input, string Output) Paths(string inputPath, string outputPath, bool overwrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        var input = Path.GetFullPath(inputPath);
        var output = Path.GetFullPath(outputPath);
        if (input == output) throw new ArgumentException($"the output {outputPath} is the input");
        if (Directory.Exists(output)) throw new ArgumentException($"the output {outputPath} is a directory");
        if (!overwrite && File.Exists(output)) throw OutputExists(outputPath);
        return (input, output);
    }

    private static FileStream OpenRead(string path) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 0, Options = FileOptions.SequentialScan,
        });

    private static ImageCipherException OutputExists(string path) =>
        new(ImageError.OutputExists, $"{path} already exists (replacing it must be asked for)");

    private static ImageHeader WriteAtomically(string path, bool overwrite, bool ownerOnly, Func<FileStream, ImageHeader> write)
    {
        var dir = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"the output folder {dir} does not exist");
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.partial");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0 };
        if (ownerOnly && !OperatingSystem.IsWindows()) options.UnixCreateMode = SecretFile.OwnerOnly;
        var done = false;
        try
        {
            ImageHeader header;
            using (var stream = new FileStream(temp, options))
            {
                header = write(stream);
                stream.Flush(flushToDisk: true);
            }
            try
            {
                File.Move(temp, path, overwrite);
            }
            catch (IOException) when (!overwrite && File.Exists(path))
            {
                throw OutputExists(path);
            }
            done = true;
            return header;
        }
        finally
        {
            if (!done) TryDelete(temp);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort; the temporary file is owner-only and named .*.partial.
        }
    }

    private void Process(ImageHeader header, ImageKey key, Stream input, Stream output, bool seal, IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        var dataKey = key.Derive(header.FileId, "data");
        try
        {
            var run = new Run(this, header, dataKey, input, output, seal);
            run.Execute(progress, cancellationToken);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>One encryption or decryption: its batches and the pipeline that moves them through read, transform, write.</summary>
    private sealed class Run(ImageCipher cipher, ImageHeader header, byte[] dataKey, Stream input, Stream output, bool seal)
    {
        private readonly IAccelerator _accelerator = cipher.Accelerator;
        private readonly int _perBatch = (int)Math.Min(cipher.ChunksPerBatch(header.ChunkSize), header.ChunkCount);

        public void Execute(IProgress<long>? progress, CancellationToken cancellationToken)
        {
            var n = header.ChunkCount;
            var overlap = cipher._overlapIo && n > _perBatch;
            Batch[] batches = overlap ? [NewBatch(), NewBatch()] : [NewBatch()];
            long next = 0, done = 0;
            Fill(batches[0], next);
            next += batches[0].Count;
            Task? read = null, write = null;
            try
            {
                for (var k = 0; ; k++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var current = batches[k % batches.Length];
                    var other = batches[(k + 1) % batches.Length];
                    var first = next;
                    if (overlap && first < n) read = Task.Run(() => Fill(other, first), CancellationToken.None);
                    Transform(current);
                    // The byte count is taken now: the next Fill of this batch may start before the write task runs.
                    var (buffer, bytes) = seal ? (current.Sealed, current.SealedBytes) : (current.Plain, current.PlainBytes);
                    if (overlap)
                    {
                        write?.GetAwaiter().GetResult();
                        write = Task.Run(() => output.Write(buffer, 0, bytes), CancellationToken.None);
                    }
                    else
                    {
                        output.Write(buffer, 0, bytes);
                    }
                    done += current.PlainBytes;
                    progress?.Report(done);
                    if (first == n) break;
                    if (overlap)
                    {
                        read!.GetAwaiter().GetResult();
                        read = null;
                    }
                    else
                    {
                        Fill(other, first);
                    }
                    next += other.Count;
                }
                write?.GetAwaiter().GetResult();
                write = null;
            }
            finally
            {
                // Nothing may touch the streams or buffers after this returns or throws.
                Drain(read);
                Drain(write);
            }
        }

        private static void Drain(Task? task)
        {
            if (task is null) return;
            try
            {
                task.Wait();
            }
            catch (AggregateException)
            {
                // Already failing: the first error is the one reported.
            }
        }

        private Batch NewBatch() => new(_perBatch, header.ChunkSize);

        /// <summary>Reads the chunks from <paramref name="first"/> into <paramref name="b"/> and lays out their AEAD items.</summary>
        private void Fill(Batch b, long first)
        {
            var n = header.ChunkCount;
            var count = (int)Math.Min(_perBatch, n - first);
            var cs = header.ChunkSize;
            var plainBytes = 0;
            for (var i = 0; i < count; i++) plainBytes += header.ChunkLength(first + i);
            var sealedBytes = plainBytes + count * ImageHeader.TagSize;
            if (seal)
            {
                var got = ReadFull(input, b.Plain.AsSpan(0, plainBytes));
                if (got < plainBytes)
                {
                    throw new ImageCipherException(ImageError.InputChanged,
                        $"the input ended after {first * cs + got:N0} bytes, {header.Length:N0} were expected (did it change while being encrypted?)");
                }
            }
            else
            {
                var got = ReadFull(input, b.Sealed.AsSpan(0, sealedBytes));
                if (got < sealedBytes)
                {
                    var at = first + got / (cs + ImageHeader.TagSize);
                    throw new ImageCipherException(ImageError.Truncated, $"the file is truncated: it ends inside chunk {at} of {n} (chunks count from 0)");
                }
            }
            if (first + count == n && input.ReadByte() >= 0)
            {
                throw seal
                    ? new ImageCipherException(ImageError.InputChanged,
                        $"the input is longer than the {header.Length:N0} bytes expected (did it change while being encrypted?)")
                    : new ImageCipherException(ImageError.TrailingData, "unexpected bytes follow the last chunk");
            }
            for (var i = 0; i < count; i++)
            {
                var index = first + i;
                var length = header.ChunkLength(index);
                var nonce = b.Nonces.AsMemory(i * ImageHeader.NonceSize, ImageHeader.NonceSize);
                var ad = b.Ad.AsMemory(i * ImageHeader.AssociatedDataSize, ImageHeader.AssociatedDataSize);
                header.WriteNonce(index, nonce.Span);
                header.WriteAssociatedData(index, ad.Span);
                var p = b.Plain.AsMemory(i * cs, length);
                var s = b.Sealed.AsMemory(i * (cs + ImageHeader.TagSize), length);
                var tag = b.Sealed.AsMemory(i * (cs + ImageHeader.TagSize) + length, ImageHeader.TagSize);
                b.Items[i] = seal ? new AeadItem(nonce, ad, p, s, tag) : new AeadItem(nonce, ad, s, p, tag);
            }
            b.First = first;
            b.Count = count;
            b.PlainBytes = plainBytes;
            b.SealedBytes = sealedBytes;
        }

        private void Transform(Batch b)
        {
            var items = b.Items.AsSpan(0, b.Count);
            if (seal)
            {
                _accelerator.SealAesGcm(dataKey, items);
                return;
            }
            var results = b.Results.AsSpan(0, b.Count);
            _accelerator.OpenAesGcm(dataKey, items, results);
            var bad = results.IndexOf(false);
            if (bad < 0) return;
            CryptographicOperations.ZeroMemory(b.Plain.AsSpan(0, b.PlainBytes));
            var index = b.First + bad;
            throw new ImageCipherException(ImageError.Tampered,
                $"chunk {index} of {header.ChunkCount} (counting from 0) does not authenticate: the file was altered, " +
                "or its chunks were reordered, duplicated or taken from another file");
        }
    }

    /// <summary>The buffers of one batch: plaintext and sealed chunks (ciphertext then tag, back to back), nonces, associated data.</summary>
    private sealed class Batch(int chunks, int chunkSize)
    {
        public byte[] Plain { get; } = GC.AllocateUninitializedArray<byte>(chunks * chunkSize);
        public byte[] Sealed { get; } = GC.AllocateUninitializedArray<byte>(chunks * (chunkSize + ImageHeader.TagSize));
        public byte[] Nonces { get; } = new byte[chunks * ImageHeader.NonceSize];
        public byte[] Ad { get; } = new byte[chunks * ImageHeader.AssociatedDataSize];
        public AeadItem[] Items { get; } = new AeadItem[chunks];
        public bool[] Results { get; } = new bool[chunks];
        public long First { get; set; }
        public int Count { get; set; }
        public int PlainBytes { get; set; }
        public int SealedBytes { get; set; }
    }
}
