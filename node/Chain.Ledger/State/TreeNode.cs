using Chain.Accel;
using Chain.Accel.Encoding;

namespace Chain.Ledger.State;

/// <summary>
/// A stored node of the state tree (see <see cref="SparseMerkleTree"/>). Encoding, 65 bytes: the node's hash tag
/// (0x10 leaf, 0x11 internal) then its two 32-byte fields, which is exactly the preimage of its hash, so
/// <c>Hash == SHA-256(Encode())</c>. An internal node with two empty children never occurs and does not decode.
/// </summary>
public abstract record TreeNode
{
    public const int EncodedSize = 1 + 2 * Hash32.Size;

    private protected TreeNode()
    {
    }

    /// <summary>The node's hash, computed once when it is created.</summary>
    public abstract Hash32 Hash { get; }

    public abstract byte[] Encode();

    /// <summary>Decodes a leaf or internal node; throws <see cref="DecodeException"/> on anything else.</summary>
    public static TreeNode Decode(ReadOnlySpan<byte> bytes) => DecodeException.Translate(bytes, DecodeCanonical);

    private static TreeNode DecodeCanonical(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var tag = r.U8("treeNode.tag");
        if (tag is not (SparseMerkleTree.LeafTag or SparseMerkleTree.InternalTag))
            throw new DecodeException("treeNode.tag", $"expected 0x10 or 0x11, got 0x{tag:x2}");
        var first = r.Hash("treeNode.first");
        var second = r.Hash("treeNode.second");
        r.End("treeNode");
        if (tag == SparseMerkleTree.LeafTag) return new LeafNode(first, second);
        if (first.IsZero && second.IsZero)
            throw new DecodeException("treeNode", "an internal node must have a non-empty child");
        return new InternalNode(first, second);
    }

    private protected static byte[] Encode(byte tag, Hash32 first, Hash32 second) =>
        new CanonicalWriter(EncodedSize).U8(tag).Hash(first).Hash(second).ToArray();
}

/// <summary>A leaf: one key (by its key hash) and the digest of its version and value.</summary>
public sealed record LeafNode(Hash32 KeyHash, Hash32 ValueDigest) : TreeNode
{
    private readonly Hash32 _keyHash = KeyHash;
    private readonly Hash32 _valueDigest = ValueDigest;
    private readonly Hash32 _hash = SparseMerkleTree.LeafHash(KeyHash, ValueDigest);

    public Hash32 KeyHash
    {
        get => _keyHash;
        init
        {
            _keyHash = value;
            _hash = SparseMerkleTree.LeafHash(_keyHash, _valueDigest);
        }
    }

    public Hash32 ValueDigest
    {
        get => _valueDigest;
        init
        {
            _valueDigest = value;
            _hash = SparseMerkleTree.LeafHash(_keyHash, _valueDigest);
        }
    }

    /// <summary>SHA-256(0x10 || KeyHash || ValueDigest).</summary>
    public override Hash32 Hash => _hash;

    public override byte[] Encode() => Encode(SparseMerkleTree.LeafTag, _keyHash, _valueDigest);
}

/// <summary>An internal node: the hashes of its two children (<see cref="Hash32.Zero"/> for an empty one).</summary>
public sealed record InternalNode(Hash32 Left, Hash32 Right) : TreeNode
{
    private readonly Hash32 _left = Left;
    private readonly Hash32 _right = Right;
    private readonly Hash32 _hash = SparseMerkleTree.InternalHash(Left, Right);

    public Hash32 Left
    {
        get => _left;
        init
        {
            _left = value;
            _hash = SparseMerkleTree.InternalHash(_left, _right);
        }
    }

    public Hash32 Right
    {
        get => _right;
        init
        {
            _right = value;
            _hash = SparseMerkleTree.InternalHash(_left, _right);
        }
    }

    /// <summary>SHA-256(0x11 || Left || Right).</summary>
    public override Hash32 Hash => _hash;

    public override byte[] Encode() => Encode(SparseMerkleTree.InternalTag, _left, _right);
}
