using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Accel.Tests.OpenCl;

/// <summary>Merkle levels on OpenCL are bit-identical to the CPU reference, odd last node carried up.</summary>
[Collection(OpenClCollection.Name)]
public sealed class OpenClMerkleTests(OpenClFixture fixture)
{
    private static Gen<int> Seed => Gen.Choose(0, int.MaxValue - 1);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(128)]
    [InlineData(129)]
    public void A_level_of_n_nodes_matches_the_reference(int n)
    {
        var level = Batches.Level(new Random(n), n);
        foreach (var tag in new byte[] { 0, 1, 0xff })
            Assert.Equal(Batches.NextLevel(OpenClFixture.Reference, tag, level), Batches.NextLevel(fixture.Accelerator, tag, level));
    }

    [Property(MaxTest = 100)]
    public Property Random_levels_match_the_reference() => Prop.ForAll(Arb.From(Seed), seed =>
    {
        var rng = new Random(seed);
        var level = Batches.Level(rng, rng.Next(2) == 0 ? rng.Next(8) : rng.Next(3000));
        var tag = (byte)rng.Next(256);
        var expected = Batches.NextLevel(OpenClFixture.Reference, tag, level);
        Assert.True(expected.SequenceEqual(Batches.NextLevel(fixture.Accelerator, tag, level)),
            $"seed {seed}: a level of {level.Length} with tag {tag} differs from the reference");
    });

    [Fact]
    public void A_whole_tree_level_by_level_gives_the_reference_root()
    {
        var level = Batches.Level(new Random(1000), 1000);
        var reference = level;
        while (level.Length > 1)
        {
            level = Batches.NextLevel(fixture.Accelerator, 1, level);
            reference = Batches.NextLevel(OpenClFixture.Reference, 1, reference);
            Assert.Equal(reference, level);
        }
    }

    [Fact]
    public void The_next_level_may_have_room_to_spare()
    {
        var level = Batches.Level(new Random(7), 7);
        var next = new Hash32[10];
        Assert.Equal(4, fixture.Accelerator.MerkleLevel(3, level, next));
        Assert.Equal(Batches.NextLevel(OpenClFixture.Reference, 3, level), next[..4]);
        Assert.All(next[4..], h => Assert.True(h.IsZero));
    }

    [Property(MaxTest = 30)]
    public Property Levels_split_over_many_launches_match_the_reference() => Prop.ForAll(Arb.From(Seed), seed =>
    {
        var rng = new Random(seed);
        // 7 pairs a launch.
        var level = Batches.Level(rng, rng.Next(200));
        Assert.True(Batches.NextLevel(OpenClFixture.Reference, 5, level).SequenceEqual(Batches.NextLevel(fixture.Small, 5, level)),
            $"seed {seed}: a level of {level.Length} differs from the reference");
    });
}
