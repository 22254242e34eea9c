using Chain.Accel;
using Chain.Accel.Encoding;

namespace Chain.Ledger.State;

/// <summary>
/// The world-state commitment: a compressed binary sparse Merkle tree over every (key, version, value) in the state.
/// Pure and deterministic: no clock, randomness or I/O; nodes are read through <see cref="ITreeNodeReader"/> and
/// the changes to write are returned, never applied here.
/// <list type="bullet">
/// <item><b>Key path.</b> keyHash = SHA-256(0x12 || key bytes): 256 bits, bit i counted from the most significant
/// bit of byte 0 (<see cref="Hash32.Bit"/>). Bit i = 0 goes left at depth i, 1 goes right.</item>
/// <item><b>Value digest.</b> valueDigest = SHA-256(0x13 || version as u64 big-endian || value bytes).</item>
/// <item><b>Hashes.</b> leaf = SHA-256(0x10 || keyHash || valueDigest); internal = SHA-256(0x11 || left || right);
/// the empty subtree hashes to <see cref="Hash32.Zero"/>.</item>
/// <item><b>Canonical shape.</b> A position (<see cref="NodeKey"/>: a depth and the first depth bits of a path)
/// stands for the subtree of all leaves whose key hash starts with those bits. A subtree with 0 leaves is empty and
/// nothing is stored there; with exactly 1 leaf it is that leaf node, stored at the subtree's own position (lifted:
/// no chain of single-child internal nodes above a lone leaf); with 2 or more leaves it is an internal node whose
/// children are the two half-subtrees. So an internal node may have one empty child, but only when the other child
/// holds at least 2 leaves (two leaves sharing a long prefix sit below a chain of such nodes down to the depth of
/// their first differing bit). The shape, hence every stored node, depends only on the set of leaves.</item>
/// <item><b>Root.</b> The hash of the subtree at depth 0: <see cref="Hash32.Zero"/> for an empty state.</item>
/// </list>
/// An <see cref="Update"/> of k changes reads and rehashes only the nodes on the k changed paths (about
/// k × log2 N hashes for N leaves), plus one sibling per removed leaf when a lone leaf has to be lifted.
/// </summary>
public static class SparseMerkleTree
{
    /// <summary>Bits in a key path, and the deepest position.</summary>
    public const int MaxDepth = 256;

    public const byte LeafTag = 0x10;
    public const byte InternalTag = 0x11;
    public const byte KeyTag = 0x12;
    public const byte ValueTag = 0x13;

    /// <summary>SHA-256(0x12 || key): the key's 256-bit path.</summary>
    public static Hash32 KeyHash(ReadOnlySpan<byte> key) => Hashing.Tagged(KeyTag, key);

    /// <summary>SHA-256(0x13 || version (u64 big-endian) || value).</summary>
    public static Hash32 ValueDigest(ulong version, ReadOnlySpan<byte> value) =>
        Hashing.Tagged(ValueTag, new CanonicalWriter(8 + value.Length).U64(version).Fixed(value).WrittenSpan);

    /// <summary>SHA-256(0x10 || keyHash || valueDigest).</summary>
    public static Hash32 LeafHash(Hash32 keyHash, Hash32 valueDigest) => Hashing.Tagged(LeafTag, keyHash, valueDigest);

    /// <summary>SHA-256(0x11 || left || right).</summary>
    public static Hash32 InternalHash(Hash32 left, Hash32 right) => Hashing.Tagged(InternalTag, left, right);

    /// <summary>The root of the tree held by <paramref name="nodes"/> (<see cref="Hash32.Zero"/> when empty).</summary>
    public static Hash32 Root(ITreeNodeReader nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        return nodes.Get(NodeKey.Root)?.Hash ?? Hash32.Zero;
    }

    /// <summary>
    /// Applies <paramref name="changes"/> (key hash → new value digest, or null to delete; deleting an absent key is
    /// a no-op) to the canonical tree held by <paramref name="nodes"/>, reading only nodes on the changed paths.
    /// Returns the new root and every position to write or delete so that applying the changes to the store yields
    /// the canonical tree of the new leaf set; changes that alter nothing produce no entries. The order of
    /// <paramref name="changes"/> does not matter, but a key hash may appear only once (else
    /// <see cref="ArgumentException"/>). Throws <see cref="LedgerException"/> (<see cref="LedgerError.StoreCorrupt"/>)
    /// when a stored node does not match the hash its parent records.
    /// </summary>
    public static TreeUpdate Update(ITreeNodeReader nodes, IReadOnlyList<(Hash32 KeyHash, Hash32? ValueDigest)> changes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(changes);
        var keys = new Hash32[changes.Count];
        var digests = new Hash32?[changes.Count];
        for (var i = 0; i < keys.Length; i++) (keys[i], digests[i]) = changes[i];
        Array.Sort(keys, digests);
        for (var i = 1; i < keys.Length; i++)
        {
            if (keys[i] == keys[i - 1])
                throw new ArgumentException($"key hash {keys[i]} appears more than once", nameof(changes));
        }
        var updater = new Updater(nodes, keys, digests);
        var root = updater.Apply(NodeKey.Root, nodes.Get(NodeKey.Root), 0, keys.Length);
        return new TreeUpdate(root.Hash, updater.Changes);
    }

    /// <summary>
    /// The root of the canonical tree over <paramref name="leaves"/>, computed from scratch (the reference that
    /// <see cref="Update"/> must agree with). Throws <see cref="ArgumentException"/> on a repeated key hash.
    /// </summary>
    public static Hash32 ComputeRoot(IEnumerable<(Hash32 KeyHash, Hash32 ValueDigest)> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        var all = leaves.ToArray();
        var keys = new Hash32[all.Length];
        var digests = new Hash32[all.Length];
        for (var i = 0; i < all.Length; i++) (keys[i], digests[i]) = all[i];
        Array.Sort(keys, digests);
        for (var i = 1; i < keys.Length; i++)
        {
            if (keys[i] == keys[i - 1])
                throw new ArgumentException($"key hash {keys[i]} appears more than once", nameof(leaves));
        }
        return SubtreeHash(0, keys, digests);
    }

    private static Hash32 SubtreeHash(int depth, ReadOnlySpan<Hash32> keys, ReadOnlySpan<Hash32> digests)
    {
        if (keys.Length == 0) return Hash32.Zero;
        if (keys.Length == 1) return LeafHash(keys[0], digests[0]);
        var mid = Bits.Split(keys, depth);
        return InternalHash(SubtreeHash(depth + 1, keys[..mid], digests[..mid]),
            SubtreeHash(depth + 1, keys[mid..], digests[mid..]));
    }

    /// <summary>
    /// The proof for <paramref name="keyHash"/>: the siblings along its path from the root down, ending at the leaf
    /// met there (this key's, proving its value, or another key's sharing the path, proving absence) or at an
    /// empty subtree (proving absence).
    /// </summary>
    public static StateProof Prove(ITreeNodeReader nodes, Hash32 keyHash)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var siblings = new List<Hash32>();
        var position = NodeKey.Root;
        var node = nodes.Get(position);
        while (node is InternalNode inner)
        {
            var right = keyHash.Bit(position.Depth);
            siblings.Add(right ? inner.Left : inner.Right);
            position = ChildOf(position, right);
            node = Load(nodes, position, right ? inner.Right : inner.Left);
        }
        return new StateProof(keyHash, siblings, CheckTerminal(node, position));
    }

    private static NodeKey ChildOf(NodeKey position, bool right) =>
        position.Depth < MaxDepth ? position.Child(right) : throw Corrupt(position, "internal node at depth 256");

    private static LeafNode? CheckTerminal(TreeNode? node, NodeKey position) => node switch
    {
        null => null,
        LeafNode leaf => leaf,
        _ => throw Corrupt(position, $"unknown node type {node.GetType().Name}"),
    };

    /// <summary>The node at <paramref name="position"/>, checked against the hash its parent records.</summary>
    private static TreeNode? Load(ITreeNodeReader nodes, NodeKey position, Hash32 expected)
    {
        if (expected.IsZero) return null;
        var node = nodes.Get(position) ?? throw Corrupt(position, $"missing node {expected.Short}");
        if (node.Hash != expected)
            throw Corrupt(position, $"node hash {node.Hash.Short}, parent expects {expected.Short}");
        return node;
    }

    private static LedgerException Corrupt(NodeKey position, string message) =>
        new(LedgerError.StoreCorrupt, $"state tree at {position}: {message}");

    /// <summary>A subtree after an update: its hash, and its root node when known (null if empty or unread).</summary>
    private readonly record struct Subtree(Hash32 Hash, TreeNode? Node)
    {
        public static Subtree Empty => default;

        public bool IsEmpty => Hash.IsZero;

        public static Subtree Of(TreeNode? node) => node is null ? Empty : new Subtree(node.Hash, node);
    }

    private sealed class Updater(ITreeNodeReader nodes, Hash32[] keys, Hash32?[] digests)
    {
        public Dictionary<NodeKey, TreeNode?> Changes { get; } = [];

        /// <summary>
        /// Applies changes [lo, hi) (all on paths through <paramref name="position"/>) to the subtree whose stored root
        /// is <paramref name="current"/>, records the writes and deletes, and returns the new subtree.
        /// </summary>
        public Subtree Apply(NodeKey position, TreeNode? current, int lo, int hi)
        {
            if (lo == hi) return Subtree.Of(current);
            switch (current)
            {
                case InternalNode inner:
                    return ApplyInternal(position, inner, lo, hi);
                case LeafNode or null:
                    return Rebuild(position, (LeafNode?)current, lo, hi);
                default:
                    throw Corrupt(position, $"unknown node type {current.GetType().Name}");
            }
        }

        private Subtree ApplyInternal(NodeKey position, InternalNode inner, int lo, int hi)
        {
            var mid = lo + Bits.Split(keys.AsSpan(lo, hi - lo), position.Depth);
            var leftKey = ChildOf(position, false);
            var rightKey = ChildOf(position, true);
            var left = lo < mid
                ? Apply(leftKey, Load(nodes, leftKey, inner.Left), lo, mid)
                : new Subtree(inner.Left, null);
            var right = mid < hi
                ? Apply(rightKey, Load(nodes, rightKey, inner.Right), mid, hi)
                : new Subtree(inner.Right, null);
            if (left.Hash == inner.Left && right.Hash == inner.Right) return new Subtree(inner.Hash, inner);

            if (left.IsEmpty && right.IsEmpty)
            {
                Changes[position] = null;
                return Subtree.Empty;
            }
            if (left.IsEmpty || right.IsEmpty)
            {
                var (only, onlyKey) = left.IsEmpty ? (right, rightKey) : (left, leftKey);
                if ((only.Node ?? Load(nodes, onlyKey, only.Hash)) is LeafNode leaf)
                {
                    // A lone leaf below: lift it here. Overrides any write the child made at its own position.
                    Changes[onlyKey] = null;
                    Changes[position] = leaf;
                    return new Subtree(leaf.Hash, leaf);
                }
            }
            var node = new InternalNode(left.Hash, right.Hash);
            Changes[position] = node;
            return new Subtree(node.Hash, node);
        }

        /// <summary>
        /// The subtree at <paramref name="position"/> holds at most one leaf (<paramref name="current"/>), so nothing
        /// is stored below it: merge that leaf with the changes and build the new subtree from scratch.
        /// </summary>
        private Subtree Rebuild(NodeKey position, LeafNode? current, int lo, int hi)
        {
            var oldIndex = current is null ? -1 : Array.BinarySearch(keys, lo, hi - lo, current.KeyHash);
            var keepOld = current is not null && oldIndex < 0;
            var count = keepOld ? 1 : 0;
            var single = -1;
            for (var i = lo; i < hi; i++)
            {
                if (digests[i] is null) continue;
                count++;
                single = i;
            }

            if (count == 0)
            {
                if (current is not null) Changes[position] = null;
                return Subtree.Empty;
            }
            if (count == 1)
            {
                if (keepOld) return new Subtree(current!.Hash, current);
                var leaf = new LeafNode(keys[single], digests[single]!.Value);
                if (leaf == current) return new Subtree(current.Hash, current);
                Changes[position] = leaf;
                return new Subtree(leaf.Hash, leaf);
            }

            var mergedKeys = new Hash32[count];
            var mergedDigests = new Hash32[count];
            var n = 0;
            var insertAt = keepOld ? ~oldIndex : int.MaxValue;
            for (var i = lo; i <= hi; i++)
            {
                if (i == insertAt)
                {
                    mergedKeys[n] = current!.KeyHash;
                    mergedDigests[n++] = current.ValueDigest;
                }
                if (i < hi && digests[i] is { } digest)
                {
                    mergedKeys[n] = keys[i];
                    mergedDigests[n++] = digest;
                }
            }
            return Build(position, mergedKeys, mergedDigests);
        }

        /// <summary>Writes the canonical subtree of ≥ 1 sorted leaves at an empty position; returns it.</summary>
        private Subtree Build(NodeKey position, ReadOnlySpan<Hash32> leafKeys, ReadOnlySpan<Hash32> leafDigests)
        {
            if (leafKeys.Length == 0) return Subtree.Empty;
            TreeNode node;
            if (leafKeys.Length == 1)
            {
                node = new LeafNode(leafKeys[0], leafDigests[0]);
            }
            else
            {
                var mid = Bits.Split(leafKeys, position.Depth);
                var left = Build(position.Child(false), leafKeys[..mid], leafDigests[..mid]);
                var right = Build(position.Child(true), leafKeys[mid..], leafDigests[mid..]);
                node = new InternalNode(left.Hash, right.Hash);
            }
            Changes[position] = node;
            return new Subtree(node.Hash, node);
        }
    }
}
