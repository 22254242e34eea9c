using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Chain.Accel.Encoding;

namespace Chain.Client.Imaging;

/// <summary>
/// The header of a Chain image file (IMAGE-FORMAT.md): what was encrypted (chunk size, plaintext length, chunk count),
/// the file's random id, where the key came from, and two values that need the key: a key check (to tell a wrong key
/// before any chunk is opened) and a MAC over every header byte before it. Its SHA-256 (<see cref="Hash"/>) is bound into
/// every chunk's associated data. Reading it needs no key; trusting it does (<see cref="CheckKey"/>).
/// </summary>
public sealed class ImageHeader
{
    public const ushort CurrentVersion = 1;
    public const int MinChunkSize = 4 * 1024;
    public const int MaxChunkSize = 16 * 1024 * 1024;
    public const int DefaultChunkSize = 1024 * 1024;
    public const int TagSize = 16;
    public const int NonceSize = 12;
    public const int FileIdSize = 32;
    public const int MaxNameBytes = 1024;
    public const int MaxIdBytes = 64;
    public const int MaxHeaderBytes = 4096;

    /// <summary>Magic (8), version (2), header length (4).</summary>
    public const int PrefixSize = 14;

    private const int MacSize = 32;
    private static readonly byte[] MagicBytes = "CHAINIMG"u8.ToArray();
    private static readonly byte[] KeyCheckLabel = "chain-image/v1 key check"u8.ToArray();
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private ImageHeader(byte[] bytes, int chunkSize, long length, long chunkCount, byte[] fileId, ImageKeySource source, byte[] fingerprint,
        string? fileName)
    {
        Bytes = bytes;
        Hash = SHA256.HashData(bytes);
        ChunkSize = chunkSize;
        Length = length;
        ChunkCount = chunkCount;
        FileId = fileId;
        KeySource = source;
        KeyFingerprintBytes = fingerprint;
        FileName = fileName;
    }

    public static ReadOnlySpan<byte> Magic => MagicBytes;

    public int Version => CurrentVersion;

    /// <summary>Plaintext bytes per chunk (every chunk but the last is exactly this long).</summary>
    public int ChunkSize { get; }

    /// <summary>Plaintext bytes in the whole file.</summary>
    public long Length { get; }

    /// <summary>max(1, ceil(Length / ChunkSize)): an empty file has one empty chunk, so its end is authenticated too.</summary>
    public long ChunkCount { get; }

    /// <summary>32 random bytes: the HKDF salt of the file's subkeys.</summary>
    public byte[] FileId { get; }

    public string FileIdHex => Convert.ToHexStringLower(FileId);

    public ImageKeySource KeySource { get; }

    /// <summary>The master key's fingerprint (<see cref="ImageKey.FingerprintBytes"/>).</summary>
    public byte[] KeyFingerprintBytes { get; }

    public string KeyFingerprint => Convert.ToHexStringLower(KeyFingerprintBytes);

    /// <summary>The original file name, if the encrypting party chose to store it (it is authenticated, not encrypted).</summary>
    public string? FileName { get; }

    /// <summary>The encoded header, MAC included.</summary>
    public byte[] Bytes { get; }

    /// <summary>SHA-256 of <see cref="Bytes"/>.</summary>
    public byte[] Hash { get; }

    /// <summary>Bytes after the header: every chunk's ciphertext and 16-byte tag.</summary>
    public long BodyLength => Length + TagSize * ChunkCount;

    /// <summary>The exact size of the encrypted file.</summary>
    public long FileLength => Bytes.Length + BodyLength;

    private ReadOnlySpan<byte> KeyCheck => Bytes.AsSpan(Bytes.Length - 2 * MacSize, MacSize);

    private ReadOnlySpan<byte> Mac => Bytes.AsSpan(Bytes.Length - MacSize, MacSize);

    /// <summary>Plaintext bytes of chunk <paramref name="index"/>.</summary>
    public int ChunkLength(long index) => index < ChunkCount - 1 ? ChunkSize : (int)(Length - (ChunkCount - 1) * ChunkSize);

    public static long ChunkCountFor(long length, int chunkSize) => length == 0 ? 1 : (length - 1) / chunkSize + 1;

    public static void CheckChunkSize(int chunkSize)
    {
        if (chunkSize is < MinChunkSize or > MaxChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize,
                $"the chunk size must be from {MinChunkSize} bytes (4 KiB) to {MaxChunkSize} bytes (16 MiB)");
        }
    }

    /// <summary>A new header for <paramref name="length"/> plaintext bytes under <paramref name="key"/>, with a fresh random file id.</summary>
    public static ImageHeader Create(ImageKey key, int chunkSize, long length, string? fileName = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        CheckChunkSize(chunkSize);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var count = ChunkCountFor(length, chunkSize);
        if (length > long.MaxValue - TagSize * count - MaxHeaderBytes) throw new ArgumentOutOfRangeException(nameof(length), "the file is too large");
        if (fileName is not null && (fileName.Length == 0 || Utf8(fileName) is not { Length: <= MaxNameBytes }))
            throw new ArgumentException($"the stored file name must be 1-{MaxNameBytes} bytes of valid UTF-8", nameof(fileName));
        var fileId = RandomNumberGenerator.GetBytes(FileIdSize);
        var source = key.Source;
        var w = new CanonicalWriter(512);
        w.Fixed(MagicBytes).U16(CurrentVersion).U32(0).U32((uint)chunkSize).U64((ulong)length).U64((ulong)count).Fixed(fileId).U8((byte)source.Kind);
        if (source.Kind == ImageKeyKind.Custody)
        {
            w.String(RequireId(source.ChainId, "chain id")).String(RequireId(source.CustodyId, "custody id")).U32((uint)source.Epoch)
                .String(RequireId(source.RequestId, "request id"));
        }
        w.Fixed(key.FingerprintBytes).String(fileName ?? "");
        var keyCheck = ComputeKeyCheck(key, fileId);
        w.Fixed(keyCheck).Fixed(new byte[MacSize]);
        var bytes = w.ToArray();
        if (bytes.Length > MaxHeaderBytes) throw new ArgumentException("the header would exceed its size limit");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(10), (uint)bytes.Length);
        ComputeMac(key, fileId, bytes.AsSpan(0, bytes.Length - MacSize)).CopyTo(bytes.AsSpan(bytes.Length - MacSize));
        return new ImageHeader(bytes, chunkSize, length, count, fileId, source, key.FingerprintBytes, fileName);
    }

    /// <summary>Reads and parses the header at the start of <paramref name="input"/>, leaving it positioned at chunk 0. Needs no key.</summary>
    public static ImageHeader Read(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var prefix = new byte[PrefixSize];
        var got = ImageCipher.ReadFull(input, prefix);
        if (got < MagicBytes.Length || !prefix.AsSpan(0, MagicBytes.Length).SequenceEqual(MagicBytes))
            throw Bad("this is not a Chain image file (it does not start with CHAINIMG)");
        if (got < PrefixSize) throw Bad("the file is truncated inside its header");
        var version = BinaryPrimitives.ReadUInt16BigEndian(prefix.AsSpan(8));
        if (version != CurrentVersion) throw Bad($"format version {version} is not supported (this build reads version {CurrentVersion})");
        var total = BinaryPrimitives.ReadUInt32BigEndian(prefix.AsSpan(10));
        if (total is < PrefixSize + 1 or > MaxHeaderBytes) throw Bad($"the header length {total} is out of range");
        var bytes = new byte[total];
        prefix.CopyTo(bytes, 0);
        if (ImageCipher.ReadFull(input, bytes.AsSpan(PrefixSize)) < total - PrefixSize) throw Bad("the file is truncated inside its header");
        try
        {
            return Parse(bytes);
        }
        catch (CanonicalDecodeException e)
        {
            throw Bad($"malformed header ({e.Message})");
        }
    }

    /// <summary>Reads the header of the file at <paramref name="path"/>.</summary>
    public static ImageHeader ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        return Read(stream);
    }

    private static ImageHeader Parse(byte[] bytes)
    {
        var r = new CanonicalReader(bytes);
        r.Fixed(PrefixSize, "prefix");
        var chunkSize = r.U32("chunk size");
        if (chunkSize is < MinChunkSize or > MaxChunkSize) throw Bad($"the chunk size {chunkSize} is out of range ({MinChunkSize}-{MaxChunkSize})");
        var length = r.U64("length");
        var count = r.U64("chunk count");
        if (length > long.MaxValue / 2) throw Bad($"the plaintext length {length} is out of range");
        if (count != (ulong)ChunkCountFor((long)length, (int)chunkSize))
            throw Bad($"the chunk count {count} does not fit {length} bytes in chunks of {chunkSize}");
        var fileId = r.Fixed(FileIdSize, "file id").ToArray();
        var kind = r.U8("key source");
        ImageKeySource source;
        switch ((ImageKeyKind)kind)
        {
            case ImageKeyKind.KeyFile:
                source = ImageKeySource.KeyFile;
                break;
            case ImageKeyKind.Custody:
                var chainId = Id(r.String(MaxIdBytes, "chain id"), "chain id");
                var custodyId = Id(r.String(MaxIdBytes, "custody id"), "custody id");
                var epoch = r.U32("epoch");
                if (epoch > int.MaxValue) throw Bad($"the custody epoch {epoch} is out of range");
                source = ImageKeySource.Custody(chainId, custodyId, (int)epoch, Id(r.String(MaxIdBytes, "request id"), "request id"));
                break;
            default:
                throw Bad($"unknown key source {kind}");
        }
        var fingerprint = r.Fixed(ImageKey.FingerprintSize, "key fingerprint").ToArray();
        var name = r.String(MaxNameBytes, "file name");
        r.Fixed(MacSize, "key check");
        r.Fixed(MacSize, "header MAC");
        r.End("header");
        return new ImageHeader(bytes, (int)chunkSize, (long)length, (long)count, fileId, source, fingerprint, name.Length == 0 ? null : name);
    }

    /// <summary>
    /// Checks that <paramref name="key"/> is this file's key (<see cref="ImageError.WrongKey"/> otherwise, naming what the
    /// header expects) and that the header is intact (its MAC; <see cref="ImageError.BadHeader"/>).
    /// </summary>
    public void CheckKey(ImageKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var given = key.Source;
        if (given.Kind != KeySource.Kind)
        {
            throw new ImageCipherException(ImageError.WrongKey, KeySource.Kind == ImageKeyKind.Custody
                ? $"the key does not open this file: it was encrypted under a key released from custody {KeySource.CustodyId}, not a key file"
                : $"the key does not open this file: it was encrypted under a key file (fingerprint {KeyFingerprint}), not a key from custody");
        }
        if (given.Kind == ImageKeyKind.Custody && (given.ChainId != KeySource.ChainId || given.CustodyId != KeySource.CustodyId))
        {
            throw new ImageCipherException(ImageError.WrongKey,
                $"the key does not open this file: it was encrypted under custody {KeySource.CustodyId} on chain {KeySource.ChainId}, " +
                $"not {given.CustodyId} on {given.ChainId}");
        }
        if (!CryptographicOperations.FixedTimeEquals(ComputeKeyCheck(key, FileId), KeyCheck))
        {
            throw new ImageCipherException(ImageError.WrongKey, key.Fingerprint == KeyFingerprint
                ? "the key does not open this file: its key check fails although the fingerprints agree (the header was altered)"
                : $"the key does not open this file: it was encrypted under key {KeyFingerprint}, the key given is {key.Fingerprint}");
        }
        if (!CryptographicOperations.FixedTimeEquals(ComputeMac(key, FileId, Bytes.AsSpan(0, Bytes.Length - MacSize)), Mac))
            throw Bad("the header was altered (its MAC does not verify under the right key)");
    }

    /// <summary>The 12-byte nonce of chunk <paramref name="index"/>: a u32 last-chunk flag, then the u64 index (big-endian).</summary>
    internal void WriteNonce(long index, Span<byte> nonce)
    {
        BinaryPrimitives.WriteUInt32BigEndian(nonce, index == ChunkCount - 1 ? 1u : 0u);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], (ulong)index);
    }

    /// <summary>Bytes of a chunk's associated data.</summary>
    internal const int AssociatedDataSize = 32 + 8 + 8 + 1;

    /// <summary>A chunk's associated data: header SHA-256, u64 index, u64 chunk count, u8 last-chunk flag.</summary>
    internal void WriteAssociatedData(long index, Span<byte> ad)
    {
        Hash.CopyTo(ad);
        BinaryPrimitives.WriteUInt64BigEndian(ad[32..], (ulong)index);
        BinaryPrimitives.WriteUInt64BigEndian(ad[40..], (ulong)ChunkCount);
        ad[48] = index == ChunkCount - 1 ? (byte)1 : (byte)0;
    }

    private static byte[] ComputeKeyCheck(ImageKey key, byte[] fileId)
    {
        var k = key.Derive(fileId, "key check");
        try
        {
            return HMACSHA256.HashData(k, KeyCheckLabel);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(k);
        }
    }

    private static byte[] ComputeMac(ImageKey key, byte[] fileId, ReadOnlySpan<byte> header)
    {
        var k = key.Derive(fileId, "header mac");
        try
        {
            return HMACSHA256.HashData(k, header);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(k);
        }
    }

    private static byte[]? Utf8(string text)
    {
        try
        {
            return StrictUtf8.GetBytes(text);
        }
        catch (EncoderFallbackException)
        {
            return null;
        }
    }

    private static string RequireId(string? id, string what) =>
        id is { Length: > 0 } && Utf8(id) is { Length: <= MaxIdBytes } ? id : throw new ArgumentException($"the {what} must be 1-{MaxIdBytes} bytes");

    private static string Id(string id, string what) => id.Length > 0 ? id : throw Bad($"the {what} is empty");

    private static ImageCipherException Bad(string message) => new(ImageError.BadHeader, message);
}
