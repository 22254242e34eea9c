using Chain.Accel;
using Chain.Accel.Encoding;

namespace Chain.Ledger.State;

/// <summary>
/// A proof of one key's value, or of its absence, against a state root (see <see cref="SparseMerkleTree"/>).
/// <see cref="Siblings"/> are the sibling hashes along the key's path from the root down (one per depth passed);
/// <see cref="Terminal"/> is the leaf met where the path ends, or null when it ends in an empty subtree.
/// The verifiers never throw: malformed or forged proofs just fail.
/// <para>
/// Encoding: tag 0x20, version 1, key hash, sibling count u32 (at most 256), the siblings, a boolean (0 or 1) for
/// whether a terminal leaf follows, then that leaf's key hash and value digest. No trailing bytes.
/// </para>
/// </summary>
public sealed record StateProof(Hash32 KeyHash, IReadOnlyList<Hash32> Siblings, LeafNode? Terminal)
{
    public const byte Tag = 0x20;
    public const byte FormatVersion = 1;

    /// <summary>True iff the terminal leaf is this key with <paramref name="valueDigest"/> and the path gives
    /// <paramref name="root"/>.</summary>
    public bool VerifyInclusion(Hash32 root, Hash32 valueDigest) =>
        Terminal is { } leaf && leaf.KeyHash == KeyHash && leaf.ValueDigest == valueDigest
        && TryComputeRoot(out var computed) && computed == root;

    /// <summary>True iff the path ends in an empty subtree, or at a leaf of a different key sharing the path so far,
    /// and gives <paramref name="root"/>: then no leaf for this key can be in the tree.</summary>
    public bool VerifyAbsence(Hash32 root)
    {
        if (Siblings is null) return false;
        if (Terminal is { } leaf
            && (leaf.KeyHash == KeyHash || Bits.CommonPrefixLength(leaf.KeyHash, KeyHash) < Siblings.Count))
            return false;
        return TryComputeRoot(out var computed) && computed == root;
    }

    /// <summary>Hashes from the terminal up to the root; false when the proof is too long.</summary>
    private bool TryComputeRoot(out Hash32 root)
    {
        root = Hash32.Zero;
        if (Siblings is null || Siblings.Count > SparseMerkleTree.MaxDepth) return false;
        var hash = Terminal?.Hash ?? Hash32.Zero;
        for (var depth = Siblings.Count - 1; depth >= 0; depth--)
        {
            var sibling = Siblings[depth];
            hash = KeyHash.Bit(depth)
                ? SparseMerkleTree.InternalHash(sibling, hash)
                : SparseMerkleTree.InternalHash(hash, sibling);
        }
        root = hash;
        return true;
    }

    public byte[] Encode()
    {
        if (Siblings.Count > SparseMerkleTree.MaxDepth)
            throw new InvalidOperationException($"a state proof has at most {SparseMerkleTree.MaxDepth} siblings");
        var w = new CanonicalWriter(2 + Hash32.Size * (Siblings.Count + 3) + 5)
            .U8(Tag).U8(FormatVersion).Hash(KeyHash).U32((uint)Siblings.Count);
        foreach (var sibling in Siblings) w.Hash(sibling);
        w.Bool(Terminal is not null);
        if (Terminal is not null) w.Hash(Terminal.KeyHash).Hash(Terminal.ValueDigest);
        return w.ToArray();
    }

    /// <summary>Decodes the canonical form; throws <see cref="DecodeException"/> on anything else.</summary>
    public static StateProof Decode(ReadOnlySpan<byte> bytes) => DecodeException.Translate(bytes, DecodeCanonical);

    private static StateProof DecodeCanonical(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        r.Header(Tag, FormatVersion, "stateProof");
        var keyHash = r.Hash("stateProof.keyHash");
        var siblings = new Hash32[r.Count(SparseMerkleTree.MaxDepth, "stateProof.siblings")];
        for (var i = 0; i < siblings.Length; i++) siblings[i] = r.Hash("stateProof.siblings");
        LeafNode? terminal = null;
        if (r.Bool("stateProof.hasTerminal"))
            terminal = new LeafNode(r.Hash("stateProof.terminal.keyHash"), r.Hash("stateProof.terminal.valueDigest"));
        r.End("stateProof");
        return new StateProof(keyHash, siblings, terminal);
    }

    /// <summary>Value equality, comparing the siblings element by element.</summary>
    public bool Equals(StateProof? other) =>
        other is not null && KeyHash == other.KeyHash && Terminal == other.Terminal
        && (ReferenceEquals(Siblings, other.Siblings)
            || (Siblings is not null && other.Siblings is not null && Siblings.SequenceEqual(other.Siblings)));

    public override int GetHashCode() => HashCode.Combine(KeyHash, Siblings?.Count, Terminal);
}
