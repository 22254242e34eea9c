using System.Buffers;
using System.Buffers.Binary;

namespace Chain.Accel.Encoding;

/// <summary>
/// Writes the canonical encoding (see ENCODING.md): fixed-width big-endian integers, u32 length
/// prefixes for byte strings and lists, fields in a fixed order with no tags.
/// </summary>
public sealed class CanonicalWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public CanonicalWriter(int initialCapacity = 256) => _buffer = new ArrayBufferWriter<byte>(initialCapacity);

    public int Length => _buffer.WrittenCount;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public CanonicalWriter U8(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public CanonicalWriter U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
        return this;
    }

    public CanonicalWriter U32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public CanonicalWriter U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public CanonicalWriter I64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public CanonicalWriter Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    public CanonicalWriter Hash(Hash32 value)
    {
        value.WriteTo(_buffer.GetSpan(Hash32.Size));
        _buffer.Advance(Hash32.Size);
        return this;
    }

    /// <summary>Raw bytes with no length prefix (for fixed-size fields such as signatures).</summary>
    public CanonicalWriter Fixed(ReadOnlySpan<byte> bytes)
    {
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>A u32 length prefix, then the bytes.</summary>
    public CanonicalWriter Bytes(ReadOnlySpan<byte> bytes)
    {
        U32((uint)bytes.Length);
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>UTF-8 bytes with a u32 length prefix.</summary>
    public CanonicalWriter String(string value)
    {
        var count = System.Text.Encoding.UTF8.GetByteCount(value);
        U32((uint)count);
        System.Text.Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count));
        _buffer.Advance(count);
        return this;
    }
}
