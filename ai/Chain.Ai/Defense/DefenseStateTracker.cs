namespace Chain.Ai.Defense;

/// <summary>
/// The responder's state: per device the mitigation in force and its clock, a pending escalation, the score history and
/// the last action, and the recent-action shares over all devices; the one place the state vector is built, used by
/// <see cref="DefenseEnvironment"/> in training and by the running agent on live events, so a policy sees the same inputs
/// in both. Time is counted in events (one event = one step, over all devices): a quarantine lasts
/// <see cref="DefenseOptions.QuarantineSteps"/> events.
/// <para>Use: <see cref="Context"/> and <see cref="BuildState"/> for the event awaiting a decision, then
/// <see cref="Record"/> with the action taken (or <see cref="Apply"/>, then <see cref="Advance"/>, to see the event's
/// mitigation in between). Not thread-safe.</para>
/// </summary>
public sealed class DefenseStateTracker
{
    private readonly DeviceState[] _devices;
    private readonly int[] _recent;
    private readonly int _longest;
    private long _recentCount;

    public DefenseStateTracker(DefenseOptions options, int familyCount)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(familyCount);
        Options = options;
        Layout = new StateLayout(familyCount);
        _devices = [.. Enumerable.Range(0, options.Devices).Select(_ => new DeviceState(options.HistoryLength))];
        _recent = new int[options.RecentActions];
        _longest = Math.Max(options.QuarantineSteps, Math.Max(options.RateLimitSteps, options.ReAuthenticateSteps));
    }

    public DefenseOptions Options { get; }

    public StateLayout Layout { get; }

    /// <summary>Events recorded so far (the step of the next event).</summary>
    public long Step { get; private set; }

    public bool IsClinical(int device) => device >= 0 && device < Options.ClinicalDevices;

    /// <summary>The device's name as the environment gives it: infusion-pump-00, patient-monitor-01, ..., device-05.</summary>
    public string DeviceName(int device)
    {
        CheckDevice(device);
        var kind = !IsClinical(device) ? "device" : device % 2 == 0 ? "infusion-pump" : "patient-monitor";
        return $"{kind}-{device:D2}";
    }

    /// <summary>The mitigation in force on <paramref name="device"/> now.</summary>
    public Mitigation MitigationOf(int device)
    {
        CheckDevice(device);
        return _devices[device].At(Step);
    }

    /// <summary>The event awaiting a decision, in plain terms.</summary>
    public StepContext Context(int device, ThreatScore score)
    {
        CheckDevice(device);
        var d = _devices[device];
        return new StepContext((int)Math.Min(Step, int.MaxValue), device, IsClinical(device), score, d.At(Step), d.EscalationAt >= 0);
    }

    /// <summary>Writes the state of an event of <paramref name="device"/> with <paramref name="score"/> into <paramref name="state"/> (length <see cref="StateLayout.Width"/>).</summary>
    public void BuildState(int device, ThreatScore score, Span<float> state)
    {
        CheckDevice(device);
        if (state.Length != Layout.Width) throw new ArgumentException($"the state buffer must hold {Layout.Width} floats, not {state.Length}", nameof(state));
        state.Clear();
        var d = _devices[device];
        state[StateLayout.AttackProbability] = score.Attack;
        if (score.FamilyProbabilities is { } p)
        {
            if (p.Length != Layout.FamilyCount)
                throw new ArgumentException($"the score has {p.Length} family probabilities, the layout {Layout.FamilyCount}", nameof(score));
            p.CopyTo(state[StateLayout.FirstFamily..]);
        }
        var o = Layout.Context;
        state[o] = IsClinical(device) ? 1 : 0;
        var mitigation = d.At(Step);
        state[o + 1 + (int)mitigation] = 1;
        if (mitigation != Mitigation.None) state[o + 5] = Math.Clamp((d.Until - Step) / (float)_longest, 0, 1);
        state[o + 6] = d.EscalationAt >= 0 ? 1 : 0;
        state[o + 7] = d.AlertRate;
        state[o + 8] = d.MeanScore;
        state[o + 9] = d.LastActionStep < 0 ? 1 : Math.Min(1f, (Step - d.LastActionStep) / (float)Options.StepsSinceScale);
        state[o + 10 + (int)d.LastAction] = 1;
        var n = (int)Math.Min(_recentCount, _recent.Length);
        for (var i = 0; i < n; i++) state[o + 16 + _recent[i]] += 1f / n;
    }

    /// <summary>Records the decision on the current event and moves to the next step (<see cref="Apply"/>, then <see cref="Advance"/>).</summary>
    public void Record(int device, ThreatScore score, DefenseAction action)
    {
        Apply(device, action);
        Advance(device, score);
    }

    /// <summary>
    /// Applies the decision on the current event of <paramref name="device"/>: the mitigation the action sets (a new one
    /// replaces the device's current one; Allow, RotateKeys and Escalate leave it), a pending escalation (resolved
    /// <see cref="DefenseOptions.EscalationDelay"/> steps later), the device's last action and the recent-action shares.
    /// The step does not move: <see cref="MitigationOf"/> now tells what the event meets.
    /// </summary>
    public void Apply(int device, DefenseAction action)
    {
        CheckDevice(device);
        if (!Enum.IsDefined(action)) throw new ArgumentOutOfRangeException(nameof(action), action, "not a defense action");
        var d = _devices[device];
        switch (action)
        {
            case DefenseAction.RateLimit:
                d.Set(Mitigation.RateLimited, Step + Options.RateLimitSteps);
                break;
            case DefenseAction.Quarantine:
                d.Set(Mitigation.Quarantined, Step + Options.QuarantineSteps);
                break;
            case DefenseAction.ReAuthenticate:
                d.Set(Mitigation.Reauthenticating, Step + Options.ReAuthenticateSteps);
                break;
            case DefenseAction.Escalate:
                if (d.EscalationAt < 0) d.EscalationAt = Step + Options.EscalationDelay;
                break;
        }
        if (action != DefenseAction.Allow)
        {
            d.LastActionStep = Step;
            d.LastAction = action;
        }
        _recent[_recentCount % _recent.Length] = (int)action;
        _recentCount++;
    }

    /// <summary>
    /// Adds the event's score to <paramref name="device"/>'s history and moves to the next step; escalations due by then
    /// are resolved, and their devices added, in index order, to <paramref name="resolved"/> when given.
    /// </summary>
    public void Advance(int device, ThreatScore score, List<int>? resolved = null)
    {
        CheckDevice(device);
        _devices[device].Push(score.Attack, Options.AlertThreshold);
        Step++;
        for (var i = 0; i < _devices.Length; i++)
        {
            if (_devices[i].EscalationAt < 0 || _devices[i].EscalationAt > Step) continue;
            _devices[i].EscalationAt = -1;
            resolved?.Add(i);
        }
    }

    /// <summary>Forgets everything: step 0, no mitigation, history or recent action (a new episode).</summary>
    public void Reset()
    {
        for (var i = 0; i < _devices.Length; i++) _devices[i] = new DeviceState(Options.HistoryLength);
        Array.Clear(_recent);
        _recentCount = 0;
        Step = 0;
    }

    private void CheckDevice(int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, Options.Devices);
    }

    private sealed class DeviceState(int history)
    {
        private readonly float[] _scores = new float[history];
        private long _count;
        private Mitigation _kind;

        public long Until { get; private set; }
        public long EscalationAt { get; set; } = -1;
        public long LastActionStep { get; set; } = -1;
        public DefenseAction LastAction { get; set; }
        public float AlertRate { get; private set; }
        public float MeanScore { get; private set; }

        public Mitigation At(long step) => step < Until ? _kind : Mitigation.None;

        public void Set(Mitigation kind, long until)
        {
            _kind = kind;
            Until = until;
        }

        public void Push(float score, float alertThreshold)
        {
            _scores[_count % _scores.Length] = score;
            _count++;
            var n = (int)Math.Min(_count, _scores.Length);
            float sum = 0, alerts = 0;
            for (var i = 0; i < n; i++)
            {
                sum += _scores[i];
                if (_scores[i] >= alertThreshold) alerts++;
            }
            MeanScore = sum / n;
            AlertRate = alerts / n;
        }
    }
}
