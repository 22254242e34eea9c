using System.Security.Cryptography;
using System.Text;

namespace Chain.Client.Imaging;

/// <summary>Where an image's master key came from (recorded in the header; never the key itself).</summary>
public enum ImageKeyKind : byte
{
    /// <summary>A key the user holds, typically an image key file; identified by its fingerprint.</summary>
    KeyFile = 1,

    /// <summary>A secret released through the share-custody contract (custody id, epoch, release request).</summary>
    Custody = 2,
}

/// <summary>The key source an image header records: for custody, where to get the key released again.</summary>
public sealed record ImageKeySource
{
    private ImageKeySource(ImageKeyKind kind, string? chainId, string? custodyId, int epoch, string? requestId)
    {
        Kind = kind;
        ChainId = chainId;
        CustodyId = custodyId;
        Epoch = epoch;
        RequestId = requestId;
    }

    public ImageKeyKind Kind { get; }

    /// <summary>The chain holding the custody record (custody only).</summary>
    public string? ChainId { get; }

    /// <summary>The custody record's (secret's) id (custody only).</summary>
    public string? CustodyId { get; }

    /// <summary>The custody epoch when the file was encrypted (informational: refreshes keep the secret).</summary>
    public int Epoch { get; }

    /// <summary>The release request the encrypting party combined (custody only; a decrypting party may use its own).</summary>
    public string? RequestId { get; }

    public static ImageKeySource KeyFile { get; } = new(ImageKeyKind.KeyFile, null, null, 0, null);

    public static ImageKeySource Custody(string chainId, string custodyId, int epoch, string requestId)
    {
        ArgumentException.ThrowIfNullOrEmpty(chainId);
        ArgumentException.ThrowIfNullOrEmpty(custodyId);
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return new(ImageKeyKind.Custody, chainId, custodyId, epoch, requestId);
    }

    public override string ToString() => Kind == ImageKeyKind.KeyFile
        ? "key file"
        : $"custody {CustodyId} on chain {ChainId} (epoch {Epoch}, release {RequestId})";
}

/// <summary>
/// A 32-byte image master key and where it came from. Files are never encrypted under it directly: each file's AES-256
/// key, key check key and header MAC key are derived from it with HKDF-SHA256 and the file's random 32-byte id (see
/// IMAGE-FORMAT.md), so nonces never repeat across files under one master key. Disposing zeroes the key.
/// </summary>
public sealed class ImageKey : IDisposable
{
    public const int Size = 32;

    /// <summary>Bytes of <see cref="FingerprintBytes"/>.</summary>
    public const int FingerprintSize = 16;

    private static readonly byte[] FingerprintLabel = "chain-image/v1 key fingerprint"u8.ToArray();
    private readonly byte[] _key;
    private bool _disposed;

    private ImageKey(byte[] key, ImageKeySource source)
    {
        _key = key;
        Source = source;
        FingerprintBytes = HMACSHA256.HashData(key, FingerprintLabel)[..FingerprintSize];
        Fingerprint = Convert.ToHexStringLower(FingerprintBytes);
    }

    public ImageKeySource Source { get; }

    /// <summary>HMAC-SHA256(key, "chain-image/v1 key fingerprint"), first 16 bytes: names the key without revealing it.</summary>
    public byte[] FingerprintBytes { get; }

    /// <summary><see cref="FingerprintBytes"/> as 32 lowercase hex characters.</summary>
    public string Fingerprint { get; }

    /// <summary>A fresh random key from the operating system's CSPRNG.</summary>
    public static ImageKey Create(ImageKeySource? source = null) => new(RandomNumberGenerator.GetBytes(Size), source ?? ImageKeySource.KeyFile);

    public static ImageKey FromBytes(ReadOnlySpan<byte> key, ImageKeySource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (key.Length != Size) throw new ArgumentException($"an image key is {Size} bytes, got {key.Length}", nameof(key));
        return new(key.ToArray(), source);
    }

    /// <summary>The same key with another recorded source.</summary>
    public ImageKey WithSource(ImageKeySource source) => FromBytes(Bytes, source);

    internal ReadOnlySpan<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    /// <summary>HKDF-SHA256(ikm = key, salt = file id, info = "chain-image/v1 " + purpose), 32 bytes.</summary>
    internal byte[] Derive(ReadOnlySpan<byte> fileId, string purpose)
    {
        var output = new byte[Size];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Bytes, output, fileId, Encoding.ASCII.GetBytes("chain-image/v1 " + purpose));
        return output;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(_key);
    }
}
