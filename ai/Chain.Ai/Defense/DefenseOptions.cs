namespace Chain.Ai.Defense;

/// <summary>
/// Reward weights, all non-negative; the sign is fixed by the term. Per step the reward is
/// <c>+AttackStopped</c> if the event is an attack that was blocked or delayed, <c>-AttackPassed</c> if it passed,
/// <c>-ClinicalDisruption</c> if it is a clinical device's benign event that was blocked or delayed,
/// <c>-BenignBlocked</c> for another device's, <c>+AttackPrevented</c> per attack event a campaign ended during the
/// step will no longer send, minus the cost of the action chosen.
/// </summary>
public sealed record RewardWeights
{
    public float AttackStopped { get; init; } = 1f;
    public float AttackPassed { get; init; } = 1f;
    public float AttackPrevented { get; init; } = 1f;
    public float ClinicalDisruption { get; init; } = 10f;
    public float BenignBlocked { get; init; } = 0.5f;
    public float RateLimitCost { get; init; } = 0.05f;
    public float QuarantineCost { get; init; } = 0.1f;
    public float ReAuthenticateCost { get; init; } = 0.3f;
    public float RotateKeysCost { get; init; } = 1f;
    public float EscalateCost { get; init; } = 1f;

    /// <summary>The cost subtracted when <paramref name="action"/> is chosen.</summary>
    public float Cost(DefenseAction action) => action switch
    {
        DefenseAction.Allow => 0f,
        DefenseAction.RateLimit => RateLimitCost,
        DefenseAction.Quarantine => QuarantineCost,
        DefenseAction.ReAuthenticate => ReAuthenticateCost,
        DefenseAction.RotateKeys => RotateKeysCost,
        DefenseAction.Escalate => EscalateCost,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a defense action"),
    };

    public void Validate()
    {
        foreach (var (name, v) in new[]
                 {
                     (nameof(AttackStopped), AttackStopped), (nameof(AttackPassed), AttackPassed),
                     (nameof(AttackPrevented), AttackPrevented), (nameof(ClinicalDisruption), ClinicalDisruption),
                     (nameof(BenignBlocked), BenignBlocked), (nameof(RateLimitCost), RateLimitCost),
                     (nameof(QuarantineCost), QuarantineCost), (nameof(ReAuthenticateCost), ReAuthenticateCost),
                     (nameof(RotateKeysCost), RotateKeysCost), (nameof(EscalateCost), EscalateCost),
                 })
        {
            if (!float.IsFinite(v) || v < 0) throw new ArgumentOutOfRangeException(name, v, "reward weights must be finite and >= 0");
        }
    }
}

/// <summary>
/// The defense environment's model (see <see cref="DefenseEnvironment"/>). Durations are in environment steps (one
/// event per step, over all devices).
/// </summary>
public sealed record DefenseOptions
{
    /// <summary>Devices on the ward.</summary>
    public int Devices { get; init; } = 12;

    /// <summary>Devices 0 .. ClinicalDevices-1 are clinical (infusion pumps and patient monitors, alternating).</summary>
    public int ClinicalDevices { get; init; } = 4;

    public int EpisodeSteps { get; init; } = 400;

    /// <summary>Benign rows are dealt to devices in contiguous stretches of this many rows.</summary>
    public int BenignStretch { get; init; } = 32;

    /// <summary>Seeds the (fixed, episode-independent) dealing of benign stretches to devices.</summary>
    public int AssignmentSeed { get; init; }

    public int CampaignsPerEpisode { get; init; } = 3;

    /// <summary>A campaign sends at most this many events (the first of its family stretch).</summary>
    public int MaxCampaignEvents { get; init; } = 40;

    /// <summary>While a campaign is active, the probability that a step's event is an attack event.</summary>
    public double AttackShare { get; init; } = 0.5;

    /// <summary>The families campaigns may use (null = every attack family in the data).</summary>
    public IReadOnlyList<string>? Families { get; init; }

    /// <summary>
    /// Credential-style families (compared case-insensitively): RotateKeys ends their campaigns. The default treats
    /// WUSTL's Spoofing (an attacker impersonating a device or the gateway) as credential-style and Data Alteration
    /// (tampering with data in flight) as not: a modelling assumption, not a fact about the data.
    /// </summary>
    public IReadOnlyList<string> CredentialFamilies { get; init; } = ["Spoofing"];

    public int QuarantineSteps { get; init; } = 60;
    public int RateLimitSteps { get; init; } = 60;

    /// <summary>The share of a rate-limited device's events that are blocked (drawn per event, seeded).</summary>
    public double RateLimitShare { get; init; } = 0.5;

    /// <summary>How long a device's events are held while it re-authenticates.</summary>
    public int ReAuthenticateSteps { get; init; } = 3;

    /// <summary>The probability that re-authenticating ends a campaign on the device (each campaign drawn apart).</summary>
    public double ReAuthenticateStopProbability { get; init; } = 0.6;

    /// <summary>Steps until an operator resolves an escalation (then every campaign on the device ends).</summary>
    public int EscalationDelay { get; init; } = 20;

    /// <summary>The device history the state summarises: its last k events.</summary>
    public int HistoryLength { get; init; } = 8;

    /// <summary>A score at or above this counts as an alert in the state's recent alert rate.</summary>
    public float AlertThreshold { get; init; } = 0.5f;

    /// <summary>The state's action shares are over the last this many decisions (all devices).</summary>
    public int RecentActions { get; init; } = 16;

    /// <summary>Steps since the device's last action are divided by this and capped at 1 in the state.</summary>
    public int StepsSinceScale { get; init; } = 100;

    public RewardWeights Rewards { get; init; } = new();

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Devices, 1, nameof(Devices));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Devices, 10_000, nameof(Devices));
        if (ClinicalDevices < 0 || ClinicalDevices > Devices)
            throw new ArgumentOutOfRangeException(nameof(ClinicalDevices), ClinicalDevices, $"must be in 0..{Devices}");
        ArgumentOutOfRangeException.ThrowIfLessThan(EpisodeSteps, 1, nameof(EpisodeSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(BenignStretch, 1, nameof(BenignStretch));
        ArgumentOutOfRangeException.ThrowIfNegative(CampaignsPerEpisode, nameof(CampaignsPerEpisode));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCampaignEvents, 1, nameof(MaxCampaignEvents));
        Probability(AttackShare, nameof(AttackShare));
        Probability(RateLimitShare, nameof(RateLimitShare));
        Probability(ReAuthenticateStopProbability, nameof(ReAuthenticateStopProbability));
        ArgumentOutOfRangeException.ThrowIfLessThan(QuarantineSteps, 1, nameof(QuarantineSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(RateLimitSteps, 1, nameof(RateLimitSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReAuthenticateSteps, 1, nameof(ReAuthenticateSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(EscalationDelay, 1, nameof(EscalationDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(HistoryLength, 1, nameof(HistoryLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(RecentActions, 1, nameof(RecentActions));
        ArgumentOutOfRangeException.ThrowIfLessThan(StepsSinceScale, 1, nameof(StepsSinceScale));
        if (!float.IsFinite(AlertThreshold) || AlertThreshold < 0 || AlertThreshold > 1)
            throw new ArgumentOutOfRangeException(nameof(AlertThreshold), AlertThreshold, "must be in [0, 1]");
        if (Families is { Count: 0 }) throw new ArgumentException("Families must be null (all) or name at least one family", nameof(Families));
        ArgumentNullException.ThrowIfNull(CredentialFamilies, nameof(CredentialFamilies));
        ArgumentNullException.ThrowIfNull(Rewards, nameof(Rewards));
        Rewards.Validate();
    }

    private static void Probability(double p, string name)
    {
        if (!double.IsFinite(p) || p < 0 || p > 1) throw new ArgumentOutOfRangeException(name, p, "must be a probability in [0, 1]");
    }
}
