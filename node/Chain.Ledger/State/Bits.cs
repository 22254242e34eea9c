using System.Numerics;
using Chain.Accel;

namespace Chain.Ledger.State;

/// <summary>Bit-prefix operations on 256-bit key paths (bit 0 is the most significant bit of byte 0).</summary>
internal static class Bits
{
    /// <summary><paramref name="value"/> with every bit from <paramref name="count"/> on cleared.</summary>
    public static Hash32 KeepPrefix(Hash32 value, int count)
    {
        if (count >= SparseMerkleTree.MaxDepth) return value;
        if (count <= 0) return Hash32.Zero;
        Span<byte> bytes = stackalloc byte[Hash32.Size];
        value.WriteTo(bytes);
        var full = count >> 3;
        bytes[full] &= (byte)((0xFF << (8 - (count & 7))) & 0xFF);
        bytes[(full + 1)..].Clear();
        return Hash32.FromBytes(bytes);
    }

    /// <summary><paramref name="value"/> with bit <paramref name="index"/> set.</summary>
    public static Hash32 SetBit(Hash32 value, int index)
    {
        Span<byte> bytes = stackalloc byte[Hash32.Size];
        value.WriteTo(bytes);
        bytes[index >> 3] |= (byte)(0x80 >> (index & 7));
        return Hash32.FromBytes(bytes);
    }

    /// <summary>How many leading bits <paramref name="a"/> and <paramref name="b"/> share (256 when equal).</summary>
    public static int CommonPrefixLength(Hash32 a, Hash32 b)
    {
        Span<byte> x = stackalloc byte[Hash32.Size];
        Span<byte> y = stackalloc byte[Hash32.Size];
        a.WriteTo(x);
        b.WriteTo(y);
        for (var i = 0; i < Hash32.Size; i++)
        {
            var diff = (uint)(x[i] ^ y[i]);
            if (diff != 0) return i * 8 + BitOperations.LeadingZeroCount(diff) - 24;
        }
        return SparseMerkleTree.MaxDepth;
    }

    /// <summary>
    /// In <paramref name="keys"/>, sorted ascending and sharing their first <paramref name="bit"/> bits, the index of
    /// the first key whose bit <paramref name="bit"/> is 1 (the length when there is none).
    /// </summary>
    public static int Split(ReadOnlySpan<Hash32> keys, int bit)
    {
        int lo = 0, hi = keys.Length;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) >> 1);
            if (keys[mid].Bit(bit)) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }
}
