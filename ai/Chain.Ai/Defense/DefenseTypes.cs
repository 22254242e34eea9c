namespace Chain.Ai.Defense;

/// <summary>What a detector says about one event.</summary>
/// <param name="Attack">The probability that the event is an attack, in [0, 1].</param>
/// <param name="FamilyProbabilities">
/// Per attack family (in the scorer's <see cref="IThreatScorer.FamilyCount"/> order) the probability that the event
/// belongs to it, each in [0, 1]; null when the scorer has no family head.
/// </param>
public readonly record struct ThreatScore(float Attack, float[]? FamilyProbabilities);

/// <summary>
/// The detector as the responder sees it: raw feature rows (as the dataset holds them, unscaled) in, scores out. The
/// neural detector implements this; tests use a logistic scorer with fixed weights. Must be deterministic (the
/// environment caches a score per data row).
/// </summary>
public interface IThreatScorer
{
    /// <summary>The number of raw features a row must have.</summary>
    int FeatureCount { get; }

    /// <summary>The length of <see cref="ThreatScore.FamilyProbabilities"/> (0 when the scorer gives none).</summary>
    int FamilyCount { get; }

    ThreatScore Score(ReadOnlySpan<float> rawFeatures);
}

/// <summary>The responder's actions. Each applies to the device of the event being decided.</summary>
public enum DefenseAction
{
    /// <summary>No new action; a mitigation already on the device stays until it expires.</summary>
    Allow = 0,

    /// <summary>Blocks a share of the device's events (attack and benign alike) for a while.</summary>
    RateLimit = 1,

    /// <summary>Blocks all of the device's events for a while.</summary>
    Quarantine = 2,

    /// <summary>Forces the device to re-authenticate: its events are held briefly; ends a campaign with some probability.</summary>
    ReAuthenticate = 3,

    /// <summary>Rotates the device's keys: ends credential-style campaigns and raises <see cref="DefenseEffectKind.KeyRotationRequested"/>.</summary>
    RotateKeys = 4,

    /// <summary>Hands the device to an operator, who ends any campaign on it after a delay.</summary>
    Escalate = 5,
}

/// <summary>The mitigation in force on a device.</summary>
public enum Mitigation
{
    None = 0,
    RateLimited = 1,
    Quarantined = 2,
    Reauthenticating = 3,
}

/// <summary>What happened to the decided event.</summary>
public enum EventOutcome
{
    Passed = 0,
    Blocked = 1,

    /// <summary>Held while the device re-authenticates (counted as blocked for attacks, as a disruption for benign traffic).</summary>
    Delayed = 2,
}

public enum DefenseEffectKind
{
    /// <summary>RotateKeys was chosen: the on-chain layer turns this into a custody share refresh for the device.</summary>
    KeyRotationRequested = 0,

    /// <summary>Escalate was chosen: an operator was paged (resolves later).</summary>
    OperatorEscalated = 1,

    /// <summary>An operator finished looking at the device (Count = attack events it prevented).</summary>
    EscalationResolved = 2,

    /// <summary>A campaign was ended before its last event (Family = its family, Count = events it will no longer send).</summary>
    CampaignEnded = 3,
}

/// <summary>A side effect of a step, for the layers outside the environment (the chain, the operator console).</summary>
public readonly record struct DefenseEffect(DefenseEffectKind Kind, int Device, string? Family = null, int Count = 0);

/// <summary>The event a policy is deciding about, in plain terms (the state vector encodes the same and more).</summary>
public readonly record struct StepContext(
    int Step, int Device, bool Clinical, ThreatScore Score, Mitigation Mitigation, bool EscalationPending);

/// <summary>What a step did.</summary>
/// <param name="Step">The step index of the decided event (0-based in the episode).</param>
/// <param name="Device">The event's device.</param>
/// <param name="Clinical">Whether that device is clinical.</param>
/// <param name="IsAttack">Whether the event is an attack event (ground truth).</param>
/// <param name="Family">The event's family ("normal" for benign rows, as the dataset names it).</param>
/// <param name="Action">The action chosen.</param>
/// <param name="Outcome">What happened to the event.</param>
/// <param name="Reward">The step's reward.</param>
/// <param name="AttacksPrevented">Attack events that campaigns ended during this step will no longer send.</param>
/// <param name="Effects">Effects raised during this step (empty most of the time).</param>
public sealed record StepInfo(
    int Step,
    int Device,
    bool Clinical,
    bool IsAttack,
    string Family,
    DefenseAction Action,
    EventOutcome Outcome,
    float Reward,
    int AttacksPrevented,
    IReadOnlyList<DefenseEffect> Effects)
{
    public bool AttackStopped => IsAttack && Outcome != EventOutcome.Passed;

    public bool AttackPassed => IsAttack && Outcome == EventOutcome.Passed;

    public bool BenignBlocked => !IsAttack && Outcome != EventOutcome.Passed;

    /// <summary>A clinical device's benign event was blocked or delayed.</summary>
    public bool ClinicalDisruption => BenignBlocked && Clinical;
}

/// <summary>The result of <see cref="DefenseEnvironment.Step"/>: the next state, the reward, whether the episode is over.</summary>
public readonly record struct StepResult(float[] State, float Reward, bool Done, StepInfo Info);

/// <summary>A responder: decides one action per event. Implementations need not be thread-safe.</summary>
public interface IDefensePolicy
{
    DefenseAction Decide(ReadOnlySpan<float> state, in StepContext context);
}

/// <summary>The do-nothing reference policy.</summary>
public sealed class AllowAllPolicy : IDefensePolicy
{
    public static AllowAllPolicy Instance { get; } = new();

    public DefenseAction Decide(ReadOnlySpan<float> state, in StepContext context) => DefenseAction.Allow;
}
