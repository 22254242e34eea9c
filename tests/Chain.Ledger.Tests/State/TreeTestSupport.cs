using Chain.Accel;
using Chain.Ledger.State;

namespace Chain.Ledger.Tests.State;

/// <summary>Key spaces, value digests and store helpers shared by the state tree tests.</summary>
internal static class TreeTestSupport
{
    /// <summary>
    /// A small key space: 12 ordinary key hashes plus 12 that share long prefixes with one base hash (differing
    /// first at bits 255, 254, 250, 200, 129, 128, 64, 9, 8, 1 ...), so chains of one-child internal nodes,
    /// depth-256 leaves and lifts across many levels all happen.
    /// </summary>
    public static readonly Hash32[] Keys = BuildKeys();

    private static Hash32[] BuildKeys()
    {
        var keys = new List<Hash32>();
        for (var i = 0; i < 12; i++) keys.Add(SparseMerkleTree.KeyHash([(byte)i]));
        var deep = SparseMerkleTree.KeyHash("deep"u8);
        keys.Add(deep);
        foreach (var bit in new[] { 255, 254, 250, 200, 129, 128, 64, 9, 8, 1 }) keys.Add(FlipBit(deep, bit));
        keys.Add(FlipBit(FlipBit(deep, 128), 255));
        return [.. keys];
    }

    public static Hash32 FlipBit(Hash32 value, int bit)
    {
        var bytes = value.ToArray();
        bytes[bit >> 3] ^= (byte)(0x80 >> (bit & 7));
        return Hash32.FromBytes(bytes);
    }

    public static Hash32 Digest(int value) => SparseMerkleTree.ValueDigest((ulong)value, [(byte)value, 7]);

    public static (Hash32 KeyHash, Hash32? ValueDigest)[] ToChanges(IEnumerable<(int Key, int? Value)> ops) =>
        ops.GroupBy(op => op.Key)
            .Select(g => g.Last())
            .Select(op => (Keys[op.Key], op.Value is { } v ? Digest(v) : (Hash32?)null))
            .ToArray();

    /// <summary>The store built by one update from empty with the whole leaf map: the canonical node set.</summary>
    public static InMemoryTreeNodes Canonical(IReadOnlyDictionary<Hash32, Hash32> map)
    {
        var store = new InMemoryTreeNodes();
        store.Apply(SparseMerkleTree.Update(store, [.. map.Select(kv => (kv.Key, (Hash32?)kv.Value))]).Changes);
        return store;
    }

    public static IEnumerable<(Hash32, Hash32)> Leaves(IReadOnlyDictionary<Hash32, Hash32> map) =>
        map.Select(kv => (kv.Key, kv.Value));

    /// <summary>Null when both stores hold the same nodes at the same positions, else the first difference.</summary>
    public static string? Difference(InMemoryTreeNodes expected, InMemoryTreeNodes actual)
    {
        foreach (var (key, node) in expected.Nodes)
        {
            var other = actual.Get(key);
            if (other != node) return $"at {key}: expected {node}, found {other?.ToString() ?? "nothing"}";
        }
        foreach (var (key, node) in actual.Nodes)
        {
            if (expected.Get(key) is null) return $"stale node at {key}: {node}";
        }
        return null;
    }

    /// <summary>Applies one batch to the store and the leaf map; returns the update.</summary>
    public static TreeUpdate ApplyBatch(InMemoryTreeNodes store, Dictionary<Hash32, Hash32> map,
        IReadOnlyList<(Hash32 KeyHash, Hash32? ValueDigest)> changes)
    {
        var update = SparseMerkleTree.Update(store, changes);
        store.Apply(update.Changes);
        foreach (var (key, digest) in changes)
        {
            if (digest is { } d) map[key] = d;
            else map.Remove(key);
        }
        return update;
    }
}
