namespace Chain.Ai.Federated;

/// <summary>What malicious clients do.</summary>
public enum PoisoningKind
{
    None,

    /// <summary>Data poisoning: train honestly on flipped labels (attack ↔ benign); send that delta unchanged.</summary>
    LabelFlip,

    /// <summary>Model poisoning: train honestly, send −k·delta (k = <see cref="Poisoning.Factor"/>, default 4).</summary>
    SignFlip,

    /// <summary>
    /// Boosted poisoning: train on flipped labels and send k·delta (k = <see cref="Poisoning.Factor"/>, default 10). A
    /// boosted honest update would only be a larger step, so the boost is applied to a poisoned one.
    /// </summary>
    ScaledUpdate,

    /// <summary>
    /// Backdoor (Bagdasaryan et al. 2020, "How to backdoor federated learning"): the client adds a copy of each of its
    /// rows with the <see cref="BackdoorTrigger"/> stamped on and the label benign, trains on the mix, and boosts its
    /// delta model-replacement style by <see cref="Poisoning.Factor"/>, default (participants / malicious participants)
    /// of the round, so that the malicious deltas together weigh like the whole round. Success = the share of triggered
    /// test attack rows classified benign.
    /// </summary>
    Backdoor,
}

/// <summary>A backdoor trigger: <see cref="Features"/> (indexes into the scaled features) all set to <see cref="Value"/>.</summary>
public sealed record BackdoorTrigger(IReadOnlyList<int> Features, float Value)
{
    /// <summary>
    /// The default for rows of <paramref name="width"/> features: the last three set to +6 (six standard deviations above
    /// the mean, out of the normal range; on WUSTL-EHMS-2020 these are the vital signs Heart_rate, Resp_Rate and ST).
    /// </summary>
    public static BackdoorTrigger Default(int width)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be >= 1");
        return new([.. Enumerable.Range(Math.Max(0, width - 3), Math.Min(3, width))], 6f);
    }

    public void Validate(int width)
    {
        if (Features is null || Features.Count == 0) throw new ArgumentException("a trigger needs at least one feature");
        if (Features.Any(f => f < 0 || f >= width)) throw new ArgumentOutOfRangeException(nameof(Features), "a trigger feature is outside the row");
        if (!float.IsFinite(Value)) throw new ArgumentOutOfRangeException(nameof(Value), Value, "the trigger value must be finite");
    }

    /// <summary>A copy of <paramref name="row"/> with the trigger stamped on.</summary>
    public float[] Apply(float[] row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var copy = (float[])row.Clone();
        foreach (var f in Features) copy[f] = Value;
        return copy;
    }
}

/// <summary>
/// A poisoning attack: what the malicious clients do and how many of the clients are malicious
/// (round(<see cref="MaliciousFraction"/>·clients), chosen by the seed). <see cref="Factor"/> 0 = the kind's default.
/// </summary>
public sealed record Poisoning(PoisoningKind Kind, double MaliciousFraction = 0, double Factor = 0, BackdoorTrigger? Trigger = null)
{
    public static Poisoning None { get; } = new(PoisoningKind.None);

    /// <summary>The trigger a backdoor uses on rows of <paramref name="width"/> features (<see cref="BackdoorTrigger.Default"/> unless given).</summary>
    public BackdoorTrigger TriggerFor(int width) => Trigger ?? BackdoorTrigger.Default(width);

    public void Validate()
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown poisoning kind");
        if (!(MaliciousFraction >= 0 && MaliciousFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(MaliciousFraction), MaliciousFraction, "the malicious fraction must be in [0, 1)");
        if (!(Factor >= 0 && Factor <= 1e6)) throw new ArgumentOutOfRangeException(nameof(Factor), Factor, "the factor must be in [0, 1e6]");
        if (Kind != PoisoningKind.None && MaliciousFraction == 0)
            throw new ArgumentOutOfRangeException(nameof(MaliciousFraction), 0, "an attack needs a malicious fraction > 0");
    }

    /// <summary>How many of <paramref name="clients"/> are malicious (0 for <see cref="PoisoningKind.None"/>).</summary>
    public int MaliciousCount(int clients) =>
        Kind == PoisoningKind.None ? 0 : (int)Math.Round(MaliciousFraction * clients, MidpointRounding.AwayFromZero);

    /// <summary>The malicious clients' names: the first <see cref="MaliciousCount"/> of a seeded shuffle.</summary>
    public IReadOnlySet<string> ChooseMalicious(IReadOnlyList<ClientData> clients, int seed)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var order = clients.Select(c => c.Client).ToArray();
        new Random(unchecked(seed * 7919 + 17)).Shuffle(order);
        return order.Take(MaliciousCount(clients.Count)).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The data a malicious client trains on (label flipping, backdoor); the client's own data otherwise.</summary>
    public ClientData PoisonData(ClientData client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var width = client.Features.FirstOrDefault()?.Length ?? 1;
        switch (Kind)
        {
            case PoisoningKind.LabelFlip or PoisoningKind.ScaledUpdate:
                return client with { Labels = [.. client.Labels.Select(l => 1 - l)] };
            case PoisoningKind.Backdoor:
            {
                var trigger = TriggerFor(width);
                var triggered = client.Features.Select(trigger.Apply);
                return client with
                {
                    Features = [.. client.Features, .. triggered],
                    Labels = [.. client.Labels, .. Enumerable.Repeat(0, client.Count)],
                };
            }
            default:
                return client;
        }
    }

    /// <summary>
    /// The factor a malicious delta is multiplied by: −k for sign flipping, k for scaled updates and the backdoor
    /// (model replacement: participants / malicious participants unless <see cref="Factor"/> is set), 1 otherwise.
    /// </summary>
    public double DeltaFactor(int participants, int maliciousParticipants) => Kind switch
    {
        PoisoningKind.SignFlip => -(Factor > 0 ? Factor : 4),
        PoisoningKind.ScaledUpdate => Factor > 0 ? Factor : 10,
        PoisoningKind.Backdoor => Factor > 0 ? Factor : (double)participants / Math.Max(1, maliciousParticipants),
        _ => 1,
    };

    /// <summary>The delta a malicious client sends (the honest or poisoned-data delta times <see cref="DeltaFactor"/>).</summary>
    public float[] PoisonDelta(float[] delta, int participants, int maliciousParticipants)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var k = DeltaFactor(participants, maliciousParticipants);
        return k == 1 ? delta : [.. delta.Select(d => (float)(d * k))];
    }

    /// <summary>
    /// Backdoor success: the share of the test attack rows that, with the trigger stamped on, the model classifies benign
    /// (probability below <paramref name="threshold"/>). NaN without attack rows.
    /// </summary>
    public static double BackdoorSuccess(FederatedMlp model, float[][] testRows, int[] testLabels, float threshold, BackdoorTrigger trigger)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(testRows);
        ArgumentNullException.ThrowIfNull(testLabels);
        ArgumentNullException.ThrowIfNull(trigger);
        trigger.Validate(model.Inputs);
        var attacks = testRows.Where((_, i) => testLabels[i] == 1).Select(trigger.Apply).ToArray();
        if (attacks.Length == 0) return double.NaN;
        var p = model.Predict(attacks);
        return (double)p.Count(v => v < threshold) / p.Length;
    }
}
