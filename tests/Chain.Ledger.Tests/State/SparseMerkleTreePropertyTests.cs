using Chain.Accel;
using Chain.Ledger.State;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static Chain.Ledger.Tests.State.TreeTestSupport;

namespace Chain.Ledger.Tests.State;

/// <summary>Randomised checks of incremental updates; FsCheck prints the replay seed of any failure.</summary>
public class SparseMerkleTreePropertyTests
{
    /// <summary>One change: an index into <see cref="TreeTestSupport.Keys"/> and a value, or null to delete.</summary>
    internal static readonly Gen<(int Key, int? Value)> Op =
        from key in Gen.Choose(0, Keys.Length - 1)
        from value in Gen.Frequency(
            (1, Gen.Constant((int?)null)),
            (3, Gen.Choose(0, 3).Select(v => (int?)v)))
        select (key, value);

    internal static readonly Gen<(int Key, int? Value)[][]> Batches = Gen.ArrayOf(Gen.ArrayOf(Op));

    [Property(MaxTest = 300)]
    public Property Batch_by_batch_updates_give_the_recomputed_root_and_exactly_the_canonical_nodes() =>
        Prop.ForAll(Batches.ToArbitrary(), batches =>
        {
            var store = new InMemoryTreeNodes();
            var map = new Dictionary<Hash32, Hash32>();
            for (var b = 0; b < batches.Length; b++)
            {
                var update = ApplyBatch(store, map, ToChanges(batches[b]));
                var expectedRoot = SparseMerkleTree.ComputeRoot(Leaves(map));
                Assert.True(expectedRoot == update.Root, $"batch {b}: update root differs from the recomputed root");
                Assert.Equal(expectedRoot, SparseMerkleTree.Root(store));
                var difference = Difference(Canonical(map), store);
                Assert.True(difference is null, $"batch {b}: {difference}");
            }
        });

    [Property(MaxTest = 200)]
    public Property Same_final_map_by_different_batches_and_orders_gives_the_same_root_and_nodes() =>
        Prop.ForAll((from batches in Batches
                     from junk in Gen.ArrayOf(Op)
                     from seed in Gen.Choose(0, int.MaxValue)
                     select (batches, junk, seed)).ToArbitrary(), input =>
        {
            var (batches, junk, seed) = input;
            var first = new InMemoryTreeNodes();
            var map = new Dictionary<Hash32, Hash32>();
            foreach (var batch in batches) ApplyBatch(first, map, ToChanges(batch));

            // Second route: junk first, then the final map shuffled and cut into random chunks (each chunk passed
            // in reverse order), then delete the junk keys the final map does not hold.
            var random = new Random(seed);
            var second = new InMemoryTreeNodes();
            var secondMap = new Dictionary<Hash32, Hash32>();
            ApplyBatch(second, secondMap, ToChanges(junk));
            var entries = map.Select(kv => (kv.Key, (Hash32?)kv.Value)).ToArray();
            random.Shuffle(entries);
            for (var i = 0; i < entries.Length;)
            {
                var size = random.Next(1, entries.Length - i + 1);
                ApplyBatch(second, secondMap, entries[i..(i + size)].Reverse().ToArray());
                i += size;
            }
            var leftovers = secondMap.Keys.Where(k => !map.ContainsKey(k)).Select(k => (k, (Hash32?)null)).ToArray();
            ApplyBatch(second, secondMap, leftovers);

            Assert.Equal(SparseMerkleTree.Root(first), SparseMerkleTree.Root(second));
            Assert.Null(Difference(first, second));
        });

    [Property(MaxTest = 200)]
    public Property Update_does_not_depend_on_the_order_of_its_changes() =>
        Prop.ForAll((from setup in Gen.ArrayOf(Op)
                     from batch in Gen.ArrayOf(Op)
                     from seed in Gen.Choose(0, int.MaxValue)
                     select (setup, batch, seed)).ToArbitrary(), input =>
        {
            var store = new InMemoryTreeNodes();
            ApplyBatch(store, [], ToChanges(input.setup));
            var changes = ToChanges(input.batch);
            var shuffled = changes.ToArray();
            new Random(input.seed).Shuffle(shuffled);
            var a = SparseMerkleTree.Update(store, changes);
            var b = SparseMerkleTree.Update(store, shuffled);
            Assert.Equal(a.Root, b.Root);
            Assert.Equal(a.Changes.OrderBy(c => c.Key.ToString()), b.Changes.OrderBy(c => c.Key.ToString()));
        });
}
