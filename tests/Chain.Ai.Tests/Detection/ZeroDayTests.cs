using Chain.Ai.Data;
using Chain.Ai.Detection;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Detection;

public sealed class ZeroDayTests(ITestOutputHelper output)
{
    [Fact]
    public void Campaigns_join_events_separated_by_at_most_the_gap()
    {
        // 3 -> 10 has 6 rows between (> 5): a new campaign; 11 -> 20 has 8.
        var campaigns = ZeroDay.Campaigns([1, 2, 3, 10, 11, 20], gap: 5);
        Assert.Equal(3, campaigns.Count);
        Assert.Equal([1, 2, 3], campaigns[0]);
        Assert.Equal([10, 11], campaigns[1]);
        Assert.Equal([20], campaigns[2]);
        Assert.Single(ZeroDay.Campaigns([1, 2, 3, 10, 11, 20], gap: 8));
        Assert.Empty(ZeroDay.Campaigns([], gap: 5));
        Assert.Throws<ArgumentException>(() => ZeroDay.Campaigns([3, 2], gap: 5));
    }

    [Fact]
    public void Delay_is_the_number_of_events_before_the_first_blocked_one()
    {
        float[] scores = [0.1f, 0.2f, 0.9f, 0.95f, 0.3f];
        Assert.Equal(2, ZeroDay.FirstBlocked([0, 1, 2, 3], scores, 0.5f));
        Assert.Equal(0, ZeroDay.FirstBlocked([3, 4], scores, 0.5f));
        Assert.Equal(-1, ZeroDay.FirstBlocked([0, 1, 4], scores, 0.5f));
    }

    [Fact]
    public void Zero_day_on_two_synthetic_families_reports_both_unseen_and_known()
    {
        const int seed = 5;
        output.WriteLine($"seed {seed}, synthetic data seed 7");
        var data = SyntheticIomt.Load();
        var options = new DetectorOptions { Hidden = [16, 8], Epochs = 15, BatchSize = 64, LearningRate = 3e-3, Seed = seed, Patience = 0 };
        var report = ZeroDay.Evaluate(data, options, maxFpr: 0.02, gap: 5, minTestEvents: 10);
        Assert.StartsWith("chronological", report.Split, StringComparison.Ordinal);
        Assert.Equal([SyntheticIomt.Alteration, SyntheticIomt.Spoofing], report.Unseen.Select(r => r.Family));
        Assert.Equal([SyntheticIomt.Alteration, SyntheticIomt.Spoofing], report.Known.Select(r => r.Family));
        foreach (var r in report.Unseen.Concat(report.Known))
        {
            output.WriteLine($"{(r.Unseen ? "unseen" : "known")} {r.Family}: scope {r.Scope}, blocked {r.BlockedShare:F3} of " +
                             $"{r.Events}, FPR {r.BenignFpr:F4}, campaigns {r.Campaigns} (missed {r.MissedCampaigns}), " +
                             $"delay {r.MeanDelay:F2}/{r.MedianDelay:F1}");
            // 300 test rows: bursts at 1750, 1850, 1950, alternating families (two of one, one of the other).
            Assert.Equal("test", r.Scope);
            Assert.InRange(r.TestEvents, 15, 30);
            Assert.Equal(150, r.AllEvents);
            Assert.InRange(r.BlockedShare, 0, 1);
            Assert.InRange(r.BenignFpr, 0, 0.1);
            Assert.Equal(r.TestEvents / 15, r.Campaigns);
            Assert.True(r.MissedCampaigns <= r.Campaigns);
        }
        // The detector that knew every family blocks nearly all of both.
        Assert.All(report.Known, r => Assert.True(r.BlockedShare > 0.8, $"{r.Family} {r.BlockedShare}"));
        Assert.All(report.Known, r => Assert.Equal(0, r.MissedCampaigns));
    }

    [Fact]
    public void Zero_day_needs_two_families()
    {
        var data = SyntheticIomt.Load(rows: 400);
        var one = data.Subset([.. Enumerable.Range(0, data.Count).Where(i => data.Families[i] != SyntheticIomt.Spoofing)]);
        Assert.Throws<DatasetException>(() => ZeroDay.Evaluate(one, new DetectorOptions { Epochs = 1 }));
    }
}
