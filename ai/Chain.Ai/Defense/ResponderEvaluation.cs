using System.Diagnostics;
using Chain.Ai.Data;

namespace Chain.Ai.Defense;

/// <summary>One family's attack events and how many were stopped (blocked, delayed or prevented).</summary>
public sealed record FamilyBlocking(string Family, long Events, long Stopped)
{
    public double Rate => Events == 0 ? 0 : (double)Stopped / Events;
}

/// <summary>
/// What a policy did over some episodes. Attack events = those sent (<see cref="AttacksBlocked"/> +
/// <see cref="AttacksPassed"/>) plus those campaigns no longer sent because an action ended them
/// (<see cref="AttacksPrevented"/>); stopped = blocked + prevented. Latency is of the policy's Decide call alone.
/// </summary>
public sealed record ResponderReport(
    int Episodes,
    long Steps,
    long AttacksBlocked,
    long AttacksPassed,
    long AttacksPrevented,
    long BenignEvents,
    long BenignBlocked,
    long ClinicalBenignEvents,
    long ClinicalDisrupted,
    IReadOnlyList<FamilyBlocking> PerFamily,
    IReadOnlyDictionary<DefenseAction, long> Actions,
    long KeyRotations,
    long Escalations,
    double TotalReward,
    double MeanLatencyMicros,
    double P99LatencyMicros)
{
    public long AttackEvents => AttacksBlocked + AttacksPassed + AttacksPrevented;

    public long AttacksStopped => AttacksBlocked + AttacksPrevented;

    /// <summary>Attack events stopped / attack events.</summary>
    public double BlockingRate => AttackEvents == 0 ? 0 : (double)AttacksStopped / AttackEvents;

    /// <summary>Benign events blocked or delayed / benign events.</summary>
    public double FalsePositiveRate => BenignEvents == 0 ? 0 : (double)BenignBlocked / BenignEvents;

    /// <summary>Clinical devices' benign events blocked or delayed / their benign events.</summary>
    public double ClinicalDisruption => ClinicalBenignEvents == 0 ? 0 : (double)ClinicalDisrupted / ClinicalBenignEvents;

    public double MeanEpisodeReturn => Episodes == 0 ? 0 : TotalReward / Episodes;

    public string Summary() =>
        $"blocking {BlockingRate:P1} ({AttacksStopped}/{AttackEvents}), FPR {FalsePositiveRate:P2} ({BenignBlocked}/{BenignEvents}), " +
        $"clinical disruption {ClinicalDisruption:P2} ({ClinicalDisrupted}/{ClinicalBenignEvents}), return/episode {MeanEpisodeReturn:F1}, " +
        $"latency mean {MeanLatencyMicros:F2} us p99 {P99LatencyMicros:F2} us, per family " +
        string.Join(", ", PerFamily.Select(f => $"{f.Family} {f.Rate:P1}")) +
        ", actions " + string.Join(" ", Actions.Where(a => a.Value > 0).Select(a => $"{a.Key}={a.Value}"));
}

/// <summary>A zero-day comparison: trained (and thresholded) without <see cref="Family"/>, evaluated on it alone.</summary>
public sealed record ZeroDayResult(
    string Family,
    IReadOnlyList<string> KnownFamilies,
    float BaselineThreshold,
    IReadOnlyList<float> LearningCurve,
    ResponderReport Agent,
    ResponderReport Baseline,
    ResponderReport AllowAll);

public static class ResponderEvaluation
{
    /// <summary>Evaluation episodes use environment seeds from here on (training uses small seeds).</summary>
    public const int DefaultFirstSeed = 1_000_000;

    /// <summary>Runs <paramref name="policy"/> for <paramref name="episodes"/> episodes (seeds firstSeed, firstSeed+1, ...).</summary>
    public static ResponderReport Run(IDefensePolicy policy, DefenseEnvironment env, int episodes, int firstSeed = DefaultFirstSeed)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(env);
        ArgumentOutOfRangeException.ThrowIfLessThan(episodes, 1);
        long steps = 0, blocked = 0, passed = 0, prevented = 0, benign = 0, benignBlocked = 0, clinical = 0, disrupted = 0;
        long rotations = 0, escalations = 0;
        double reward = 0;
        var perFamily = new Dictionary<string, (long Events, long Stopped)>(StringComparer.OrdinalIgnoreCase);
        foreach (var f in env.CampaignFamilies) perFamily[f] = (0, 0);
        var actions = Enum.GetValues<DefenseAction>().ToDictionary(a => a, _ => 0L);
        var latencies = new List<long>(episodes * env.Options.EpisodeSteps);
        for (var episode = 0; episode < episodes; episode++)
        {
            var state = env.Reset(unchecked(firstSeed + episode));
            while (true)
            {
                var context = env.Context;
                var start = Stopwatch.GetTimestamp();
                var action = policy.Decide(state, context);
                latencies.Add(Stopwatch.GetTimestamp() - start);
                var result = env.Step(action);
                var info = result.Info;
                steps++;
                reward += result.Reward;
                actions[action]++;
                if (info.IsAttack)
                {
                    var (events, stopped) = perFamily.GetValueOrDefault(info.Family);
                    perFamily[info.Family] = (events + 1, stopped + (info.AttackStopped ? 1 : 0));
                    if (info.AttackStopped) blocked++;
                    else passed++;
                }
                else
                {
                    benign++;
                    if (info.BenignBlocked) benignBlocked++;
                    if (info.Clinical) clinical++;
                    if (info.ClinicalDisruption) disrupted++;
                }
                foreach (var effect in info.Effects)
                {
                    switch (effect.Kind)
                    {
                        case DefenseEffectKind.KeyRotationRequested: rotations++; break;
                        case DefenseEffectKind.OperatorEscalated: escalations++; break;
                        case DefenseEffectKind.CampaignEnded:
                            var (events, stopped) = perFamily.GetValueOrDefault(effect.Family!);
                            perFamily[effect.Family!] = (events + effect.Count, stopped + effect.Count);
                            prevented += effect.Count;
                            break;
                    }
                }
                state = result.State;
                if (result.Done) break;
            }
        }
        var micros = latencies.Select(t => t * 1e6 / Stopwatch.Frequency).OrderBy(t => t).ToArray();
        var p99 = micros.Length == 0 ? 0 : micros[Math.Min(micros.Length - 1, (int)Math.Ceiling(micros.Length * 0.99) - 1)];
        return new ResponderReport(episodes, steps, blocked, passed, prevented, benign, benignBlocked, clinical, disrupted,
            [.. perFamily.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new FamilyBlocking(p.Key, p.Value.Events, p.Value.Stopped))],
            actions, rotations, escalations, reward, micros.Length == 0 ? 0 : micros.Average(), p99);
    }

    /// <summary>
    /// Zero-day comparison for <paramref name="family"/>: a DQN agent trained on <paramref name="train"/> with campaigns of
    /// every other family, and a <see cref="StaticBaseline"/> whose threshold is fitted on <paramref name="train"/>
    /// without that family, both evaluated (with Allow-all for reference) on <paramref name="test"/> with campaigns of
    /// <paramref name="family"/> only. For an honest zero-day the <paramref name="scorer"/> must also have been trained
    /// without the family: that is the caller's part.
    /// </summary>
    public static ZeroDayResult ZeroDay(TabularDataset train, TabularDataset test, IThreatScorer scorer, string family,
        DefenseOptions options, DqnOptions dqn, int trainEpisodes, int evalEpisodes, BaselineRules? rules = null,
        IProgress<DqnEpisode>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dqn);
        ArgumentException.ThrowIfNullOrWhiteSpace(family);
        var known = train.AttackFamilies().Where(f => !string.Equals(f, family, StringComparison.OrdinalIgnoreCase)).ToArray();
        if (known.Length == 0) throw new ArgumentException($"the training data has no attack family other than '{family}'", nameof(train));
        if (!test.AttackFamilies().Contains(family, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"the test data has no '{family}' rows", nameof(test));
        var trainEnv = new DefenseEnvironment(train, scorer, options with { Families = known });
        var testEnv = new DefenseEnvironment(test, scorer, options with { Families = [family] });
        using var agent = new DqnAgent(trainEnv.StateWidth, dqn);
        var curve = agent.Train(trainEnv, trainEpisodes, progress);
        var baseline = StaticBaseline.Fit(train, scorer, known, rules);
        return new ZeroDayResult(family, known, baseline.Threshold, curve,
            Run(agent, testEnv, evalEpisodes), Run(baseline, testEnv, evalEpisodes), Run(AllowAllPolicy.Instance, testEnv, evalEpisodes));
    }
}
