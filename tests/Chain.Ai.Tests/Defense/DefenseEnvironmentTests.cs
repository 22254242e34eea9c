using Chain.Ai.Defense;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Defense;

public sealed class DefenseEnvironmentTests(ITestOutputHelper output)
{
    private const int Seed = 7;

    private static DefenseEnvironment Env(DefenseOptions? options = null, bool families = true) =>
        new(DefenseTestData.Make(Seed), DefenseTestData.Scorer(families), options ?? DefenseTestData.SmallWard);

    /// <summary>Runs one episode choosing actions from a seeded generator; returns every step's result.</summary>
    private static List<StepResult> RandomEpisode(DefenseEnvironment env, int seed, int actionSeed, List<float[]>? states = null)
    {
        var pick = new Random(actionSeed);
        var results = new List<StepResult>();
        var state = env.Reset(seed);
        states?.Add(state);
        while (true)
        {
            // Mostly Allow, so campaigns run long enough to be acted on.
            var action = pick.NextDouble() < 0.7 ? DefenseAction.Allow : (DefenseAction)pick.Next(DefenseEnvironment.ActionCount);
            var r = env.Step(action);
            results.Add(r);
            states?.Add(r.State);
            if (r.Done) return results;
        }
    }

    private static (int, int, bool, bool, string, DefenseAction, EventOutcome, float, int) Key(StepInfo i) =>
        (i.Step, i.Device, i.Clinical, i.IsAttack, i.Family, i.Action, i.Outcome, i.Reward, i.AttacksPrevented);

    [Fact]
    public void The_same_seed_and_actions_give_the_same_episode()
    {
        output.WriteLine($"seed {Seed}");
        var a = RandomEpisode(Env(), 11, 5);
        var b = RandomEpisode(Env(), 11, 5);
        var c = RandomEpisode(Env(), 12, 5);
        Assert.Equal(DefenseTestData.SmallWard.EpisodeSteps, a.Count);
        Assert.Equal(a.Count, b.Count);
        for (var i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].State, b[i].State);
            Assert.Equal(a[i].Reward, b[i].Reward);
            Assert.Equal(Key(a[i].Info), Key(b[i].Info));
            Assert.Equal(a[i].Info.Effects, b[i].Info.Effects);
        }
        Assert.True(a.Any(r => r.Info.IsAttack), "the episode has attack events");
        Assert.NotEqual(a.Select(r => r.Info.Device), c.Select(r => r.Info.Device));
        // Reset on the same object starts the same episode again.
        var env = Env();
        var first = RandomEpisode(env, 11, 5);
        var again = RandomEpisode(env, 11, 5);
        Assert.Equal(first.Select(r => r.Reward), again.Select(r => r.Reward));
    }

    [Fact]
    public void Allow_lets_every_event_through()
    {
        var env = Env();
        var w = env.Options.Rewards;
        var state = env.Reset(3);
        int attacks = 0, steps = 0;
        float total = 0;
        while (true)
        {
            Assert.Equal(Mitigation.None, env.Context.Mitigation);
            var r = env.Step(DefenseAction.Allow);
            Assert.Equal(EventOutcome.Passed, r.Info.Outcome);
            Assert.Empty(r.Info.Effects);
            Assert.Equal(0, r.Info.AttacksPrevented);
            Assert.Equal(r.Info.IsAttack ? -w.AttackPassed : 0f, r.Reward);
            attacks += r.Info.IsAttack ? 1 : 0;
            total += r.Reward;
            steps++;
            if (r.Done) break;
        }
        Assert.True(attacks > 0);
        Assert.Equal(-attacks * w.AttackPassed, total);
        Assert.Equal(env.Options.EpisodeSteps, steps);
        Assert.Throws<InvalidOperationException>(() => env.Step(DefenseAction.Allow));
    }

    [Fact]
    public void Quarantine_blocks_all_the_devices_events_for_its_duration()
    {
        var env = Env();
        env.Reset(21);
        // Quarantine the device of the first event at step 0, then allow everything.
        var device = env.Context.Device;
        var first = env.Step(DefenseAction.Quarantine);
        Assert.Equal(EventOutcome.Blocked, first.Info.Outcome);
        var q = env.Options.QuarantineSteps;
        int inside = 0, after = 0;
        while (true)
        {
            var context = env.Context;
            var r = env.Step(DefenseAction.Allow);
            if (r.Info.Device == device)
            {
                if (r.Info.Step < q)
                {
                    Assert.Equal(Mitigation.Quarantined, context.Mitigation);
                    Assert.Equal(EventOutcome.Blocked, r.Info.Outcome);
                    inside++;
                }
                else
                {
                    Assert.Equal(EventOutcome.Passed, r.Info.Outcome);
                    after++;
                }
            }
            else
            {
                Assert.Equal(EventOutcome.Passed, r.Info.Outcome);
            }
            if (r.Done) break;
        }
        output.WriteLine($"device {device}: {inside} events blocked in the quarantine, {after} passed after it");
        Assert.True(inside > 0 && after > 0);
    }

    [Fact]
    public void Rewards_follow_the_weights_exactly()
    {
        var weights = new RewardWeights
        {
            AttackStopped = 1.5f, AttackPassed = 2.25f, AttackPrevented = 0.75f, ClinicalDisruption = 8f, BenignBlocked = 0.5f,
            RateLimitCost = 0.125f, QuarantineCost = 0.25f, ReAuthenticateCost = 0.375f, RotateKeysCost = 1.25f, EscalateCost = 1.75f,
        };
        var env = Env(DefenseTestData.SmallWard with { Rewards = weights });
        var results = RandomEpisode(env, 4, 9);
        var kinds = new HashSet<string>();
        foreach (var r in results)
        {
            var i = r.Info;
            var expected = -weights.Cost(i.Action);
            if (i.IsAttack) expected += i.AttackStopped ? weights.AttackStopped : -weights.AttackPassed;
            else if (i.BenignBlocked) expected -= i.Clinical ? weights.ClinicalDisruption : weights.BenignBlocked;
            expected += i.AttacksPrevented * weights.AttackPrevented;
            Assert.Equal(expected, r.Reward, 1e-5);
            Assert.Equal(r.Reward, i.Reward);
            Assert.Equal(i.Effects.Where(e => e.Kind == DefenseEffectKind.CampaignEnded).Sum(e => e.Count), i.AttacksPrevented);
            kinds.Add($"{i.Action}/{(i.IsAttack ? "attack" : i.Clinical ? "clinical" : "benign")}/{i.Outcome}");
        }
        output.WriteLine(string.Join(", ", kinds.Order(StringComparer.Ordinal)));
        Assert.Contains(results, r => r.Info.AttackStopped);
        Assert.Contains(results, r => r.Info.AttackPassed);
        Assert.Contains(results, r => r.Info.BenignBlocked && !r.Info.Clinical);
        // Constructed cases: the first event of the same episode under each action.
        foreach (var action in Enum.GetValues<DefenseAction>())
        {
            env.Reset(4);
            var c = env.Context;
            var r = env.Step(action);
            Assert.Equal(c.Device, r.Info.Device);
            var outcome = action switch
            {
                DefenseAction.Quarantine => EventOutcome.Blocked,
                DefenseAction.ReAuthenticate => EventOutcome.Delayed,
                DefenseAction.RateLimit => r.Info.Outcome,
                _ => EventOutcome.Passed,
            };
            Assert.Equal(outcome, r.Info.Outcome);
            var stopped = outcome != EventOutcome.Passed;
            var expected = -weights.Cost(action)
                + (r.Info.IsAttack ? stopped ? weights.AttackStopped : -weights.AttackPassed
                    : stopped ? -(c.Clinical ? weights.ClinicalDisruption : weights.BenignBlocked) : 0f)
                + r.Info.AttacksPrevented * weights.AttackPrevented;
            Assert.Equal(expected, r.Reward);
        }
    }

    [Fact]
    public void RotateKeys_raises_its_effect_and_ends_only_credential_campaigns()
    {
        var env = Env(DefenseTestData.SmallWard with { CampaignsPerEpisode = 3 });
        bool endedSpoofing = false, keptAlteration = false;
        for (var seed = 0; seed < 40 && !(endedSpoofing && keptAlteration); seed++)
        {
            env.Reset(seed);
            while (true)
            {
                var c = env.Context;
                var attack = c.Score.Attack > 0.9f;
                var action = attack ? DefenseAction.RotateKeys : DefenseAction.Allow;
                var r = env.Step(action);
                if (action == DefenseAction.RotateKeys)
                {
                    Assert.Contains(new DefenseEffect(DefenseEffectKind.KeyRotationRequested, c.Device), r.Info.Effects);
                    var ended = r.Info.Effects.Where(e => e.Kind == DefenseEffectKind.CampaignEnded).ToArray();
                    Assert.All(ended, e => Assert.Equal(DefenseTestData.Spoofing, e.Family));
                    if (r.Info.IsAttack && r.Info.Family == DefenseTestData.Spoofing && ended.Length > 0) endedSpoofing = true;
                    if (r.Info.IsAttack && r.Info.Family == DefenseTestData.Alteration && ended.Length == 0) keptAlteration = true;
                }
                else
                {
                    Assert.DoesNotContain(r.Info.Effects, e => e.Kind == DefenseEffectKind.KeyRotationRequested);
                }
                if (r.Done) break;
            }
        }
        Assert.True(endedSpoofing, "RotateKeys ended a Spoofing campaign");
        Assert.True(keptAlteration, "RotateKeys left a Data Alteration campaign running");
    }

    [Fact]
    public void Escalation_resolves_after_its_delay_and_ends_the_campaign()
    {
        var env = Env();
        for (var seed = 0; seed < 40; seed++)
        {
            env.Reset(seed);
            int escalatedAt = -1, device = -1;
            while (true)
            {
                var c = env.Context;
                var action = escalatedAt < 0 && c.Score.Attack > 0.95f ? DefenseAction.Escalate : DefenseAction.Allow;
                var r = env.Step(action);
                if (action == DefenseAction.Escalate)
                {
                    escalatedAt = c.Step;
                    device = c.Device;
                    Assert.Contains(new DefenseEffect(DefenseEffectKind.OperatorEscalated, device), r.Info.Effects);
                }
                var resolved = r.Info.Effects.Where(e => e.Kind == DefenseEffectKind.EscalationResolved).ToArray();
                if (resolved.Length > 0)
                {
                    Assert.Equal(escalatedAt + env.Options.EscalationDelay, r.Info.Step + 1);
                    Assert.Equal(device, resolved[0].Device);
                    Assert.Equal(resolved[0].Count, r.Info.AttacksPrevented);
                    if (resolved[0].Count > 0) return;
                }
                if (r.Done) break;
            }
        }
        Assert.Fail("no escalation ended a campaign in 40 episodes");
    }

    [Fact]
    public void The_state_has_a_fixed_width_and_values_in_zero_to_one()
    {
        foreach (var families in new[] { true, false })
        {
            var env = Env(families: families);
            var expected = 1 + (families ? 2 : 0) + StateLayout.ContextWidth;
            Assert.Equal(expected, env.StateWidth);
            var states = new List<float[]>();
            RandomEpisode(env, 8, 3, states);
            foreach (var s in states)
            {
                Assert.Equal(expected, s.Length);
                Assert.All(s, v => Assert.InRange(v, 0f, 1f));
                var o = env.Layout.Context;
                Assert.Equal(1.0, s[(o + 1)..(o + 5)].Sum(), 1e-6); // mitigation one-hot
                Assert.Equal(1.0, s[(o + 10)..(o + 16)].Sum(), 1e-6); // last action one-hot
            }
            Assert.Contains(states, s => s[env.Layout.Clinical] == 1f);
            Assert.Contains(states, s => s[env.Layout.Context + 3] == 1f); // someone quarantined
        }
    }

    [Fact]
    public void Benign_rows_are_dealt_to_devices_in_contiguous_stretches()
    {
        var env = Env();
        var all = Enumerable.Range(0, env.Options.Devices).SelectMany(d => env.BenignRowsOf(d)).Order().ToArray();
        var data = DefenseTestData.Make(Seed);
        Assert.Equal(Enumerable.Range(0, data.Count).Where(i => data.Labels[i] == 0), all);
        Assert.All(Enumerable.Range(0, env.Options.Devices), d => Assert.NotEmpty(env.BenignRowsOf(d)));
        Assert.Equal("infusion-pump-00", env.DeviceName(0));
        Assert.Equal("patient-monitor-01", env.DeviceName(1));
        Assert.Equal("device-02", env.DeviceName(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => env.BenignRowsOf(env.Options.Devices));
        Assert.Throws<ArgumentOutOfRangeException>(() => env.DeviceName(-1));
    }

    [Fact]
    public void Bad_input_is_refused_with_clear_errors()
    {
        var data = DefenseTestData.Make(Seed);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DefenseEnvironment(data, DefenseTestData.Scorer(), new DefenseOptions { Devices = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DefenseEnvironment(data, DefenseTestData.Scorer(), new DefenseOptions { ClinicalDevices = 13 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DefenseEnvironment(data, DefenseTestData.Scorer(), new DefenseOptions { AttackShare = 1.5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DefenseEnvironment(data, DefenseTestData.Scorer(),
            new DefenseOptions { Rewards = new RewardWeights { AttackPassed = -1 } }));
        var e = Assert.Throws<ArgumentException>(() => new DefenseEnvironment(data, DefenseTestData.Scorer(), new DefenseOptions { Families = ["DDoS"] }));
        Assert.Contains("'DDoS' has no attack rows", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new DefenseEnvironment(data, new LogisticScorer([1f, 2f], 0), null));
        var env = Env();
        Assert.Throws<InvalidOperationException>(() => env.Step(DefenseAction.Allow));
        env.Reset(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => env.Step((DefenseAction)17));
        var bad = new DefenseEnvironment(data, new LogisticScorer([float.NaN, 0, 0], 0), DefenseTestData.SmallWard);
        Assert.Throws<InvalidOperationException>(() => bad.Reset(1));
    }
}
