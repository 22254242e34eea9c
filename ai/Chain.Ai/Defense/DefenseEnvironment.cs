using Chain.Ai.Data;

namespace Chain.Ai.Defense;

/// <summary>
/// A ward of IoMT devices replayed from a labelled dataset, one event per step, for training and evaluating responders.
/// Deterministic: the same seed and the same actions give the same episode. The model, step by step:
/// <list type="number">
/// <item><b>Devices.</b> <see cref="DefenseOptions.Devices"/> devices; the first <see cref="DefenseOptions.ClinicalDevices"/>
/// are clinical (infusion pumps and patient monitors, alternating): their benign traffic must keep flowing.</item>
/// <item><b>Benign traffic.</b> The dataset has no device column, so devices are invented: the benign rows (in time
/// order) are cut into contiguous stretches of <see cref="DefenseOptions.BenignStretch"/> rows and the stretches are
/// dealt to devices round-robin in an order shuffled by <see cref="DefenseOptions.AssignmentSeed"/> (the same for every
/// episode). A device's benign stream is its stretches in time order; each episode starts every device at a seeded
/// position in its stream. Which device a benign step belongs to is drawn uniformly per step. So "device" is a
/// partition of the data, not a real host: per-device statistics carry only what contiguity in time carries.</item>
/// <item><b>Campaigns.</b> <see cref="DefenseOptions.CampaignsPerEpisode"/> per episode, each with a family drawn from
/// <see cref="DefenseOptions.Families"/>, one contiguous stretch (run) of that family's rows in the data (at most
/// <see cref="DefenseOptions.MaxCampaignEvents"/> rows), one target device and a start step, all seeded. While a campaign
/// is active, each step's event is one of its attack events with probability <see cref="DefenseOptions.AttackShare"/>
/// (one active campaign drawn when several are); it lasts until its events are sent or it is ended.</item>
/// <item><b>Actions</b> (on the device of the event decided; the event itself is affected):
/// Quarantine blocks every event of the device (attack and benign) for <see cref="DefenseOptions.QuarantineSteps"/>;
/// RateLimit blocks each event of the device with probability <see cref="DefenseOptions.RateLimitShare"/> for
/// <see cref="DefenseOptions.RateLimitSteps"/>; ReAuthenticate holds the device's events for
/// <see cref="DefenseOptions.ReAuthenticateSteps"/> and ends each campaign on it with probability
/// <see cref="DefenseOptions.ReAuthenticateStopProbability"/> (any family); RotateKeys ends the device's campaigns of
/// <see cref="DefenseOptions.CredentialFamilies"/> (no others) and always raises
/// <see cref="DefenseEffectKind.KeyRotationRequested"/>; Escalate pages an operator who, after
/// <see cref="DefenseOptions.EscalationDelay"/> steps, ends every campaign then on the device (any family). A new
/// mitigation replaces the device's current one; Allow, RotateKeys and Escalate leave it in force.</item>
/// <item><b>Reward</b>: see <see cref="RewardWeights"/>. Attack events a campaign no longer sends because it was ended are
/// counted as prevented (and rewarded) at the step it ends; near the end of an episode this counts events that the
/// episode would have cut off anyway.</item>
/// <item><b>State</b>: <see cref="StateWidth"/> floats, all in [0, 1]; see <see cref="StateLayout"/>.</item>
/// </list>
/// Not thread-safe. Scores are cached per data row (the scorer must be deterministic).
/// </summary>
public sealed class DefenseEnvironment
{
    public const int ActionCount = 6;

    private readonly TabularDataset _data;
    private readonly IThreatScorer _scorer;
    private readonly ThreatScore[] _scores;
    private readonly bool[] _scored;
    private readonly int[][] _benignByDevice;
    private readonly Dictionary<string, int[][]> _runs;
    private readonly string[] _campaignFamilies;
    private readonly HashSet<string> _credential;
    private readonly DefenseStateTracker _tracker;
    private readonly int[] _cursor;
    private readonly List<int> _resolved = [];
    private readonly List<Campaign> _campaigns = [];
    private readonly List<int> _active = [];
    private Random _eventRandom = new(0);
    private Random _effectRandom = new(0);
    private bool _started;
    private bool _done;
    private Event _current;

    public DefenseEnvironment(TabularDataset data, IThreatScorer scorer, DefenseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(scorer);
        Options = options ?? new DefenseOptions();
        Options.Validate();
        if (scorer.FeatureCount != data.FeatureNames.Count)
            throw new ArgumentException($"the scorer takes {scorer.FeatureCount} features, the dataset has {data.FeatureNames.Count}", nameof(scorer));
        ArgumentOutOfRangeException.ThrowIfNegative(scorer.FamilyCount, "scorer.FamilyCount");
        _data = data;
        _scorer = scorer;
        _scores = new ThreatScore[data.Count];
        _scored = new bool[data.Count];

        var benign = Enumerable.Range(0, data.Count).Where(i => data.Labels[i] == 0).ToArray();
        if (benign.Length < Options.Devices)
            throw new ArgumentException($"the dataset has {benign.Length} benign rows, fewer than the {Options.Devices} devices", nameof(data));
        _benignByDevice = DealBenign(benign, Options);

        _runs = new Dictionary<string, int[][]>(StringComparer.OrdinalIgnoreCase);
        foreach (var run in AttackRuns(data))
        {
            var family = data.Families[run[0]];
            _runs[family] = _runs.TryGetValue(family, out var list) ? [.. list, run] : [run];
        }
        var families = Options.Families ?? [.. _runs.Keys];
        foreach (var f in families)
        {
            if (!_runs.ContainsKey(f))
                throw new ArgumentException($"family '{f}' has no attack rows in the dataset (it has: {string.Join(", ", _runs.Keys)})", nameof(options));
        }
        if (Options.CampaignsPerEpisode > 0 && families.Count == 0)
            throw new ArgumentException("campaigns are asked for but the dataset has no attack rows", nameof(data));
        _campaignFamilies = [.. families];
        _credential = new HashSet<string>(Options.CredentialFamilies, StringComparer.OrdinalIgnoreCase);
        _tracker = new DefenseStateTracker(Options, scorer.FamilyCount);
        _cursor = new int[Options.Devices];
    }

    public DefenseOptions Options { get; }

    public StateLayout Layout => _tracker.Layout;

    public int StateWidth => Layout.Width;

    /// <summary>The families campaigns draw from.</summary>
    public IReadOnlyList<string> CampaignFamilies => _campaignFamilies;

    /// <summary>The step of the event awaiting a decision (0-based).</summary>
    public int CurrentStep => (int)_tracker.Step;

    public bool IsClinical(int device) => _tracker.IsClinical(device);

    /// <summary>A readable device name: infusion-pump-00, patient-monitor-01, ..., device-05.</summary>
    public string DeviceName(int device) => _tracker.DeviceName(device);

    /// <summary>The dataset rows of <paramref name="device"/>'s benign stream (contiguous stretches, time order).</summary>
    public IReadOnlyList<int> BenignRowsOf(int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, Options.Devices);
        return _benignByDevice[device];
    }

    /// <summary>The event awaiting a decision, in plain terms.</summary>
    public StepContext Context
    {
        get
        {
            EnsureStarted();
            return _tracker.Context(_current.Device, Score(_current.Row));
        }
    }

    /// <summary>Starts an episode; returns the state of its first event.</summary>
    public float[] Reset(int seed)
    {
        _eventRandom = new Random(seed);
        _effectRandom = new Random(unchecked((seed * 31) + 0x5EED));
        _done = false;
        _started = true;
        _tracker.Reset();
        for (var i = 0; i < _cursor.Length; i++) _cursor[i] = _eventRandom.Next(_benignByDevice[i].Length);
        _campaigns.Clear();
        for (var c = 0; c < Options.CampaignsPerEpisode; c++)
        {
            var family = _campaignFamilies[_eventRandom.Next(_campaignFamilies.Length)];
            var runs = _runs[family];
            var run = runs[_eventRandom.Next(runs.Length)];
            var target = _eventRandom.Next(Options.Devices);
            var start = _eventRandom.Next(Math.Max(1, Options.EpisodeSteps * 3 / 4));
            _campaigns.Add(new Campaign(family, target, start, run[..Math.Min(run.Length, Options.MaxCampaignEvents)],
                _credential.Contains(family)));
        }
        _current = NextEvent();
        return BuildState();
    }

    /// <summary>Applies <paramref name="action"/> to the current event's device, resolves the event, and moves on.</summary>
    public StepResult Step(DefenseAction action)
    {
        EnsureStarted();
        if (_done) throw new InvalidOperationException("the episode is over: call Reset");
        if (!Enum.IsDefined(action)) throw new ArgumentOutOfRangeException(nameof(action), action, "not a defense action");
        var e = _current;
        var step = CurrentStep;
        var clinical = IsClinical(e.Device);
        var w = Options.Rewards;
        List<DefenseEffect>? effects = null;
        var prevented = 0;
        var reward = -w.Cost(action);
        switch (action)
        {
            case DefenseAction.ReAuthenticate:
                foreach (var c in _campaigns)
                {
                    if (c.IsActive(step) && c.Device == e.Device && _effectRandom.NextDouble() < Options.ReAuthenticateStopProbability)
                        prevented += End(c, ref effects);
                }
                break;
            case DefenseAction.RotateKeys:
                (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.KeyRotationRequested, e.Device));
                foreach (var c in _campaigns)
                {
                    if (c.IsActive(step) && c.Device == e.Device && c.Credential) prevented += End(c, ref effects);
                }
                break;
            case DefenseAction.Escalate:
                (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.OperatorEscalated, e.Device));
                break;
        }
        _tracker.Apply(e.Device, action);

        var outcome = _tracker.MitigationOf(e.Device) switch
        {
            Mitigation.Quarantined => EventOutcome.Blocked,
            Mitigation.Reauthenticating => EventOutcome.Delayed,
            Mitigation.RateLimited => _effectRandom.NextDouble() < Options.RateLimitShare ? EventOutcome.Blocked : EventOutcome.Passed,
            _ => EventOutcome.Passed,
        };
        if (e.IsAttack) reward += outcome == EventOutcome.Passed ? -w.AttackPassed : w.AttackStopped;
        else if (outcome != EventOutcome.Passed) reward -= clinical ? w.ClinicalDisruption : w.BenignBlocked;

        _resolved.Clear();
        _tracker.Advance(e.Device, Score(e.Row), _resolved);
        var now = CurrentStep;
        foreach (var i in _resolved)
        {
            var stopped = 0;
            foreach (var c in _campaigns)
            {
                if (c.IsActive(now) && c.Device == i) stopped += End(c, ref effects);
            }
            (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.EscalationResolved, i, null, stopped));
            prevented += stopped;
        }
        reward += prevented * w.AttackPrevented;
        _done = now >= Options.EpisodeSteps;
        _current = NextEvent();
        var info = new StepInfo(step, e.Device, clinical, e.IsAttack, _data.Families[e.Row], action, outcome, reward, prevented,
            effects is null ? [] : effects.ToArray());
        return new StepResult(BuildState(), reward, _done, info);
    }

    /// <summary>The detector's (cached) score of dataset row <paramref name="row"/>.</summary>
    public ThreatScore Score(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, _data.Count);
        if (_scored[row]) return _scores[row];
        var s = _scorer.Score(_data.Rows[row]);
        if (!float.IsFinite(s.Attack) || s.Attack < 0 || s.Attack > 1)
            throw new InvalidOperationException($"the scorer gave attack probability {s.Attack} for row {row}: must be in [0, 1]");
        if (s.FamilyProbabilities is { } p)
        {
            if (p.Length != _scorer.FamilyCount)
                throw new InvalidOperationException($"the scorer gave {p.Length} family probabilities, its FamilyCount is {_scorer.FamilyCount}");
            if (p.Any(v => !float.IsFinite(v) || v < 0 || v > 1))
                throw new InvalidOperationException($"the scorer gave a family probability outside [0, 1] for row {row}");
        }
        _scores[row] = s;
        _scored[row] = true;
        return s;
    }

    private int End(Campaign c, ref List<DefenseEffect>? effects)
    {
        var remaining = c.Remaining;
        c.Ended = true;
        (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.CampaignEnded, c.Device, c.Family, remaining));
        return remaining;
    }

    private Event NextEvent()
    {
        // Every draw happens every step, so what actions change (campaigns ending) shifts no later draw.
        var u = _eventRandom.NextDouble();
        var pick = _eventRandom.Next(1 << 20);
        var deviceIndex = _eventRandom.Next(Options.Devices);
        _active.Clear();
        for (var i = 0; i < _campaigns.Count; i++)
        {
            if (_campaigns[i].IsActive(CurrentStep)) _active.Add(i);
        }
        if (_active.Count > 0 && u < Options.AttackShare)
        {
            var c = _campaigns[_active[pick % _active.Count]];
            return new Event(c.Device, c.Rows[c.Next++], true);
        }
        var stream = _benignByDevice[deviceIndex];
        var row = stream[_cursor[deviceIndex] % stream.Length];
        _cursor[deviceIndex] = (_cursor[deviceIndex] + 1) % stream.Length;
        return new Event(deviceIndex, row, false);
    }

    private float[] BuildState()
    {
        var state = new float[Layout.Width];
        _tracker.BuildState(_current.Device, Score(_current.Row), state);
        return state;
    }

    private void EnsureStarted()
    {
        if (!_started) throw new InvalidOperationException("call Reset before using the environment");
    }

    private static int[][] DealBenign(int[] benign, DefenseOptions options)
    {
        var stretch = Math.Min(options.BenignStretch, benign.Length / options.Devices);
        var stretches = (benign.Length + stretch - 1) / stretch;
        var order = Enumerable.Range(0, stretches).ToArray();
        new Random(options.AssignmentSeed).Shuffle(order);
        var owner = new int[stretches];
        for (var k = 0; k < stretches; k++) owner[order[k]] = k % options.Devices;
        var lists = Enumerable.Range(0, options.Devices).Select(_ => new List<int>()).ToArray();
        for (var i = 0; i < benign.Length; i++) lists[owner[i / stretch]].Add(benign[i]);
        return [.. lists.Select(l => l.ToArray())];
    }

    /// <summary>Maximal runs of consecutive attack rows of one family (time order).</summary>
    private static List<int[]> AttackRuns(TabularDataset data)
    {
        var runs = new List<int[]>();
        var current = new List<int>();
        for (var i = 0; i <= data.Count; i++)
        {
            var attack = i < data.Count && data.Labels[i] == 1;
            if (current.Count > 0 && (!attack || !string.Equals(data.Families[i], data.Families[current[0]], StringComparison.OrdinalIgnoreCase)))
            {
                runs.Add([.. current]);
                current.Clear();
            }
            if (attack) current.Add(i);
        }
        return runs;
    }

    private readonly record struct Event(int Device, int Row, bool IsAttack);

    private sealed class Campaign(string family, int device, int start, int[] rows, bool credential)
    {
        public string Family { get; } = family;
        public int Device { get; } = device;
        public int Start { get; } = start;
        public int[] Rows { get; } = rows;
        public bool Credential { get; } = credential;
        public int Next { get; set; }
        public bool Ended { get; set; }
        public int Remaining => Ended ? 0 : Rows.Length - Next;
        public bool IsActive(int step) => !Ended && step >= Start && Next < Rows.Length;
    }
}

/// <summary>
/// Where things are in the state vector (all values in [0, 1]): [0] attack probability; [1 .. F] family
/// probabilities (F = the scorer's FamilyCount; zeros when it gives none); then, from <see cref="Context"/>: clinical
/// flag; mitigation one-hot (none, rate-limited, quarantined, re-authenticating); mitigation time left (over the
/// longest mitigation); escalation pending; the device's alert rate and mean score over its last k events; steps since
/// the device's last action (over StepsSinceScale, 1 if never); the device's last action one-hot (6); the share of each
/// action among the last RecentActions decisions on all devices (6).
/// </summary>
public sealed record StateLayout(int FamilyCount)
{
    public const int AttackProbability = 0;
    public const int FirstFamily = 1;
    public const int ContextWidth = 22;

    public int Context => 1 + FamilyCount;
    public int Clinical => Context;
    public int Width => 1 + FamilyCount + ContextWidth;
}
