namespace Chain.Ledger.State;

/// <summary>A state tree's nodes held in a dictionary: for tests, tools and building trees in memory.</summary>
public sealed class InMemoryTreeNodes : ITreeNodeReader
{
    private readonly Dictionary<NodeKey, TreeNode> _nodes = [];

    /// <summary>How many nodes are stored.</summary>
    public int Count => _nodes.Count;

    /// <summary>Every stored node by position.</summary>
    public IReadOnlyDictionary<NodeKey, TreeNode> Nodes => _nodes;

    public TreeNode? Get(NodeKey key) => _nodes.GetValueOrDefault(key);

    /// <summary>Writes each non-null node at its position and removes each position mapped to null.</summary>
    public void Apply(IReadOnlyDictionary<NodeKey, TreeNode?> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var (key, node) in changes)
        {
            if (node is null) _nodes.Remove(key);
            else _nodes[key] = node;
        }
    }
}
