using System.Security.Cryptography;
using Chain.Accel;
using Chain.Ledger.State;
using static Chain.Ledger.Tests.State.TreeTestSupport;

namespace Chain.Ledger.Tests.State;

public class SparseMerkleTreeTests
{
    private static Hash32 Sha(params byte[][] parts) =>
        Hash32.FromBytes(SHA256.HashData(parts.SelectMany(p => p).ToArray()));

    private static Hash32 LeafByHand(Hash32 key, Hash32 digest) => Sha([0x10], key.ToArray(), digest.ToArray());

    private static Hash32 InternalByHand(Hash32 left, Hash32 right) => Sha([0x11], left.ToArray(), right.ToArray());

    private static InMemoryTreeNodes StoreOf(params (Hash32 Key, Hash32 Digest)[] leaves)
    {
        var store = new InMemoryTreeNodes();
        store.Apply(SparseMerkleTree.Update(store, [.. leaves.Select(l => (l.Key, (Hash32?)l.Digest))]).Changes);
        return store;
    }

    [Fact]
    public void Key_hash_and_value_digest_follow_the_definitions()
    {
        Assert.Equal(Sha([0x12], "alice"u8.ToArray()), SparseMerkleTree.KeyHash("alice"u8));
        Assert.Equal(Sha([0x13], [0, 0, 0, 0, 0, 0, 1, 2], [9, 8]), SparseMerkleTree.ValueDigest(0x0102, [9, 8]));
        Assert.Equal(Sha([0x13], new byte[8]), SparseMerkleTree.ValueDigest(0, []));
    }

    [Fact]
    public void Empty_tree_root_is_zero()
    {
        var store = new InMemoryTreeNodes();
        Assert.Equal(Hash32.Zero, SparseMerkleTree.Root(store));
        Assert.Equal(Hash32.Zero, SparseMerkleTree.ComputeRoot([]));
        var update = SparseMerkleTree.Update(store, []);
        Assert.Equal(Hash32.Zero, update.Root);
        Assert.Empty(update.Changes);
        var proof = SparseMerkleTree.Prove(store, Keys[0]);
        Assert.Empty(proof.Siblings);
        Assert.Null(proof.Terminal);
        Assert.True(proof.VerifyAbsence(Hash32.Zero));
    }

    [Fact]
    public void Single_leaf_tree_is_that_leaf_at_the_root()
    {
        var key = SparseMerkleTree.KeyHash("k"u8);
        var digest = SparseMerkleTree.ValueDigest(1, "v"u8);
        var store = StoreOf((key, digest));
        Assert.Equal(LeafByHand(key, digest), SparseMerkleTree.Root(store));
        Assert.Equal(LeafByHand(key, digest), SparseMerkleTree.ComputeRoot([(key, digest)]));
        Assert.Equal(1, store.Count);
        Assert.Equal(new LeafNode(key, digest), store.Get(NodeKey.Root));
    }

    [Fact]
    public void Two_leaves_split_at_their_first_differing_bit_below_a_chain_of_one_child_nodes()
    {
        // 0x00aa.. and 0x10aa.. first differ at bit 3: internal nodes at depths 0..3 on the all-zero path
        // (depths 0..2 with an empty right child), the two leaves at depth 4.
        var k1 = Hash32.Parse("00" + string.Concat(Enumerable.Repeat("aa", 31)));
        var k2 = Hash32.Parse("10" + string.Concat(Enumerable.Repeat("aa", 31)));
        var d1 = SparseMerkleTree.ValueDigest(1, [1]);
        var d2 = SparseMerkleTree.ValueDigest(2, [2]);
        var split = InternalByHand(LeafByHand(k1, d1), LeafByHand(k2, d2));
        var expected = InternalByHand(InternalByHand(InternalByHand(split, Hash32.Zero), Hash32.Zero), Hash32.Zero);

        Assert.Equal(expected, SparseMerkleTree.ComputeRoot([(k2, d2), (k1, d1)]));
        var store = StoreOf((k1, d1), (k2, d2));
        Assert.Equal(expected, SparseMerkleTree.Root(store));
        Assert.Equal(6, store.Count);
        for (var depth = 0; depth <= 3; depth++)
            Assert.IsType<InternalNode>(store.Get(new NodeKey(depth, Hash32.Zero)));
        Assert.Equal(new LeafNode(k1, d1), store.Get(new NodeKey(4, Hash32.Zero)));
        Assert.Equal(new LeafNode(k2, d2), store.Get(new NodeKey(4, Hash32.Parse("10" + new string('0', 62)))));

        var proof = SparseMerkleTree.Prove(store, k2);
        Assert.Equal([Hash32.Zero, Hash32.Zero, Hash32.Zero, LeafByHand(k1, d1)], proof.Siblings);
        Assert.True(proof.VerifyInclusion(expected, d2));

        // Deleting one leaf lifts the other to the root and removes every other node.
        var update = SparseMerkleTree.Update(store, [(k1, null)]);
        store.Apply(update.Changes);
        Assert.Equal(LeafByHand(k2, d2), update.Root);
        Assert.Equal(1, store.Count);
        Assert.Equal(new LeafNode(k2, d2), store.Get(NodeKey.Root));
        Assert.Equal(6, update.Changes.Count);
    }

    [Fact]
    public void Root_of_a_fixed_tree_is_pinned()
    {
        // Guards the definitions against accidental change: any edit to tags, encodings or shape moves this value.
        var leaves = new[] { "alice", "bob", "carol", "dave" }
            .Select((name, i) => (SparseMerkleTree.KeyHash(System.Text.Encoding.UTF8.GetBytes(name)),
                SparseMerkleTree.ValueDigest((ulong)i + 1, System.Text.Encoding.UTF8.GetBytes(name + "-value"))))
            .ToArray();
        var root = SparseMerkleTree.ComputeRoot(leaves);
        Assert.Equal(PinnedRoot, root.ToString());
        Assert.Equal(root, SparseMerkleTree.Root(StoreOf(leaves)));
    }

    // Cross-checked against an independent Python implementation of the definitions.
    private const string PinnedRoot = "ae844292e1c167b90c59b541216f722d6b2ab57fc70f468904c0d4edbbc19519";

    [Fact]
    public void Keys_differing_only_in_the_last_bit_sit_at_depth_256()
    {
        var k1 = SparseMerkleTree.KeyHash("x"u8);
        var k2 = FlipBit(k1, 255);
        var store = StoreOf((k1, Digest(1)), (k2, Digest(2)));
        Assert.Equal(258, store.Count);
        Assert.Equal(new LeafNode(k1, Digest(1)), store.Get(NodeKey.OnPath(k1, 256)));
        Assert.Equal(new LeafNode(k2, Digest(2)), store.Get(NodeKey.OnPath(k2, 256)));
        var root = SparseMerkleTree.Root(store);
        var proof = SparseMerkleTree.Prove(store, k2);
        Assert.Equal(256, proof.Siblings.Count);
        Assert.True(StateProof.Decode(proof.Encode()).VerifyInclusion(root, Digest(2)));

        var update = SparseMerkleTree.Update(store, [(k2, null)]);
        store.Apply(update.Changes);
        Assert.Equal(1, store.Count);
        Assert.Equal(LeafByHand(k1, Digest(1)), SparseMerkleTree.Root(store));
    }

    [Fact]
    public void Changes_that_alter_nothing_produce_no_writes()
    {
        var store = StoreOf([.. Keys.Take(10).Select((k, i) => (k, Digest(i)))]);
        var update = SparseMerkleTree.Update(store,
            [(Keys[3], Digest(3)), (Keys[15], null), (Keys[20], null), (Keys[0], Digest(0))]);
        Assert.Equal(SparseMerkleTree.Root(store), update.Root);
        Assert.Empty(update.Changes);
    }

    [Fact]
    public void A_key_hash_appearing_twice_in_one_update_is_rejected()
    {
        var store = new InMemoryTreeNodes();
        Assert.Throws<ArgumentException>(() =>
            SparseMerkleTree.Update(store, [(Keys[1], Digest(1)), (Keys[1], null)]));
        Assert.Throws<ArgumentException>(() =>
            SparseMerkleTree.ComputeRoot([(Keys[1], Digest(1)), (Keys[1], Digest(2))]));
    }

    [Fact]
    public void A_stored_node_that_does_not_match_its_parent_is_reported_as_corrupt()
    {
        var store = StoreOf([.. Keys.Take(8).Select((k, i) => (k, Digest(i)))]);
        var child = NodeKey.Root.Child(Keys[0].Bit(0));
        Assert.NotNull(store.Get(child));
        store.Apply(new Dictionary<NodeKey, TreeNode?> { [child] = new LeafNode(Keys[0], Digest(99)) });
        var e = Assert.Throws<LedgerException>(() => SparseMerkleTree.Update(store, [(Keys[0], Digest(5))]));
        Assert.Equal(LedgerError.StoreCorrupt, e.Error);
        e = Assert.Throws<LedgerException>(() => SparseMerkleTree.Prove(store, Keys[0]));
        Assert.Equal(LedgerError.StoreCorrupt, e.Error);
    }

    [Fact]
    public void Random_large_batches_match_recomputation()
    {
        var seed = Random.Shared.Next();
        var random = new Random(seed);
        var keys = Enumerable.Range(0, 3000).Select(i => SparseMerkleTree.KeyHash(BitConverter.GetBytes(i))).ToArray();
        var store = new InMemoryTreeNodes();
        var map = new Dictionary<Hash32, Hash32>();
        for (var batch = 0; batch < 15; batch++)
        {
            var changes = keys.OrderBy(_ => random.Next()).Take(random.Next(1, 600))
                .Select(k => (k, random.Next(4) == 0 ? (Hash32?)null : Digest(random.Next(200))))
                .ToArray();
            var update = ApplyBatch(store, map, changes);
            Assert.True(SparseMerkleTree.ComputeRoot(Leaves(map)) == update.Root, $"seed {seed}, batch {batch}: root");
            var difference = Difference(Canonical(map), store);
            Assert.True(difference is null, $"seed {seed}, batch {batch}: {difference}");
        }
    }
}
