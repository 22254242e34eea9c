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
    private readonly Device[] _devices;
    private readonly List<Campaign> _campaigns = [];
    private readonly List<int> _active = [];
    private readonly int[] _recent;
    private Random _eventRandom = new(0);
    private Random _effectRandom = new(0);
    private int _recentCount;
    private int _step;
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
        Layout = new StateLayout(scorer.FamilyCount);

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
        _devices = [.. Enumerable.Range(0, Options.Devices).Select(_ => new Device(Options.HistoryLength))];
        _recent = new int[Options.RecentActions];
    }

    public DefenseOptions Options { get; }

    public StateLayout Layout { get; }

    public int StateWidth => Layout.Width;

    /// <summary>The families campaigns draw from.</summary>
    public IReadOnlyList<string> CampaignFamilies => _campaignFamilies;

    /// <summary>The step of the event awaiting a decision (0-based).</summary>
    public int CurrentStep => _step;

    public bool IsClinical(int device) => device >= 0 && device < Options.ClinicalDevices;

    /// <summary>A readable device name: infusion-pump-00, patient-monitor-01, ..., device-05.</summary>
    public string DeviceName(int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, Options.Devices);
        var kind = !IsClinical(device) ? "device" : device % 2 == 0 ? "infusion-pump" : "patient-monitor";
        return $"{kind}-{device:D2}";
    }

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
            var d = _devices[_current.Device];
            return new StepContext(_step, _current.Device, IsClinical(_current.Device), Score(_current.Row), d.At(_step),
                d.EscalationAt >= 0);
        }
    }

    /// <summary>Starts an episode; returns the state of its first event.</summary>
    public float[] Reset(int seed)
    {
        _eventRandom = new Random(seed);
        _effectRandom = new Random(unchecked((seed * 31) + 0x5EED));
        _step = 0;
        _done = false;
        _started = true;
        _recentCount = 0;
        Array.Clear(_recent);
        for (var i = 0; i < _devices.Length; i++)
        {
            _devices[i].Reset();
            _devices[i].Cursor = _eventRandom.Next(_benignByDevice[i].Length);
        }
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
        var device = _devices[e.Device];
        var clinical = IsClinical(e.Device);
        var w = Options.Rewards;
        List<DefenseEffect>? effects = null;
        var prevented = 0;
        var reward = -w.Cost(action);
        switch (action)
        {
            case DefenseAction.RateLimit:
                device.Set(Mitigation.RateLimited, _step + Options.RateLimitSteps);
                break;
            case DefenseAction.Quarantine:
                device.Set(Mitigation.Quarantined, _step + Options.QuarantineSteps);
                break;
            case DefenseAction.ReAuthenticate:
                device.Set(Mitigation.Reauthenticating, _step + Options.ReAuthenticateSteps);
                foreach (var c in _campaigns)
                {
                    if (c.IsActive(_step) && c.Device == e.Device && _effectRandom.NextDouble() < Options.ReAuthenticateStopProbability)
                        prevented += End(c, ref effects);
                }
                break;
            case DefenseAction.RotateKeys:
                (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.KeyRotationRequested, e.Device));
                foreach (var c in _campaigns)
                {
                    if (c.IsActive(_step) && c.Device == e.Device && c.Credential) prevented += End(c, ref effects);
                }
                break;
            case DefenseAction.Escalate:
                (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.OperatorEscalated, e.Device));
                if (device.EscalationAt < 0) device.EscalationAt = _step + Options.EscalationDelay;
                break;
        }
        if (action != DefenseAction.Allow)
        {
            device.LastActionStep = _step;
            device.LastAction = action;
        }
        _recent[_recentCount % _recent.Length] = (int)action;
        _recentCount++;

        var outcome = device.At(_step) switch
        {
            Mitigation.Quarantined => EventOutcome.Blocked,
            Mitigation.Reauthenticating => EventOutcome.Delayed,
            Mitigation.RateLimited => _effectRandom.NextDouble() < Options.RateLimitShare ? EventOutcome.Blocked : EventOutcome.Passed,
            _ => EventOutcome.Passed,
        };
        if (e.IsAttack) reward += outcome == EventOutcome.Passed ? -w.AttackPassed : w.AttackStopped;
        else if (outcome != EventOutcome.Passed) reward -= clinical ? w.ClinicalDisruption : w.BenignBlocked;
        device.Push(Score(e.Row).Attack, Options.AlertThreshold);

        var decided = _step;
        _step++;
        for (var i = 0; i < _devices.Length; i++)
        {
            if (_devices[i].EscalationAt < 0 || _devices[i].EscalationAt > _step) continue;
            _devices[i].EscalationAt = -1;
            var stopped = 0;
            foreach (var c in _campaigns)
            {
                if (c.IsActive(_step) && c.Device == i) stopped += End(c, ref effects);
            }
            (effects ??= []).Add(new DefenseEffect(DefenseEffectKind.EscalationResolved, i, null, stopped));
            prevented += stopped;
        }
        reward += prevented * w.AttackPrevented;
        _done = _step >= Options.EpisodeSteps;
        _current = NextEvent();
        var info = new StepInfo(decided, e.Device, clinical, e.IsAttack, _data.Families[e.Row], action, outcome, reward, prevented,
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
            if (_campaigns[i].IsActive(_step)) _active.Add(i);
        }
        if (_active.Count > 0 && u < Options.AttackShare)
        {
            var c = _campaigns[_active[pick % _active.Count]];
            return new Event(c.Device, c.Rows[c.Next++], true);
        }
        var device = _devices[deviceIndex];
        var stream = _benignByDevice[deviceIndex];
        var row = stream[device.Cursor % stream.Length];
        device.Cursor = (device.Cursor + 1) % stream.Length;
        return new Event(deviceIndex, row, false);
    }

    private float[] BuildState()
    {
        var s = new float[Layout.Width];
        var e = _current;
        var d = _devices[e.Device];
        var score = Score(e.Row);
        s[StateLayout.AttackProbability] = score.Attack;
        if (score.FamilyProbabilities is { } p) p.CopyTo(s.AsSpan(StateLayout.FirstFamily));
        var o = Layout.Context;
        s[o] = IsClinical(e.Device) ? 1 : 0;
        var mitigation = d.At(_step);
        s[o + 1 + (int)mitigation] = 1;
        if (mitigation != Mitigation.None)
        {
            var longest = Math.Max(Options.QuarantineSteps, Math.Max(Options.RateLimitSteps, Options.ReAuthenticateSteps));
            s[o + 5] = Math.Clamp((d.Until - _step) / (float)longest, 0, 1);
        }
        s[o + 6] = d.EscalationAt >= 0 ? 1 : 0;
        s[o + 7] = d.AlertRate;
        s[o + 8] = d.MeanScore;
        s[o + 9] = d.LastActionStep < 0 ? 1 : Math.Min(1f, (_step - d.LastActionStep) / (float)Options.StepsSinceScale);
        s[o + 10 + (int)d.LastAction] = 1;
        var n = Math.Min(_recentCount, _recent.Length);
        for (var i = 0; i < n; i++) s[o + 16 + _recent[i]] += 1f / n;
        return s;
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

    private sealed class Device(int history)
    {
        private readonly float[] _scores = new float[history];
        private int _count;
        private Mitigation _kind;

        public int Until { get; private set; }
        public int EscalationAt { get; set; } = -1;
        public int LastActionStep { get; set; } = -1;
        public DefenseAction LastAction { get; set; }
        public int Cursor { get; set; }
        public float AlertRate { get; private set; }
        public float MeanScore { get; private set; }

        public Mitigation At(int step) => step < Until ? _kind : Mitigation.None;

        public void Set(Mitigation kind, int until)
        {
            _kind = kind;
            Until = until;
        }

        public void Push(float score, float alertThreshold)
        {
            _scores[_count % _scores.Length] = score;
            _count++;
            var n = Math.Min(_count, _scores.Length);
            float sum = 0, alerts = 0;
            for (var i = 0; i < n; i++)
            {
                sum += _scores[i];
                if (_scores[i] >= alertThreshold) alerts++;
            }
            MeanScore = sum / n;
            AlertRate = alerts / n;
        }

        public void Reset()
        {
            Array.Clear(_scores);
            _count = 0;
            _kind = Mitigation.None;
            Until = 0;
            EscalationAt = -1;
            LastActionStep = -1;
            LastAction = DefenseAction.Allow;
            AlertRate = 0;
            MeanScore = 0;
        }
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
