using Chain.Accel;
using Chain.Accel.Offload;

namespace Chain.Ledger.Merkle;

/// <summary>
/// The binary Merkle tree over a block's transactions, as in RFC 6962 (Certificate Transparency):
/// leaf = SHA-256(0x00 || leaf data), inner = SHA-256(0x01 || left || right), and an odd node at the
/// end of a level is carried up unchanged (never duplicated, so no two leaf lists share a root the
/// way Bitcoin's CVE-2012-2459 allowed). The root of no leaves is SHA-256 of the empty string.
/// Computed one level at a time, which is also the unit an accelerator takes.
/// </summary>
public static class MerkleTree
{
    public const byte LeafTag = 0x00;
    public const byte InnerTag = 0x01;

    public static Hash32 EmptyRoot { get; } = Hash32.Sha256([]);

    /// <summary>The leaf hash of one transaction's canonical bytes.</summary>
    public static Hash32 LeafHash(ReadOnlySpan<byte> data) => Hashing.Tagged(LeafTag, data);

    public static Hash32 InnerHash(Hash32 left, Hash32 right) => Hashing.Tagged(InnerTag, left, right);

    /// <summary>The root over leaf hashes, one level at a time on the process's accelerator (<see cref="Offloaded.Current"/>).</summary>
    public static Hash32 Root(IReadOnlyList<Hash32> leaves)
    {
        if (leaves.Count == 0) return EmptyRoot;
        if (leaves.Count == 1) return leaves[0];
        var accelerator = Offloaded.Current;
        var level = leaves.ToArray();
        var next = new Hash32[(level.Length + 1) / 2];
        var count = level.Length;
        while (count > 1)
        {
            var written = accelerator.MerkleLevel(InnerTag, level.AsSpan(0, count), next);
            (level, next) = (next, level);
            count = written;
        }
        return level[0];
    }

    /// <summary>Hashes one level in place: pairs (2i, 2i+1) become i, an odd last node is carried. Returns the new count.</summary>
    public static int NextLevel(Span<Hash32> level, int count)
    {
        var next = 0;
        for (var i = 0; i + 1 < count; i += 2) level[next++] = InnerHash(level[i], level[i + 1]);
        if ((count & 1) == 1) level[next++] = level[count - 1];
        return next;
    }

    /// <summary>The inclusion proof of leaf <paramref name="index"/>: its siblings from the bottom up.</summary>
    public static MerkleProof Prove(IReadOnlyList<Hash32> leaves, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, leaves.Count);
        var siblings = new List<Hash32>();
        var level = leaves.ToArray();
        var count = level.Length;
        var position = index;
        while (count > 1)
        {
            var sibling = position ^ 1;
            if (sibling < count) siblings.Add(level[sibling]);
            count = NextLevel(level, count);
            position /= 2;
        }
        return new MerkleProof(index, leaves.Count, siblings);
    }

    /// <summary>True when <paramref name="leaf"/> is at the proof's index in a tree with this root and size.</summary>
    public static bool Verify(Hash32 root, Hash32 leaf, MerkleProof proof)
    {
        if (proof.LeafCount <= 0 || proof.Index < 0 || proof.Index >= proof.LeafCount) return false;
        var hash = leaf;
        var position = proof.Index;
        var count = proof.LeafCount;
        var used = 0;
        while (count > 1)
        {
            var sibling = position ^ 1;
            if (sibling < count)
            {
                if (used >= proof.Siblings.Count) return false;
                var s = proof.Siblings[used++];
                hash = (position & 1) == 0 ? InnerHash(hash, s) : InnerHash(s, hash);
            }
            count = (count + 1) / 2;
            position /= 2;
        }
        return used == proof.Siblings.Count && hash == root;
    }
}

/// <summary>An inclusion proof: the leaf's index, the tree's size, and the sibling hashes from leaf to root.</summary>
public sealed record MerkleProof(int Index, int LeafCount, IReadOnlyList<Hash32> Siblings);
