using System.Security.Cryptography;
using Chain.Accel;
using Chain.Ledger.Merkle;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Merkle;

public class MerkleTreeTests
{
    // ---- an independent model: RFC 6962 section 2.1, written recursively ----

    private static int SplitPoint(int n)
    {
        var k = 1;
        while (k * 2 < n) k *= 2;
        return k;
    }

    /// <summary>MTH(D[n]) over leaf hashes.</summary>
    private static Hash32 ModelRoot(ReadOnlySpan<Hash32> leaves)
    {
        if (leaves.Length == 0) return Hash32.Sha256([]);
        if (leaves.Length == 1) return leaves[0];
        var k = SplitPoint(leaves.Length);
        return ModelInner(ModelRoot(leaves[..k]), ModelRoot(leaves[k..]));
    }

    /// <summary>PATH(m, D[n]): the audit path, leaf first.</summary>
    private static List<Hash32> ModelPath(int m, ReadOnlySpan<Hash32> leaves)
    {
        if (leaves.Length <= 1) return [];
        var k = SplitPoint(leaves.Length);
        if (m < k)
        {
            var path = ModelPath(m, leaves[..k]);
            path.Add(ModelRoot(leaves[k..]));
            return path;
        }
        var right = ModelPath(m - k, leaves[k..]);
        right.Add(ModelRoot(leaves[..k]));
        return right;
    }

    /// <summary>
    /// Which side each path element joins on, leaf first ('R': sibling on the right), for leaf m of n.
    /// </summary>
    private static string ModelShape(int m, int n)
    {
        if (n <= 1) return "";
        var k = SplitPoint(n);
        return m < k ? ModelShape(m, k) + "R" : ModelShape(m - k, n - k) + "L";
    }

    private static Hash32 ModelLeaf(ReadOnlySpan<byte> data) => Hash32.Sha256([0x00, .. data]);

    private static Hash32 ModelInner(Hash32 left, Hash32 right) =>
        Hash32.Sha256([0x01, .. left.ToArray(), .. right.ToArray()]);

    private static Hash32 Flip(Hash32 h, int bit)
    {
        var bytes = h.ToArray();
        bytes[bit / 8 % Hash32.Size] ^= (byte)(1 << (bit % 8));
        return Hash32.FromBytes(bytes);
    }

    /// <summary>Distinct leaves (each leaf's data starts with its index): equal leaves would make some
    /// tampering (swapping two equal leaves) undetectable by design.</summary>
    private static Hash32[] RandomLeaves(Random rng, int count) => Enumerable.Range(0, count)
        .Select(i => MerkleTree.LeafHash([.. BitConverter.GetBytes(i), .. TestData.RandomBytes(rng, rng.Next(40))]))
        .ToArray();

    private static MerkleProof WithSiblings(MerkleProof p, IEnumerable<Hash32> siblings) =>
        p with { Siblings = siblings.ToList() };

    // ---- pinned values ----

    [Fact]
    public void Empty_root_is_sha256_of_the_empty_string()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            MerkleTree.EmptyRoot.ToString());
        Assert.Equal(Hash32.FromBytes(SHA256.HashData([])), MerkleTree.EmptyRoot);
        Assert.Equal(MerkleTree.EmptyRoot, MerkleTree.Root([]));
    }

    [Fact]
    public void Three_leaf_root_has_the_RFC_6962_shape()
    {
        // Hand-computed: leaves SHA-256(0x00 || x), root SHA-256(0x01 || SHA-256(0x01 || a || b) || c); the odd
        // third leaf is carried up, not paired with itself.
        byte[] Sha(params byte[][] parts) => SHA256.HashData(parts.SelectMany(p => p).ToArray());
        var a = Sha([0x00], "a"u8.ToArray());
        var b = Sha([0x00], "b"u8.ToArray());
        var c = Sha([0x00], "c"u8.ToArray());
        var expected = Sha([0x01], Sha([0x01], a, b), c);
        Hash32[] leaves = [MerkleTree.LeafHash("a"u8), MerkleTree.LeafHash("b"u8), MerkleTree.LeafHash("c"u8)];
        Assert.Equal(Hash32.FromBytes(a), leaves[0]);
        Assert.Equal(Hash32.FromBytes(expected), MerkleTree.Root(leaves));
        Assert.Equal("36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1",
            MerkleTree.Root(leaves).ToString());
        Assert.NotEqual(MerkleTree.Root([.. leaves, leaves[2]]), MerkleTree.Root(leaves));
    }

    [Theory]
    // The Certificate Transparency reference vectors (leaf inputs "", 00, 10, 2021, 3031, 40414243, ...).
    [InlineData(1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")]
    [InlineData(2, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]
    [InlineData(3, "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77")]
    [InlineData(4, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]
    [InlineData(5, "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4")]
    [InlineData(6, "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef")]
    [InlineData(7, "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c")]
    [InlineData(8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
    public void Roots_match_the_RFC_6962_reference_vectors(int size, string root)
    {
        string[] inputs =
            ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
        var leaves = inputs.Take(size).Select(h => MerkleTree.LeafHash(Convert.FromHexString(h))).ToArray();
        Assert.Equal(root, MerkleTree.Root(leaves).ToString());
    }

    [Fact]
    public void Leaf_and_inner_hashes_are_domain_separated()
    {
        Assert.Equal(ModelLeaf("x"u8), MerkleTree.LeafHash("x"u8));
        var (l, r) = (MerkleTree.LeafHash("l"u8), MerkleTree.LeafHash("r"u8));
        Assert.Equal(ModelInner(l, r), MerkleTree.InnerHash(l, r));
        // A two-leaf root is not the leaf hash of the two leaf hashes concatenated (second-preimage defence).
        Assert.NotEqual(MerkleTree.Root([l, r]), MerkleTree.LeafHash([.. l.ToArray(), .. r.ToArray()]));
    }

    // ---- properties ----

    [Property(MaxTest = 60)]
    public Property Every_proof_verifies_and_any_tampering_fails() =>
        Prop.ForAll(Arb.From(Gen.Choose(1, 300).Zip(Generators.Seed)), t =>
        {
            var (count, seed) = t;
            var rng = new Random(seed);
            var leaves = RandomLeaves(rng, count);
            var root = MerkleTree.Root(leaves);
            Assert.Equal(ModelRoot(leaves), root);
            var context = $"seed {seed}, {count} leaves";
            for (var i = 0; i < count; i++)
            {
                var proof = MerkleTree.Prove(leaves, i);
                var leaf = leaves[i];
                Assert.Equal(ModelPath(i, leaves), proof.Siblings);
                Assert.True(MerkleTree.Verify(root, leaf, proof), $"{context}: proof of {i} fails");

                Assert.False(MerkleTree.Verify(root, Flip(leaf, rng.Next(256)), proof), $"{context}: altered leaf {i}");
                Assert.False(MerkleTree.Verify(Flip(root, rng.Next(256)), leaf, proof), $"{context}: altered root");
                if (count > 1)
                    Assert.False(MerkleTree.Verify(root, leaves[(i + 1) % count], proof), $"{context}: other leaf");
                for (var s = 0; s < proof.Siblings.Count; s++)
                {
                    var altered = proof.Siblings.Select((h, j) => j == s ? Flip(h, rng.Next(256)) : h);
                    Assert.False(MerkleTree.Verify(root, leaf, WithSiblings(proof, altered)),
                        $"{context}: index {i} sibling {s}");
                }
                Assert.False(MerkleTree.Verify(root, leaf, WithSiblings(proof, [.. proof.Siblings, root])),
                    $"{context}: extra sibling");
                if (proof.Siblings.Count > 0)
                {
                    Assert.False(MerkleTree.Verify(root, leaf, WithSiblings(proof, proof.Siblings.Skip(1))),
                        $"{context}: dropped sibling");
                }

                // Any other index fails: the path's shape determines the index.
                int[] others = [i - 1, i + 1, rng.Next(count), -1, count, int.MaxValue, int.MinValue];
                foreach (var j in others.Where(j => j != i))
                {
                    Assert.False(MerkleTree.Verify(root, leaf, proof with { Index = j }),
                        $"{context}: index {i} claimed as {j}");
                }

                // Another leaf count fails unless it gives the same path shape (then the proof is the same proof).
                int[] counts = [count - 1, count + 1, rng.Next(1, 2 * count + 2), 0, -1, i];
                foreach (var m in counts.Where(m => m != count))
                {
                    var accepted = MerkleTree.Verify(root, leaf, proof with { LeafCount = m });
                    var sameShape = m > i && ModelShape(i, m) == ModelShape(i, count);
                    Assert.True(accepted == sameShape, $"{context}: index {i} with count {m} accepted={accepted}");
                }
            }
        });

    [Fact]
    public void Small_trees_reject_every_wrong_index_and_every_differently_shaped_count()
    {
        var rng = new Random(6962);
        for (var count = 1; count <= 40; count++)
        {
            var leaves = RandomLeaves(rng, count);
            var root = MerkleTree.Root(leaves);
            for (var i = 0; i < count; i++)
            {
                var proof = MerkleTree.Prove(leaves, i);
                for (var j = -1; j <= count; j++)
                    Assert.Equal(j == i, MerkleTree.Verify(root, leaves[i], proof with { Index = j }));
                for (var m = -1; m <= 2 * count + 2; m++)
                {
                    var sameShape = m == count || (m > i && ModelShape(i, m) == ModelShape(i, count));
                    Assert.Equal(sameShape, MerkleTree.Verify(root, leaves[i], proof with { LeafCount = m }));
                }
            }
        }
    }

    /// <summary>
    /// An inclusion proof does not authenticate the tree size (as in RFC 6962/9162): a count with the same path
    /// shape verifies. Callers must take the count from an authenticated source, the block header's TxCount.
    /// </summary>
    [Fact]
    public void The_leaf_count_is_only_bound_through_the_path_shape()
    {
        var leaves = RandomLeaves(new Random(5), 5);
        var proof = MerkleTree.Prove(leaves, 0);
        Assert.Equal("RRR", ModelShape(0, 5));
        Assert.Equal("RRR", ModelShape(0, 8));
        Assert.True(MerkleTree.Verify(MerkleTree.Root(leaves), leaves[0], proof with { LeafCount = 8 }));
        Assert.False(MerkleTree.Verify(MerkleTree.Root(leaves), leaves[0], proof with { LeafCount = 4 }));
    }

    [Fact]
    public void Prove_rejects_an_index_out_of_range()
    {
        Hash32[] leaves = [MerkleTree.LeafHash("a"u8)];
        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleTree.Prove(leaves, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleTree.Prove(leaves, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleTree.Prove([], 0));
        var single = MerkleTree.Prove(leaves, 0);
        Assert.Empty(single.Siblings);
        Assert.True(MerkleTree.Verify(leaves[0], leaves[0], single));
    }

    [Fact]
    public void Block_transaction_proofs_verify_against_the_header_root()
    {
        var net = TestData.Network();
        var block = net.BuildChain(blocks: 1, transactionsPerBlock: 7)[0].Block;
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            var proof = block.ProveTransaction(i);
            Assert.Equal((int)block.Header.TxCount, proof.LeafCount);
            var leaf = MerkleTree.LeafHash(block.Transactions[i].Encoded);
            Assert.True(MerkleTree.Verify(block.Header.TxRoot, leaf, proof));
        }
    }
}
