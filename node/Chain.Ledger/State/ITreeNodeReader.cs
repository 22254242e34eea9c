using Chain.Accel;

namespace Chain.Ledger.State;

/// <summary>Read access to the stored nodes of a state tree, by position.</summary>
public interface ITreeNodeReader
{
    /// <summary>The node stored at <paramref name="key"/>, or null when that position holds nothing.</summary>
    TreeNode? Get(NodeKey key);
}

/// <summary>
/// The result of <see cref="SparseMerkleTree.Update"/>: the new root and the positions to write (a node) or delete
/// (null). Each position appears once, so the changes may be applied in any order.
/// </summary>
public sealed record TreeUpdate(Hash32 Root, IReadOnlyDictionary<NodeKey, TreeNode?> Changes);
