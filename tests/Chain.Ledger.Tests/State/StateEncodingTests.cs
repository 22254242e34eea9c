using System.Security.Cryptography;
using Chain.Accel;
using Chain.Ledger.State;
using static Chain.Ledger.Tests.State.TreeTestSupport;

namespace Chain.Ledger.Tests.State;

public class StateEncodingTests
{
    [Fact]
    public void Node_key_encoding_places_a_sentinel_bit_after_the_prefix()
    {
        Assert.Equal([0x80, .. new byte[32]], NodeKey.Root.Encode());
        Assert.Equal(NodeKey.Root, NodeKey.Decode(NodeKey.Root.Encode()));
        var key = Keys[5];
        Assert.Equal([.. key.ToArray(), 0x80], NodeKey.OnPath(key, 256).Encode());
        var right = NodeKey.Root.Child(true);
        Assert.Equal(new NodeKey(1, Hash32.Parse("80" + new string('0', 62))), right);
        Assert.Equal([0xC0, .. new byte[32]], right.Encode());
    }

    [Fact]
    public void Node_keys_round_trip_at_every_depth()
    {
        foreach (var key in Keys)
        {
            var position = NodeKey.Root;
            for (var depth = 0; depth <= 256; depth++)
            {
                Assert.Equal(NodeKey.OnPath(key, depth), position);
                var encoded = position.Encode();
                Assert.Equal(NodeKey.EncodedSize, encoded.Length);
                Assert.Equal(position, NodeKey.Decode(encoded));
                if (depth < 256) position = position.Child(key.Bit(depth));
            }
            Assert.Throws<InvalidOperationException>(() => position.Child(false));
        }
    }

    [Fact]
    public void Invalid_node_keys_are_rejected()
    {
        Assert.Throws<DecodeException>(() => NodeKey.Decode(new byte[33]));
        Assert.Throws<DecodeException>(() => NodeKey.Decode(new byte[32]));
        Assert.Throws<DecodeException>(() => NodeKey.Decode([0x80, .. new byte[33]]));
        Assert.Throws<DecodeException>(() => NodeKey.Decode([.. new byte[32], 0x40]));
        Assert.Throws<DecodeException>(() => NodeKey.Decode([.. new byte[32], 0x81]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeKey(257, Hash32.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeKey(-1, Hash32.Zero));
        Assert.Throws<ArgumentException>(() => new NodeKey(3, Hash32.Parse("10" + new string('0', 62))));
    }

    [Fact]
    public void Tree_nodes_encode_as_their_hash_preimage_and_round_trip()
    {
        TreeNode[] nodes = [new LeafNode(Keys[0], Digest(1)), new InternalNode(Keys[1], Hash32.Zero)];
        foreach (var node in nodes)
        {
            var encoded = node.Encode();
            Assert.Equal(TreeNode.EncodedSize, encoded.Length);
            Assert.Equal(Hash32.FromBytes(SHA256.HashData(encoded)), node.Hash);
            Assert.Equal(node, TreeNode.Decode(encoded));
            Assert.Throws<DecodeException>(() => TreeNode.Decode(encoded[..^1]));
            Assert.Throws<DecodeException>(() => TreeNode.Decode([.. encoded, 0]));
            Assert.Throws<DecodeException>(() => TreeNode.Decode([0x12, .. encoded[1..]]));
        }
        Assert.Throws<DecodeException>(() => TreeNode.Decode([0x11, .. new byte[64]]));
    }

    [Fact]
    public void With_expressions_recompute_the_cached_hash()
    {
        var leaf = new LeafNode(Keys[0], Digest(1));
        var changed = leaf with { ValueDigest = Digest(2) };
        Assert.Equal(SparseMerkleTree.LeafHash(Keys[0], Digest(2)), changed.Hash);
        var inner = new InternalNode(Keys[0], Keys[1]) with { Left = Keys[2] };
        Assert.Equal(SparseMerkleTree.InternalHash(Keys[2], Keys[1]), inner.Hash);
        Assert.Equal(new InternalNode(Keys[2], Keys[1]), inner);
    }

    [Fact]
    public void Garbage_proofs_fail_without_throwing()
    {
        var tooLong = new StateProof(Keys[0], new Hash32[257], null);
        Assert.False(tooLong.VerifyAbsence(Hash32.Zero));
        Assert.False(tooLong.VerifyInclusion(Hash32.Zero, Hash32.Zero));
        Assert.Throws<InvalidOperationException>(() => tooLong.Encode());
        var nullSiblings = new StateProof(Keys[0], null!, new LeafNode(Keys[0], Digest(0)));
        Assert.False(nullSiblings.VerifyAbsence(Hash32.Zero));
        Assert.False(nullSiblings.VerifyInclusion(Hash32.Zero, Digest(0)));
        // A leaf of another key that does not share the path proves nothing.
        var unrelated = new StateProof(Keys[0], [], new LeafNode(Keys[1], Digest(0)));
        Assert.True(unrelated.VerifyAbsence(SparseMerkleTree.LeafHash(Keys[1], Digest(0))));
        var offPath = new StateProof(Keys[0], [Hash32.Zero], new LeafNode(FlipBit(Keys[0], 0), Digest(0)));
        Assert.False(offPath.VerifyAbsence(SparseMerkleTree.Root(new InMemoryTreeNodes())));
        Assert.False(offPath.VerifyAbsence(Keys[0].Bit(0)
            ? SparseMerkleTree.InternalHash(Hash32.Zero, offPath.Terminal!.Hash)
            : SparseMerkleTree.InternalHash(offPath.Terminal!.Hash, Hash32.Zero)));
    }

    [Fact]
    public void Proof_encoding_is_strict()
    {
        var proof = new StateProof(Keys[0], [Keys[1], Keys[2]], new LeafNode(Keys[0], Digest(1)));
        var encoded = proof.Encode();
        Assert.Equal(2 + 32 + 4 + 64 + 1 + 64, encoded.Length);
        Assert.Equal(proof, StateProof.Decode(encoded));
        Assert.Throws<DecodeException>(() => StateProof.Decode([.. encoded, 0]));
        Assert.Throws<DecodeException>(() => StateProof.Decode(encoded[..^1]));
        var badBool = encoded.ToArray();
        badBool[2 + 32 + 4 + 64] = 2;
        Assert.Throws<DecodeException>(() => StateProof.Decode(badBool));
        var tooMany = encoded.ToArray();
        tooMany[2 + 32 + 2] = 0x01; // count 257
        tooMany[2 + 32 + 3] = 0x01;
        Assert.Equal(LedgerError.TooLarge, Assert.Throws<DecodeException>(() => StateProof.Decode(tooMany)).Error);
        var noTerminal = new StateProof(Keys[0], [], null);
        Assert.Equal(noTerminal, StateProof.Decode(noTerminal.Encode()));
    }
}
