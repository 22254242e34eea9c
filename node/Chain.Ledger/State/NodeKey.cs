using Chain.Accel;
using Chain.Accel.Encoding;

namespace Chain.Ledger.State;

/// <summary>
/// A position in the state tree: the subtree of every key hash whose first <see cref="Depth"/> bits equal those of
/// <see cref="Prefix"/>. Depth is 0 (the root) to 256 (one full key path); the bits of Prefix from Depth on are zero.
/// <para>
/// Encoding (33 bytes, the storage key of the node at this position): the Depth prefix bits, then a single 1 bit
/// (the sentinel), then zero bits up to 264. Depth 256 does not fit beside 256 prefix bits in a depth byte, so the
/// depth is the position of the last 1 bit instead: the root is 0x80 followed by 32 zero bytes, and a depth-256 key
/// is the 32 prefix bytes followed by 0x80. Every 33-byte string with its last 1 bit at index 0..256 decodes to
/// exactly one key; the all-zero string and a last 1 bit past 256 are rejected. Positions in one subtree share the
/// leading bytes of their encoding, which keeps a path's nodes close together in a sorted store.
/// </para>
/// </summary>
public readonly record struct NodeKey
{
    public const int EncodedSize = 33;

    /// <summary>
    /// Creates a position; throws if the depth is outside 0..256 or prefix bits from depth on are not zero.
    /// </summary>
    public NodeKey(int depth, Hash32 prefix)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(depth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, SparseMerkleTree.MaxDepth);
        if (Bits.KeepPrefix(prefix, depth) != prefix)
            throw new ArgumentException($"prefix has bits set at or after depth {depth}", nameof(prefix));
        Depth = depth;
        Prefix = prefix;
    }

    /// <summary>Unchecked: the caller guarantees the invariants.</summary>
    private NodeKey(Hash32 prefix, int depth)
    {
        Depth = depth;
        Prefix = prefix;
    }

    public int Depth { get; }

    public Hash32 Prefix { get; }

    /// <summary>The root position (depth 0).</summary>
    public static NodeKey Root => default;

    /// <summary>The position at <paramref name="depth"/> on the path of <paramref name="keyHash"/>.</summary>
    public static NodeKey OnPath(Hash32 keyHash, int depth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(depth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, SparseMerkleTree.MaxDepth);
        return new NodeKey(Bits.KeepPrefix(keyHash, depth), depth);
    }

    /// <summary>The left (bit <see cref="Depth"/> = 0) or right (= 1) child position. Throws at depth 256.</summary>
    public NodeKey Child(bool right)
    {
        if (Depth >= SparseMerkleTree.MaxDepth)
            throw new InvalidOperationException("a depth-256 position has no children");
        return new NodeKey(right ? Bits.SetBit(Prefix, Depth) : Prefix, Depth + 1);
    }

    public void Deconstruct(out int depth, out Hash32 prefix) => (depth, prefix) = (Depth, Prefix);

    public byte[] Encode()
    {
        var bytes = new byte[EncodedSize];
        Prefix.WriteTo(bytes);
        bytes[Depth >> 3] |= (byte)(0x80 >> (Depth & 7));
        return bytes;
    }

    /// <summary>
    /// Decodes the 33-byte form written by <see cref="Encode"/>; throws <see cref="DecodeException"/>.
    /// </summary>
    public static NodeKey Decode(ReadOnlySpan<byte> bytes) => DecodeException.Translate(bytes, DecodeCanonical);

    private static NodeKey DecodeCanonical(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var raw = r.Fixed(EncodedSize, "nodeKey");
        r.End("nodeKey");
        var last = raw.LastIndexOfAnyExcept((byte)0);
        if (last < 0) throw new DecodeException("nodeKey", "no sentinel bit");
        var depth = last * 8 + 7 - System.Numerics.BitOperations.TrailingZeroCount((uint)raw[last]);
        if (depth > SparseMerkleTree.MaxDepth) throw new DecodeException("nodeKey", $"depth {depth} exceeds 256");
        Span<byte> prefix = stackalloc byte[Hash32.Size];
        raw[..Hash32.Size].CopyTo(prefix);
        if (depth < SparseMerkleTree.MaxDepth) prefix[depth >> 3] &= (byte)(~(0x80 >> (depth & 7)) & 0xFF);
        return new NodeKey(Hash32.FromBytes(prefix), depth);
    }

    public override string ToString() => $"{Depth}:{Prefix}";
}
