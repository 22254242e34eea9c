using System.Security.Cryptography;

namespace Chain.Ledger.Crypto;

/// <summary>Domain-separated SHA-256 helpers shared by the Merkle and state trees.</summary>
public static class Hashing
{
    /// <summary>SHA-256(tag || a).</summary>
    public static Hash32 Tagged(byte tag, ReadOnlySpan<byte> a)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ReadOnlySpan<byte> t = [tag];
        h.AppendData(t);
        h.AppendData(a);
        Span<byte> digest = stackalloc byte[Hash32.Size];
        h.GetHashAndReset(digest);
        return Hash32.FromBytes(digest);
    }

    /// <summary>SHA-256(tag || left || right) over two 32-byte values, without allocating.</summary>
    public static Hash32 Tagged(byte tag, Hash32 left, Hash32 right)
    {
        Span<byte> buffer = stackalloc byte[1 + 2 * Hash32.Size];
        buffer[0] = tag;
        left.WriteTo(buffer[1..]);
        right.WriteTo(buffer[(1 + Hash32.Size)..]);
        return Hash32.Sha256(buffer);
    }
}
