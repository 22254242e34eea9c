using System.Buffers.Binary;
using System.Text;

namespace Chain.Accel.Encoding;

/// <summary>
/// Strict reader for the canonical encoding: every read is bounds-checked, lengths are checked
/// against a caller-given maximum before anything is allocated, booleans must be 0 or 1, strings
/// must be valid UTF-8, and <see cref="End"/> rejects trailing bytes. Every failure is a
/// <see cref="CanonicalDecodeException"/> naming the field.
/// </summary>
public ref struct CanonicalReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public CanonicalReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _data.Length - _position;

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count < 0 || count > Remaining)
            throw new CanonicalDecodeException(field, $"needs {count} bytes, {Remaining} left");
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    public byte U8(string field) => Take(1, field)[0];

    public ushort U16(string field) => BinaryPrimitives.ReadUInt16BigEndian(Take(2, field));

    public uint U32(string field) => BinaryPrimitives.ReadUInt32BigEndian(Take(4, field));

    public ulong U64(string field) => BinaryPrimitives.ReadUInt64BigEndian(Take(8, field));

    public long I64(string field) => BinaryPrimitives.ReadInt64BigEndian(Take(8, field));

    public bool Bool(string field) => U8(field) switch
    {
        0 => false,
        1 => true,
        var b => throw new CanonicalDecodeException(field, $"boolean must be 0 or 1, got {b}"),
    };

    public Hash32 Hash(string field) => Hash32.FromBytes(Take(Hash32.Size, field));

    /// <summary>Exactly <paramref name="count"/> raw bytes.</summary>
    public ReadOnlySpan<byte> Fixed(int count, string field) => Take(count, field);

    /// <summary>A u32 length (at most <paramref name="max"/>), then that many bytes.</summary>
    public ReadOnlySpan<byte> Bytes(int max, string field)
    {
        var length = U32(field);
        if (length > (uint)Math.Max(max, 0))
            throw new CanonicalDecodeException(field, $"length {length} exceeds limit {max}", tooLarge: true);
        return Take((int)length, field);
    }

    /// <summary>A length-prefixed UTF-8 string of at most <paramref name="maxBytes"/> bytes.</summary>
    public string String(int maxBytes, string field)
    {
        var bytes = Bytes(maxBytes, field);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new CanonicalDecodeException(field, "not valid UTF-8");
        }
    }

    /// <summary>A u32 element count, checked against <paramref name="max"/> before any allocation.</summary>
    public int Count(int max, string field)
    {
        var count = U32(field);
        if (count > (uint)Math.Max(max, 0))
            throw new CanonicalDecodeException(field, $"count {count} exceeds limit {max}", tooLarge: true);
        return (int)count;
    }

    /// <summary>Checks a one-byte type tag and a one-byte format version.</summary>
    public void Header(byte tag, byte version, string type)
    {
        var t = U8(type + ".tag");
        if (t != tag) throw new CanonicalDecodeException(type + ".tag", $"expected 0x{tag:x2}, got 0x{t:x2}");
        var v = U8(type + ".version");
        if (v != version) throw new CanonicalDecodeException(type + ".version", $"unsupported version {v}");
    }

    /// <summary>Rejects trailing bytes.</summary>
    public readonly void End(string type)
    {
        if (Remaining != 0) throw new CanonicalDecodeException(type, $"{Remaining} trailing bytes");
    }
}

/// <summary>Bytes that are not the canonical encoding; <see cref="Field"/> names where.</summary>
public sealed class CanonicalDecodeException(string field, string message, bool tooLarge = false)
    : FormatException($"{field}: {message}")
{
    public string Field { get; } = field;

    /// <summary>True when a length or count exceeded its limit (rather than the bytes being malformed).</summary>
    public bool TooLarge { get; } = tooLarge;

    public string Reason { get; } = message;
}
