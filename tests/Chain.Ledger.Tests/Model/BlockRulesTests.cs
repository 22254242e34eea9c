using Chain.Ledger.Model;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Model;

public class BlockRulesTests
{
    private const long Now = TestData.GenesisTimestamp;
    private const long Drift = 2_000;

    [Fact]
    public void A_later_timestamp_within_the_drift_is_accepted()
    {
        Assert.Null(BlockRules.CheckTimestamp(Now - 5_000, Now - 4_999, Now, Drift));
        Assert.Null(BlockRules.CheckTimestamp(Now - 5_000, Now, Now, Drift));
        Assert.Null(BlockRules.CheckTimestamp(Now - 5_000, Now + Drift, Now, Drift));
        Assert.Null(BlockRules.CheckTimestamp(Now, Now + 1, Now, 1));
    }

    [Fact]
    public void An_equal_or_earlier_timestamp_is_rejected()
    {
        Assert.Contains("not after the parent", BlockRules.CheckTimestamp(Now - 10, Now - 10, Now, Drift));
        Assert.Contains("not after the parent", BlockRules.CheckTimestamp(Now - 10, Now - 11, Now, Drift));
        Assert.Contains("not after the parent", BlockRules.CheckTimestamp(Now + 10, Now, Now, Drift));
    }

    [Fact]
    public void A_timestamp_too_far_ahead_is_rejected()
    {
        Assert.Contains("ahead of local time", BlockRules.CheckTimestamp(Now - 10, Now + Drift + 1, Now, Drift));
        Assert.Contains("ahead of local time", BlockRules.CheckTimestamp(Now - 10, Now + 1, Now, 0));
        Assert.Contains("ahead of local time", BlockRules.CheckTimestamp(Now - 10, long.MaxValue, Now, Drift));
    }

    [Property(MaxTest = 300)]
    public Property Accepted_exactly_when_after_the_parent_and_within_the_drift() =>
        Prop.ForAll(Arb.From(Generators.Seed), seed =>
        {
            var rng = new Random(seed);
            var now = rng.NextInt64(0, 1L << 50);
            var drift = rng.NextInt64(0, 600_000);
            var parent = now + rng.NextInt64(-1_000_000, 1_000_000);
            var timestamp = rng.Next(3) switch
            {
                0 => parent + rng.NextInt64(-2, 3),
                1 => now + drift + rng.NextInt64(-2, 3),
                _ => now + rng.NextInt64(-2_000_000, 2_000_000),
            };
            var problem = BlockRules.CheckTimestamp(parent, timestamp, now, drift);
            var valid = timestamp > parent && timestamp <= now + drift;
            Assert.True((problem is null) == valid,
                $"seed {seed}: parent {parent} ts {timestamp} now {now} drift {drift}: {problem}");
        });
}
