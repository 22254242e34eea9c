using System.Buffers;
using System.Buffers.Binary;

namespace Chain.Accel;

/// <summary>
/// A 32-byte value: a SHA-256 digest or an Ed25519 public key. Immutable, compared byte-wise
/// (the order is the lexicographic order of the bytes), printed as lower-case hex.
/// </summary>
public readonly struct Hash32 : IEquatable<Hash32>, IComparable<Hash32>
{
    public const int Size = 32;

    private readonly ulong _a, _b, _c, _d;

    private Hash32(ulong a, ulong b, ulong c, ulong d) => (_a, _b, _c, _d) = (a, b, c, d);

    /// <summary>The all-zero value.</summary>
    public static Hash32 Zero => default;

    public bool IsZero => (_a | _b | _c | _d) == 0;

    public static Hash32 FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size) throw new ArgumentException($"expected {Size} bytes, got {bytes.Length}", nameof(bytes));
        return new Hash32(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    /// <summary>SHA-256 of <paramref name="data"/>.</summary>
    public static Hash32 Sha256(ReadOnlySpan<byte> data) => Hashing.Sha256(data);

    /// <summary>Parses 64 hex characters; throws <see cref="FormatException"/> otherwise.</summary>
    public static Hash32 Parse(string hex)
    {
        if (hex is null || hex.Length != Size * 2) throw new FormatException($"expected {Size * 2} hex characters");
        return FromBytes(Convert.FromHexString(hex));
    }

    public static bool TryParse(string? hex, out Hash32 value)
    {
        value = default;
        if (hex is null || hex.Length != Size * 2) return false;
        Span<byte> bytes = stackalloc byte[Size];
        if (Convert.FromHexString(hex, bytes, out _, out var written) != OperationStatus.Done || written != Size)
            return false;
        value = FromBytes(bytes);
        return true;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Bit <paramref name="index"/> counted from the most significant bit of byte 0.</summary>
    public bool Bit(int index)
    {
        ulong word = (index >> 6) switch { 0 => _a, 1 => _b, 2 => _c, 3 => _d, _ => throw new ArgumentOutOfRangeException(nameof(index)) };
        return ((word >> (63 - (index & 63))) & 1) != 0;
    }

    public bool Equals(Hash32 other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is Hash32 h && Equals(h);

    public override int GetHashCode() => unchecked((int)(_a ^ (_a >> 32)));

    public int CompareTo(Hash32 other)
    {
        var c = _a.CompareTo(other._a);
        if (c != 0) return c;
        c = _b.CompareTo(other._b);
        if (c != 0) return c;
        c = _c.CompareTo(other._c);
        return c != 0 ? c : _d.CompareTo(other._d);
    }

    public static bool operator ==(Hash32 left, Hash32 right) => left.Equals(right);

    public static bool operator !=(Hash32 left, Hash32 right) => !left.Equals(right);

    public static bool operator <(Hash32 left, Hash32 right) => left.CompareTo(right) < 0;

    public static bool operator >(Hash32 left, Hash32 right) => left.CompareTo(right) > 0;

    public static bool operator <=(Hash32 left, Hash32 right) => left.CompareTo(right) <= 0;

    public static bool operator >=(Hash32 left, Hash32 right) => left.CompareTo(right) >= 0;

    public override string ToString() => Convert.ToHexStringLower(ToArray());

    /// <summary>The first 8 hex characters, for logs and tables.</summary>
    public string Short => ToString()[..8];
}
