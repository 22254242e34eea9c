using System.Diagnostics;
using Chain.Ai.Defense;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Defense;

public sealed class ReplayBufferTests
{
    [Fact]
    public void The_ring_wraps_overwriting_the_oldest()
    {
        var buffer = new ReplayBuffer(3, 2, seed: 1);
        for (var i = 0; i < 5; i++) buffer.Add([i, i + 0.5f], i % 6, i * 10, [i + 1, i + 1.5f], i == 4);
        Assert.Equal(3, buffer.Count);
        Assert.Equal(5, buffer.Added);
        // Slot = add number mod 3: adds 3 and 4 overwrote slots 0 and 1; slot 2 still holds add 2.
        Assert.Equal([3f, 3.5f], buffer.At(0).State);
        Assert.Equal(40f, buffer.At(1).Reward);
        Assert.True(buffer.At(1).Terminal);
        Assert.Equal(2, buffer.At(2).Action);
        Assert.Equal([3f, 3.5f], buffer.At(2).Next);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.At(3));

        var states = new float[8 * 2];
        var actions = new long[8];
        var rewards = new float[8];
        var next = new float[8 * 2];
        var notTerminal = new float[8];
        buffer.Sample(8, states, actions, rewards, next, notTerminal);
        for (var b = 0; b < 8; b++)
        {
            Assert.Contains(rewards[b], new[] { 20f, 30f, 40f });
            var i = (int)(rewards[b] / 10);
            Assert.Equal((float)i, states[b * 2]);
            Assert.Equal((float)(i + 1), next[b * 2]);
            Assert.Equal((long)(i % 6), actions[b]);
            Assert.Equal(i == 4 ? 0f : 1f, notTerminal[b]);
        }
        // The same seed and adds give the same samples.
        var twin = new ReplayBuffer(3, 2, seed: 1);
        for (var i = 0; i < 5; i++) twin.Add([i, i + 0.5f], i % 6, i * 10, [i + 1, i + 1.5f], i == 4);
        var rewards2 = new float[8];
        twin.Sample(8, new float[16], new long[8], rewards2, new float[16], new float[8]);
        Assert.Equal(rewards, rewards2);
        Assert.Throws<ArgumentException>(() => buffer.Add([1f], 0, 0, [1f, 2f], false));
        Assert.Throws<InvalidOperationException>(() => new ReplayBuffer(2, 2, 0).Sample(1, states, actions, rewards, next, notTerminal));
    }
}

public sealed class StaticBaselineTests
{
    [Fact]
    public void The_threshold_maximises_youden_j_and_ties_go_high()
    {
        // Benign at 0.1, 0.2, 0.6; attacks at 0.5, 0.7, 0.9. Score >= 0.7: J = 2/3 - 0; >= 0.5: J = 1 - 1/3. Tie: 0.7.
        var t = StaticBaseline.ChooseThreshold([(0.1f, false), (0.2f, false), (0.6f, false), (0.5f, true), (0.7f, true), (0.9f, true)]);
        Assert.Equal(0.7f, t);
        Assert.Equal(0.5f, StaticBaseline.ChooseThreshold([(0.1f, false), (0.5f, true), (0.9f, true)]));
        Assert.Throws<ArgumentException>(() => StaticBaseline.ChooseThreshold([(0.1f, false)]));
    }

    [Fact]
    public void The_rule_table_acts_on_alerts_by_device_kind_and_never_repeats()
    {
        var b = new StaticBaseline(0.5f);
        var score = new ThreatScore(0.8f, null);
        Assert.Equal(DefenseAction.Allow, b.Decide([], new StepContext(0, 1, true, new ThreatScore(0.4f, null), Mitigation.None, false)));
        Assert.Equal(DefenseAction.Escalate, b.Decide([], new StepContext(0, 1, true, score, Mitigation.None, false)));
        Assert.Equal(DefenseAction.Allow, b.Decide([], new StepContext(0, 1, true, score, Mitigation.None, true)));
        Assert.Equal(DefenseAction.Quarantine, b.Decide([], new StepContext(0, 5, false, score, Mitigation.RateLimited, false)));
        Assert.Equal(DefenseAction.Allow, b.Decide([], new StepContext(0, 5, false, score, Mitigation.Quarantined, false)));
        var rateLimit = new StaticBaseline(0.5f, new BaselineRules { Clinical = DefenseAction.RateLimit });
        Assert.Equal(DefenseAction.RateLimit, rateLimit.Decide([], new StepContext(0, 1, true, score, Mitigation.None, false)));
    }

    [Fact]
    public void Fitting_leaves_unknown_families_out()
    {
        var data = DefenseTestData.Make(3);
        // A scorer that only sees Spoofing (x1 > 0) as an attack: with Data Alteration known the best threshold must
        // trade off; with Spoofing alone it separates perfectly at a high score.
        var scorer = new LogisticScorer([0f, 3f, 0f], 0f);
        var spoofingOnly = StaticBaseline.Fit(data, scorer, [DefenseTestData.Spoofing]);
        var both = StaticBaseline.Fit(data, scorer);
        Assert.True(spoofingOnly.Threshold > 0.9f, $"threshold {spoofingOnly.Threshold}");
        Assert.True(both.Threshold > 0.9f);
        var alterationOnly = StaticBaseline.Fit(data, scorer, [DefenseTestData.Alteration]);
        Assert.True(alterationOnly.Threshold < spoofingOnly.Threshold, $"{alterationOnly.Threshold} vs {spoofingOnly.Threshold}");
    }
}

public sealed class DqnAgentTests(ITestOutputHelper output)
{
    private const int Seed = 5;
    private const int Episodes = 60;

    /// <summary>Small and fast: one gradient step every 2 environment steps.</summary>
    private static DqnOptions FastDqn => new()
    {
        Hidden = [32, 32],
        BatchSize = 32,
        ReplayCapacity = 10_000,
        WarmupTransitions = 300,
        TrainEvery = 2,
        TargetSyncSteps = 100,
        EpsilonDecaySteps = 3_000,
        LearningRate = 2e-3,
        Seed = Seed,
    };

    [Fact]
    public void The_agent_learns_to_beat_allow_all_and_the_baseline()
    {
        output.WriteLine($"seed {Seed}");
        var data = DefenseTestData.Make(Seed, bursts: 16);
        var scorer = DefenseTestData.Scorer();
        // Half the ward is clinical: the rule table's escalations let attacks through until the operator comes, and
        // its quarantines block benign traffic; the agent can learn cheaper responses per device and family.
        var env = new DefenseEnvironment(data, scorer, DefenseTestData.SmallWard with { ClinicalDevices = 3 });
        using var agent = new DqnAgent(env.StateWidth, FastDqn);
        var watch = Stopwatch.StartNew();
        var curve = agent.Train(env, Episodes);
        output.WriteLine($"trained {Episodes} episodes in {watch.Elapsed.TotalSeconds:F1} s, {agent.GradientSteps} gradient steps");
        output.WriteLine("curve: " + string.Join(" ", curve.Select(r => r.ToString("F0", System.Globalization.CultureInfo.InvariantCulture))));
        var baseline = StaticBaseline.Fit(data, scorer);
        var dqn = ResponderEvaluation.Run(agent, env, 10);
        var rules = ResponderEvaluation.Run(baseline, env, 10);
        var allow = ResponderEvaluation.Run(AllowAllPolicy.Instance, env, 10);
        output.WriteLine($"dqn:      {dqn.Summary()}");
        output.WriteLine($"baseline: {rules.Summary()} (threshold {baseline.Threshold:F3})");
        output.WriteLine($"allow:    {allow.Summary()}");
        Assert.True(dqn.TotalReward > allow.TotalReward, $"dqn {dqn.TotalReward} vs allow {allow.TotalReward}");
        Assert.True(dqn.TotalReward > rules.TotalReward, $"dqn {dqn.TotalReward} vs baseline {rules.TotalReward}");
        Assert.True(curve.Skip(Episodes - 10).Average() > curve.Take(5).Average(), "the learning curve rises");
    }

    [Fact]
    public void Saved_weights_load_to_the_same_decisions_and_bytes()
    {
        var env = new DefenseEnvironment(DefenseTestData.Make(Seed), DefenseTestData.Scorer(), DefenseTestData.SmallWard);
        using var agent = new DqnAgent(env.StateWidth, FastDqn with { WarmupTransitions = 100 });
        agent.Train(env, 2);
        var path = Path.Combine(Path.GetTempPath(), $"chain-dqn-{Environment.ProcessId}.bin");
        try
        {
            agent.Save(path);
            using var loaded = DqnAgent.Load(path);
            var again = Path.ChangeExtension(path, ".2.bin");
            loaded.Save(again);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
            File.Delete(again);
            var state = env.Reset(99);
            var distinct = new HashSet<DefenseAction>();
            while (true)
            {
                var a = agent.Decide(state);
                Assert.Equal(a, loaded.Decide(state));
                Assert.Equal(agent.QValues(state), loaded.QValues(state));
                distinct.Add(a);
                var r = env.Step(a);
                state = r.State;
                if (r.Done) break;
            }
            output.WriteLine($"actions seen: {string.Join(", ", distinct)}");
            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Throws<InvalidDataException>(() => DqnAgent.Load(path));
            var bytes = new MemoryStream();
            agent.Save(bytes);
            File.WriteAllBytes(path, bytes.ToArray()[..^4]);
            Assert.Contains("ends early", Assert.Throws<InvalidDataException>(() => DqnAgent.Load(path)).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Throws<FileNotFoundException>(() => DqnAgent.Load("/nonexistent/dqn.bin"));
        Assert.Throws<ArgumentException>(() => agent.Decide(new float[3]));
    }

    [Fact]
    public void Training_is_deterministic_for_a_seed()
    {
        var env = new DefenseEnvironment(DefenseTestData.Make(Seed), DefenseTestData.Scorer(), DefenseTestData.SmallWard);
        var options = FastDqn with { WarmupTransitions = 100 };
        using var a = new DqnAgent(env.StateWidth, options);
        using var b = new DqnAgent(env.StateWidth, options);
        Assert.Equal(a.Train(env, 3), b.Train(env, 3));
        var sa = new MemoryStream();
        var sb = new MemoryStream();
        a.Save(sa);
        b.Save(sb);
        Assert.Equal(sa.ToArray(), sb.ToArray());
    }
}

public sealed class ResponderEvaluationTests(ITestOutputHelper output)
{
    [Fact]
    public void Evaluation_counts_add_up()
    {
        var data = DefenseTestData.Make(2);
        var env = new DefenseEnvironment(data, DefenseTestData.Scorer(), DefenseTestData.SmallWard);
        var baseline = StaticBaseline.Fit(data, DefenseTestData.Scorer());
        var r = ResponderEvaluation.Run(baseline, env, 4);
        output.WriteLine(r.Summary());
        Assert.Equal(4 * env.Options.EpisodeSteps, r.Steps);
        Assert.Equal(r.Steps, r.AttacksBlocked + r.AttacksPassed + r.BenignEvents);
        Assert.Equal(r.Steps, r.Actions.Values.Sum());
        Assert.Equal(r.AttackEvents, r.PerFamily.Sum(f => f.Events));
        Assert.Equal(r.AttacksStopped, r.PerFamily.Sum(f => f.Stopped));
        Assert.True(r.ClinicalDisrupted <= r.ClinicalBenignEvents && r.ClinicalDisrupted <= r.BenignBlocked);
        Assert.InRange(r.BlockingRate, 0.3, 1.0);
        Assert.True(r.MeanLatencyMicros > 0 && r.P99LatencyMicros >= r.MeanLatencyMicros * 0.5);
        Assert.Equal(r.Escalations, r.Actions[DefenseAction.Escalate]);

        // The same episodes replayed by hand give the same total reward.
        double total = 0;
        for (var e = 0; e < 4; e++)
        {
            var state = env.Reset(ResponderEvaluation.DefaultFirstSeed + e);
            while (true)
            {
                var step = env.Step(baseline.Decide(state, env.Context));
                total += step.Reward;
                state = step.State;
                if (step.Done) break;
            }
        }
        Assert.Equal(total, r.TotalReward, 1e-6);

        var allow = ResponderEvaluation.Run(AllowAllPolicy.Instance, env, 4);
        Assert.Equal(0, allow.BlockingRate);
        Assert.Equal(0, allow.FalsePositiveRate);
        Assert.Equal(0, allow.ClinicalDisruption);
        Assert.Equal(-allow.AttacksPassed * (double)env.Options.Rewards.AttackPassed, allow.TotalReward, 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => ResponderEvaluation.Run(baseline, env, 0));
    }

    [Fact]
    public void Zero_day_trains_without_the_family_and_evaluates_on_it_alone()
    {
        var train = DefenseTestData.Make(31);
        var test = DefenseTestData.Make(32);
        var dqn = new DqnOptions { Hidden = [16], BatchSize = 16, WarmupTransitions = 100, TrainEvery = 4, Seed = 3 };
        var result = ResponderEvaluation.ZeroDay(train, test, DefenseTestData.Scorer(), DefenseTestData.Alteration,
            DefenseTestData.SmallWard, dqn, trainEpisodes: 3, evalEpisodes: 2);
        output.WriteLine($"agent:    {result.Agent.Summary()}");
        output.WriteLine($"baseline: {result.Baseline.Summary()}");
        Assert.Equal([DefenseTestData.Spoofing], result.KnownFamilies);
        Assert.Equal(3, result.LearningCurve.Count);
        foreach (var r in new[] { result.Agent, result.Baseline, result.AllowAll })
        {
            var family = Assert.Single(r.PerFamily);
            Assert.Equal(DefenseTestData.Alteration, family.Family);
            Assert.True(family.Events > 0);
        }
        Assert.Equal(0, result.AllowAll.BlockingRate);
        Assert.Throws<ArgumentException>(() => ResponderEvaluation.ZeroDay(train.Subset([.. Enumerable.Range(0, 140)]), test,
            DefenseTestData.Scorer(), DefenseTestData.Spoofing, DefenseTestData.SmallWard, dqn, 1, 1));
    }
}
