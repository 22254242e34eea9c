using NSec.Cryptography;

namespace Chain.Accel;

/// <summary>An Ed25519 public key (32 bytes), printed as hex.</summary>
public readonly record struct PublicKey(Hash32 Raw)
{
    public static PublicKey FromBytes(ReadOnlySpan<byte> bytes) => new(Hash32.FromBytes(bytes));

    public static PublicKey Parse(string hex) => new(Hash32.Parse(hex));

    public override string ToString() => Raw.ToString();
}

/// <summary>An Ed25519 signature (64 bytes). Immutable; equality is byte-wise.</summary>
public readonly struct Signature : IEquatable<Signature>
{
    public const int Size = 64;

    private readonly byte[]? _bytes;

    public Signature(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size) throw new ArgumentException($"expected {Size} bytes, got {bytes.Length}", nameof(bytes));
        _bytes = bytes.ToArray();
    }

    public ReadOnlySpan<byte> Span => _bytes ?? new byte[Size];

    public bool Equals(Signature other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is Signature s && Equals(s);

    public override int GetHashCode() => BitConverter.ToInt32(Span);

    public static bool operator ==(Signature left, Signature right) => left.Equals(right);

    public static bool operator !=(Signature left, Signature right) => !left.Equals(right);

    public override string ToString() => Convert.ToHexStringLower(Span);
}

/// <summary>Ed25519 verification (libsodium through NSec). Verification never throws on bad input.</summary>
public static class Ed25519
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;

    /// <summary>True only when <paramref name="signature"/> is a valid signature of <paramref name="message"/>.</summary>
    public static bool Verify(PublicKey key, ReadOnlySpan<byte> message, Signature signature)
    {
        Span<byte> raw = stackalloc byte[Hash32.Size];
        key.Raw.WriteTo(raw);
        if (!NSec.Cryptography.PublicKey.TryImport(Algorithm, raw, KeyBlobFormat.RawPublicKey, out var nsecKey) || nsecKey is null)
            return false;
        return Algorithm.Verify(nsecKey, message, signature.Span);
    }
}

/// <summary>An Ed25519 private key held in libsodium-managed memory.</summary>
public sealed class SigningKey : IDisposable
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;

    private readonly Key _key;

    private SigningKey(Key key)
    {
        _key = key;
        PublicKey = PublicKey.FromBytes(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public PublicKey PublicKey { get; }

    /// <summary>A fresh key from the operating system's random source.</summary>
    public static SigningKey Generate() => new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>A key from its 32-byte seed (the RFC 8032 private key).</summary>
    public static SigningKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32) throw new ArgumentException("an Ed25519 seed is 32 bytes", nameof(seed));
        return new(Key.Import(Algorithm, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    /// <summary>The 32-byte seed. Handle with care: whoever has it can sign as this key.</summary>
    public byte[] ExportSeed() => _key.Export(KeyBlobFormat.RawPrivateKey);

    public Signature Sign(ReadOnlySpan<byte> message)
    {
        Span<byte> sig = stackalloc byte[Signature.Size];
        Algorithm.Sign(_key, message, sig);
        return new Signature(sig);
    }

    public void Dispose() => _key.Dispose();
}
