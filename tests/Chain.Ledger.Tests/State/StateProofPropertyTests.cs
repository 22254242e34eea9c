using Chain.Accel;
using Chain.Ledger.State;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static Chain.Ledger.Tests.State.TreeTestSupport;

namespace Chain.Ledger.Tests.State;

/// <summary>Randomised checks of proofs and of decoding hostile bytes.</summary>
public class StateProofPropertyTests
{
    private static readonly Gen<(int Key, int? Value)[]> Map = Gen.ArrayOf(SparseMerkleTreePropertyTests.Op);

    private static (InMemoryTreeNodes Store, Dictionary<Hash32, Hash32> Map) Build((int Key, int? Value)[] ops)
    {
        var store = new InMemoryTreeNodes();
        var map = new Dictionary<Hash32, Hash32>();
        ApplyBatch(store, map, ToChanges(ops));
        return (store, map);
    }

    [Property(MaxTest = 200)]
    public Property Present_keys_prove_inclusion_absent_keys_prove_absence_and_tampering_fails() =>
        Prop.ForAll(Map.ToArbitrary(), ops =>
        {
            var (store, map) = Build(ops);
            var root = SparseMerkleTree.Root(store);
            var otherRoot = FlipBit(root, 255);
            foreach (var key in Keys)
            {
                var proof = SparseMerkleTree.Prove(store, key);
                Assert.Equal(key, proof.KeyHash);
                var present = map.TryGetValue(key, out var digest);
                if (present)
                {
                    Assert.True(proof.VerifyInclusion(root, digest), $"inclusion of {key}");
                    Assert.False(proof.VerifyAbsence(root));
                    Assert.False(proof.VerifyInclusion(root, FlipBit(digest, 0)));
                    Assert.False(proof.VerifyInclusion(otherRoot, digest));
                }
                else
                {
                    Assert.True(proof.VerifyAbsence(root), $"absence of {key}");
                    Assert.False(proof.VerifyInclusion(root, Digest(0)));
                    Assert.False(proof.VerifyAbsence(otherRoot));
                }

                // Alter a sample of siblings (every one on short paths; deep paths have up to 256).
                var count = proof.Siblings.Count;
                var sample = count <= 8
                    ? Enumerable.Range(0, count)
                    : [0, 1, count / 3, count / 2, count - 2, count - 1];
                foreach (var i in sample)
                {
                    var siblings = proof.Siblings.ToArray();
                    siblings[i] = FlipBit(siblings[i], (i * 37) % 256);
                    var tampered = proof with { Siblings = siblings };
                    Assert.False(tampered.VerifyInclusion(root, digest));
                    Assert.False(tampered.VerifyAbsence(root));
                }

                // Dropping or adding a level breaks the path.
                if (proof.Siblings.Count > 0)
                {
                    var shorter = proof with { Siblings = proof.Siblings.Take(proof.Siblings.Count - 1).ToArray() };
                    Assert.False(shorter.VerifyInclusion(root, digest) || shorter.VerifyAbsence(root));
                }
                var longer = proof with { Siblings = [.. proof.Siblings, Hash32.Zero] };
                Assert.False(longer.VerifyInclusion(root, digest) || longer.VerifyAbsence(root));

                var decoded = StateProof.Decode(proof.Encode());
                Assert.Equal(proof, decoded);
                Assert.Equal(proof.Encode(), decoded.Encode());
                Assert.True(present ? decoded.VerifyInclusion(root, digest) : decoded.VerifyAbsence(root));
            }
        });

    [Property(MaxTest = 100)]
    public Property An_absence_proof_cannot_hide_a_present_key_behind_another_leaf() =>
        Prop.ForAll(Map.ToArbitrary(), ops =>
        {
            // Take any present key's proof, and claim its terminal leaf proves some other key absent.
            var (store, map) = Build(ops);
            var root = SparseMerkleTree.Root(store);
            foreach (var present in map.Keys)
            {
                var proof = SparseMerkleTree.Prove(store, present);
                foreach (var other in map.Keys.Where(k => k != present))
                    Assert.False((proof with { KeyHash = other }).VerifyAbsence(root), $"{other} hidden by {present}");
            }
        });

    private static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(b => (byte)b);

    private static readonly Gen<byte[]> Garbage = Gen.OneOf(
        Gen.ArrayOf(AnyByte),
        Gen.ArrayOf(AnyByte).Select(tail => (byte[])[StateProof.Tag, 1, .. tail]),
        Gen.ArrayOf(AnyByte, NodeKey.EncodedSize),
        Gen.ArrayOf(AnyByte, NodeKey.EncodedSize).Select(b => (byte[])[.. b[..^1], (byte)(b[^1] & 0x80)]),
        from tag in Gen.Elements((byte)0x10, (byte)0x11, (byte)0x12)
        from rest in Gen.ArrayOf(AnyByte, TreeNode.EncodedSize - 1)
        select (byte[])[tag, .. rest],
        from ops in Map
        from key in Gen.Choose(0, Keys.Length - 1)
        from mutation in Gen.Choose(0, 3)
        from position in Gen.Choose(0, 100_000)
        from value in Gen.Choose(0, 255)
        select Mutate(SparseMerkleTree.Prove(Build(ops).Store, Keys[key]).Encode(), mutation, position, (byte)value));

    private static byte[] Mutate(byte[] bytes, int mutation, int position, byte value)
    {
        var at = position % (bytes.Length + 1);
        return mutation switch
        {
            0 => [.. bytes[..Math.Min(at, bytes.Length - 1)], value, .. bytes[Math.Min(at + 1, bytes.Length)..]],
            1 => bytes[..at],
            2 => [.. bytes, value],
            _ => [.. bytes[..at], value, .. bytes[at..]],
        };
    }

    [Property(MaxTest = 1000)]
    public Property Decoding_hostile_bytes_only_ever_throws_DecodeException() =>
        Prop.ForAll(Garbage.ToArbitrary(), bytes =>
        {
            try
            {
                var proof = StateProof.Decode(bytes);
                Assert.Equal(bytes, proof.Encode());
                _ = proof.VerifyInclusion(Hash32.Zero, Hash32.Zero) | proof.VerifyAbsence(Hash32.Zero);
            }
            catch (DecodeException)
            {
            }
            try
            {
                Assert.Equal(bytes, TreeNode.Decode(bytes).Encode());
            }
            catch (DecodeException)
            {
            }
            try
            {
                Assert.Equal(bytes, NodeKey.Decode(bytes).Encode());
            }
            catch (DecodeException)
            {
            }
        });
}
