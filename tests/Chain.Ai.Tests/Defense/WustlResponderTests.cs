using System.Diagnostics;
using System.Globalization;
using Chain.Ai.Data;
using Chain.Ai.Defense;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Defense;

/// <summary>
/// The responder on the shared WUSTL-EHMS-2020 file (skipped when it is absent), with a logistic scorer fitted on the
/// first 70% of the timeline and environments built on each part. By default only the baseline (seconds); set
/// CHAIN_AI_RL_EPISODES (training episodes, e.g. 150) to train and evaluate the agent too, with the zero-day
/// comparison per family (minutes).
/// </summary>
public sealed class WustlResponderTests(ITestOutputHelper output)
{
    private const int Seed = 20_261_129;

    [Fact]
    public void On_the_shared_wustl_file_the_responders_beat_allow_all()
    {
        var path = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "wustl-ehms-2020",
            "wustl-ehms-2020_with_attacks_categories.csv"));
        if (!File.Exists(path))
        {
            output.WriteLine($"skipping: {path} is absent");
            return;
        }
        // Training the agent on the real file takes minutes: only when asked (CHAIN_AI_RL_EPISODES, e.g. 150).
        var episodes = int.TryParse(Environment.GetEnvironmentVariable("CHAIN_AI_RL_EPISODES"), CultureInfo.InvariantCulture, out var n) ? n : 0;
        output.WriteLine($"seed {Seed}, {episodes} training episodes");
        var data = TabularDataset.Load(path, DatasetOptions.WustlEhms2020);
        var split = Splits.Chronological(data.Count, 0.7, 0.0);
        var train = data.Subset(split.Train);
        var test = data.Subset(split.Test);
        var options = new DefenseOptions();
        var evalEpisodes = episodes > 0 ? 50 : 5;

        var watch = Stopwatch.StartNew();
        var scorer = LogisticScorer.Fit(train);
        output.WriteLine($"scorer fitted in {watch.Elapsed.TotalSeconds:F1} s");
        var testEnv = new DefenseEnvironment(test, scorer, options);
        var baseline = StaticBaseline.Fit(train, scorer);
        var b = ResponderEvaluation.Run(baseline, testEnv, evalEpisodes);
        var z = ResponderEvaluation.Run(AllowAllPolicy.Instance, testEnv, evalEpisodes);
        output.WriteLine($"all families, test part, {evalEpisodes} episodes");
        output.WriteLine($"  baseline: {b.Summary()} (threshold {baseline.Threshold:F3})");
        output.WriteLine($"  allow:    {z.Summary()}");
        Assert.True(b.TotalReward > z.TotalReward, $"baseline {b.TotalReward} vs allow-all {z.TotalReward}");
        Assert.True(b.PerFamily.Single(f => f.Family == "Data Alteration").Rate > 0.5, "the baseline stops most Data Alteration");
        if (episodes == 0) return;

        var dqn = new DqnOptions { Seed = Seed, TrainEvery = 2, EpsilonDecaySteps = Math.Max(2_000, episodes * options.EpisodeSteps / 2) };
        var trainEnv = new DefenseEnvironment(train, scorer, options);
        using var agent = new DqnAgent(trainEnv.StateWidth, dqn);
        watch.Restart();
        var curve = agent.Train(trainEnv, episodes);
        output.WriteLine($"trained in {watch.Elapsed.TotalSeconds:F1} s; curve (means of 10): " + string.Join(" ",
            curve.Chunk(10).Select(c => c.Average().ToString("F0", CultureInfo.InvariantCulture))));
        var a = ResponderEvaluation.Run(agent, testEnv, evalEpisodes);
        output.WriteLine($"  dqn:      {a.Summary()}");
        Assert.True(a.TotalReward > z.TotalReward, $"dqn {a.TotalReward} vs allow-all {z.TotalReward}");
        foreach (var family in data.AttackFamilies())
        {
            var known = data.AttackFamilies().Where(f => f != family).ToArray();
            var blind = LogisticScorer.Fit(train, known);
            var r = ResponderEvaluation.ZeroDay(train, test, blind, family, options, dqn, episodes, evalEpisodes);
            output.WriteLine($"zero-day {family} (trained on {string.Join(", ", known)}; baseline threshold {r.BaselineThreshold:F3})");
            output.WriteLine($"  dqn:      {r.Agent.Summary()}");
            output.WriteLine($"  baseline: {r.Baseline.Summary()}");
            output.WriteLine($"  allow:    {r.AllowAll.Summary()}");
        }
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Chain.sln not found above the test's folder");
    }
}
