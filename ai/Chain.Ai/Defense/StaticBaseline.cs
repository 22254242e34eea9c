using Chain.Ai.Data;

namespace Chain.Ai.Defense;

/// <summary>The baseline's rule table: the action taken on an alert, by device kind.</summary>
public sealed record BaselineRules
{
    public DefenseAction Clinical { get; init; } = DefenseAction.Escalate;
    public DefenseAction NonClinical { get; init; } = DefenseAction.Quarantine;
}

/// <summary>
/// A fixed-threshold responder with no learning at decision time: an event whose attack score is at least
/// <see cref="Threshold"/> is an alert; an alert on a clinical device gets <see cref="BaselineRules.Clinical"/>, on any
/// other device <see cref="BaselineRules.NonClinical"/>; everything else is allowed. An alert on a device already under
/// the mitigation its action would set (or with an escalation pending, for Escalate) is allowed, so the rule does not
/// pay for the same response twice.
/// </summary>
public sealed class StaticBaseline : IDefensePolicy
{
    public StaticBaseline(float threshold, BaselineRules? rules = null)
    {
        if (!float.IsFinite(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "must be finite");
        Threshold = threshold;
        Rules = rules ?? new BaselineRules();
        if (!Enum.IsDefined(Rules.Clinical) || !Enum.IsDefined(Rules.NonClinical))
            throw new ArgumentOutOfRangeException(nameof(rules), "rule actions must be defense actions");
    }

    public float Threshold { get; }

    public BaselineRules Rules { get; }

    /// <summary>
    /// Chooses the threshold on <paramref name="train"/>: the score t maximising Youden's J (true-positive rate minus
    /// false-positive rate of "score ≥ t") over the benign rows and the attack rows of <paramref name="knownFamilies"/>
    /// (null = every family in <paramref name="train"/>; rows of other families are left out, so an unseen family
    /// plays no part). Ties go to the higher threshold.
    /// </summary>
    public static StaticBaseline Fit(TabularDataset train, IThreatScorer scorer, IReadOnlyCollection<string>? knownFamilies = null,
        BaselineRules? rules = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(scorer);
        if (scorer.FeatureCount != train.FeatureNames.Count)
            throw new ArgumentException($"the scorer takes {scorer.FeatureCount} features, the dataset has {train.FeatureNames.Count}", nameof(scorer));
        var known = knownFamilies is null ? null : new HashSet<string>(knownFamilies, StringComparer.OrdinalIgnoreCase);
        var scored = new List<(float Score, bool Attack)>();
        for (var i = 0; i < train.Count; i++)
        {
            var attack = train.Labels[i] == 1;
            if (attack && known is not null && !known.Contains(train.Families[i])) continue;
            scored.Add((scorer.Score(train.Rows[i]).Attack, attack));
        }
        return new StaticBaseline(ChooseThreshold(scored), rules);
    }

    /// <summary>The Youden-optimal threshold of "score ≥ t" over labelled scores (ties: the higher t).</summary>
    public static float ChooseThreshold(IReadOnlyList<(float Score, bool Attack)> scored)
    {
        ArgumentNullException.ThrowIfNull(scored);
        var attacks = scored.Count(s => s.Attack);
        var benign = scored.Count - attacks;
        if (attacks == 0 || benign == 0) throw new ArgumentException("the threshold needs both benign rows and attack rows of known families");
        var sorted = scored.OrderByDescending(s => s.Score).ToArray();
        long tp = 0, fp = 0;
        var best = long.MinValue;
        var threshold = sorted[0].Score;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (sorted[i].Attack) tp++;
            else fp++;
            if (i + 1 < sorted.Length && sorted[i + 1].Score == sorted[i].Score) continue;
            // J = tp/attacks - fp/benign, compared exactly as J x attacks x benign.
            var j = tp * benign - fp * attacks;
            if (j > best)
            {
                best = j;
                threshold = sorted[i].Score;
            }
        }
        return threshold;
    }

    public DefenseAction Decide(ReadOnlySpan<float> state, in StepContext context)
    {
        if (context.Score.Attack < Threshold) return DefenseAction.Allow;
        var action = context.Clinical ? Rules.Clinical : Rules.NonClinical;
        var repeat = action switch
        {
            DefenseAction.Quarantine => context.Mitigation == Mitigation.Quarantined,
            DefenseAction.RateLimit => context.Mitigation == Mitigation.RateLimited,
            DefenseAction.ReAuthenticate => context.Mitigation == Mitigation.Reauthenticating,
            DefenseAction.Escalate => context.EscalationPending,
            _ => false,
        };
        return repeat ? DefenseAction.Allow : action;
    }
}
