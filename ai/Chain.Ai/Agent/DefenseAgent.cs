using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using Chain.Ai.Defense;
using Chain.Ai.Detection;
using Chain.Ai.OnChain;
using Chain.Client;

namespace Chain.Ai.Agent;

/// <summary>How <see cref="DefenseAgent"/> runs.</summary>
public sealed record DefenseAgentOptions
{
    /// <summary>
    /// The ward as the policy was trained on it (devices, clinical devices, mitigation durations, history length...):
    /// device i of <see cref="DefenseAgent.Decide"/> is device i of this model, and the state is built with these
    /// settings. Only the state-related settings matter here (campaigns and rewards are the simulation's).
    /// </summary>
    public DefenseOptions Ward { get; init; } = new();

    /// <summary>
    /// Log Allow decisions too (action "allow", severity info). Default false: only decisions that do something reach
    /// the defense-action log; at thousands of benign events per second, logging each would flood the ledger with
    /// records that say nothing happened.
    /// </summary>
    public bool LogAllowDecisions { get; init; }

    /// <summary>
    /// Rotation requests waiting for the worker: 1 to 1,024 (default 1). One refresh renews every share of the custody
    /// record, so a request arriving while the queue is full is coalesced into the ones waiting (counted, not queued).
    /// </summary>
    public int RotationQueueCapacity { get; init; } = 1;

    /// <summary>The last this many decisions' latencies are kept for the percentiles: 16 to 16,777,216 (default 65,536).</summary>
    public int LatencyWindow { get; init; } = 65_536;

    /// <summary>How long <see cref="DefenseAgent.DisposeAsync"/> lets a rotation in progress finish (default 60 s).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock of the logged decision times.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public DefenseAgentOptions Validate()
    {
        ArgumentNullException.ThrowIfNull(Ward, nameof(Ward));
        Ward.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(RotationQueueCapacity, 1, nameof(RotationQueueCapacity));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RotationQueueCapacity, 1024, nameof(RotationQueueCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(LatencyWindow, 16, nameof(LatencyWindow));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(LatencyWindow, 1 << 24, nameof(LatencyWindow));
        if (DrainTimeout <= TimeSpan.Zero || DrainTimeout > TimeSpan.FromMinutes(10))
            throw new ArgumentOutOfRangeException(nameof(DrainTimeout), DrainTimeout, "must be more than 0 and at most 10 minutes");
        ArgumentNullException.ThrowIfNull(Clock, nameof(Clock));
        return this;
    }
}

/// <summary>One decision of the agent.</summary>
/// <param name="Step">The agent's step (0 for its first event).</param>
/// <param name="Device">The device index.</param>
/// <param name="DeviceName">The device name logged.</param>
/// <param name="Action">The action decided.</param>
/// <param name="Score">The detector's attack probability.</param>
/// <param name="Logged">The record was queued for the ledger (false for an unlogged Allow, or when the logger refused it).</param>
/// <param name="RotationQueued">A key rotation was queued for the worker (false when coalesced or no handler).</param>
/// <param name="LatencyMs">Score + state + decide + TryLog + rotation hand-off, in milliseconds.</param>
/// <param name="Record">The record given to the logger (null for an Allow not logged): the agent's own copy, which an
/// auditor checks against the ledger's evidence hash.</param>
public sealed record AgentDecision(
    long Step, int Device, string DeviceName, DefenseAction Action, float Score, bool Logged, bool RotationQueued, double LatencyMs,
    DefenseActionRecord? Record);

/// <summary>
/// The agent's counters. <see cref="RotationsRequested"/> = RotateKeys decisions; of these, <see cref="RotationsQueued"/>
/// went to the worker and <see cref="RotationsCoalesced"/> found the queue full (a refresh was already waiting); each queued
/// one ends <see cref="RotationsDone"/> or <see cref="RotationsFailed"/> (<see cref="LastRotationError"/> says why).
/// Without a rotation handler nothing is queued.
/// </summary>
public sealed record DefenseAgentStats(
    long Decisions,
    long Actions,
    long Logged,
    long LogRefused,
    long RotationsRequested,
    long RotationsQueued,
    long RotationsCoalesced,
    long RotationsDone,
    long RotationsFailed,
    string? LastRotationError)
{
    public long RotationsPending => RotationsQueued - RotationsDone - RotationsFailed;
}

/// <summary>Decision latency over the agent's window (nearest-rank percentiles), in milliseconds.</summary>
public readonly record struct LatencySummary(long Count, double MeanMs, double P50Ms, double P99Ms, double MaxMs)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Count} decisions: mean {MeanMs:0.###} ms, p50 {P50Ms:0.###} ms, p99 {P99Ms:0.###} ms, max {MaxMs:0.###} ms");
}

/// <summary>
/// The defense agent at run time: per event, the attested detector scores it, the state is built as in training
/// (<see cref="DefenseStateTracker"/>), the policy (a trained <see cref="DqnAgent"/> or the <see cref="StaticBaseline"/>)
/// decides, and the decision is queued for the defense-action log with <see cref="ActionLogger.TryLog"/> (Allow only when
/// <see cref="DefenseAgentOptions.LogAllowDecisions"/>). A RotateKeys decision (the one that raises
/// <see cref="DefenseEffectKind.KeyRotationRequested"/> in the environment) is handed to a background worker through a
/// bounded channel: the worker calls the <see cref="IKeyRotationHandler"/> (on chain: <see cref="CustodyKeyRotation"/>, a
/// custody share refresh) one request at a time; the decision path never waits for it, nor for the ledger.
/// <para>The only way in is <see cref="LoadAsync"/>: the weights are read once and checked against the chain
/// (<see cref="ModelAttestor.ReadUsableAsync"/>: registered for this version, not revoked, endorsed per policy) and those
/// same bytes are loaded, so an unattested or altered file never decides. Every logged record names the model version
/// and the weights' SHA-256.</para>
/// <para><see cref="Decide"/> is for one decision thread (not thread-safe); <see cref="Stats"/> may be read from any thread.
/// The agent does not own the logger: flush and dispose it after the agent.</para>
/// </summary>
public sealed class DefenseAgent : IAsyncDisposable
{
    private readonly IThreatScorer _scorer;
    private readonly IDisposable? _owned;
    private readonly IDefensePolicy _policy;
    private readonly string _policyName;
    private readonly ActionLogger _logger;
    private readonly DefenseAgentOptions _options;
    private readonly DefenseStateTracker _tracker;
    private readonly float[] _state;
    private readonly string[] _deviceNames;
    private readonly Channel<KeyRotationRequest>? _rotations;
    private readonly Task? _worker;
    private readonly CancellationTokenSource _stop = new();
    private readonly double[] _latencies;
    private long _latencyCount;
    private double _latencySum;
    private long _decisions;
    private long _actions;
    private long _logged;
    private long _logRefused;
    private long _rotationsRequested;
    private long _rotationsQueued;
    private long _rotationsCoalesced;
    private long _rotationsDone;
    private long _rotationsFailed;
    private string? _lastRotationError;
    private bool _disposed;

    /// <summary>For <see cref="LoadAsync"/> and tests: <paramref name="owned"/> (the detector behind the scorer) is disposed with the agent.</summary>
    internal DefenseAgent(IThreatScorer scorer, IDisposable? owned, UsableModel model, IDefensePolicy policy, ActionLogger logger,
        IKeyRotationHandler? rotation, DefenseAgentOptions? options)
    {
        _scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _options = (options ?? new DefenseAgentOptions()).Validate();
        _tracker = new DefenseStateTracker(_options.Ward, scorer.FamilyCount);
        if (policy is DqnAgent dqn && dqn.StateWidth != _tracker.Layout.Width)
            throw new ArgumentException($"the DQN takes states of {dqn.StateWidth} floats, this detector gives {_tracker.Layout.Width}", nameof(policy));
        _owned = owned;
        _policyName = policy.GetType().Name;
        _state = new float[_tracker.Layout.Width];
        _deviceNames = [.. Enumerable.Range(0, _options.Ward.Devices).Select(_tracker.DeviceName)];
        _latencies = new double[_options.LatencyWindow];
        if (rotation is not null)
        {
            _rotations = Channel.CreateBounded<KeyRotationRequest>(new BoundedChannelOptions(_options.RotationQueueCapacity)
            {
                FullMode = BoundedChannelFullMode.Wait, // TryWrite answers false at once when full: the request is coalesced
                SingleReader = true,
                SingleWriter = true,
                AllowSynchronousContinuations = false, // the worker never runs on the decision thread
            });
            var reader = _rotations.Reader;
            _worker = Task.Run(() => RotateLoopAsync(rotation, reader, _stop.Token));
        }
    }

    /// <summary>
    /// Reads <paramref name="weightsPath"/> once, checks those bytes on chain as <paramref name="model"/>
    /// <paramref name="version"/> (<see cref="ModelAttestor.ReadUsableAsync"/>), loads them as a <see cref="Detector"/>
    /// and starts the agent. Throws <see cref="ModelNotAttestedException"/> (nothing loaded) when the chain does not vouch
    /// for the file, <see cref="DetectorFormatException"/> when the attested bytes are not a detector file.
    /// </summary>
    public static async Task<DefenseAgent> LoadAsync(IStateReader state, string model, string version, string weightsPath, IDefensePolicy policy,
        ActionLogger logger, IKeyRotationHandler? rotation = null, DefenseAgentOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(logger);
        (options ?? new DefenseAgentOptions()).Validate();
        var (bytes, usable) = await ModelAttestor.ReadUsableAsync(state, model, version, weightsPath, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var detector = Detector.FromBytes(bytes, $"{model} {version}");
        try
        {
            _ = detector.AttackProbability(new float[detector.FeatureNames.Count]); // compiles the scoring path before the first event
            return new DefenseAgent(new DetectorScorer(detector), detector, usable, policy, logger, rotation, options);
        }
        catch
        {
            detector.Dispose();
            throw;
        }
    }

    /// <summary>The attested model deciding (its record on chain and the weights' hash).</summary>
    public UsableModel Model { get; }

    /// <summary>The number of raw features an event must have.</summary>
    public int FeatureCount => _scorer.FeatureCount;

    public DefenseAgentOptions Options => _options;

    /// <summary>The name logged for device <paramref name="device"/>.</summary>
    public string DeviceName(int device) => _tracker.DeviceName(device);

    public DefenseAgentStats Stats => new(Interlocked.Read(ref _decisions), Interlocked.Read(ref _actions), Interlocked.Read(ref _logged),
        Interlocked.Read(ref _logRefused), Interlocked.Read(ref _rotationsRequested), Interlocked.Read(ref _rotationsQueued),
        Interlocked.Read(ref _rotationsCoalesced), Interlocked.Read(ref _rotationsDone), Interlocked.Read(ref _rotationsFailed),
        Volatile.Read(ref _lastRotationError));

    /// <summary>
    /// Decides about one event of <paramref name="device"/> (raw features, as the dataset holds them, in the detector's
    /// feature order): score, state, policy, log, and for RotateKeys the hand-off to the rotation worker. The record
    /// logged carries the device name, the action (allow, rate-limit, quarantine, re-authenticate, rotate-keys, escalate),
    /// a severity fixed by the action (info, low, high, medium, high, critical in that order), the agent's time, the model
    /// version and weights hash, the score, a reason naming the policy and the score, and the SHA-256 of the raw feature
    /// values (their little-endian IEEE-754 bytes), never the values themselves.
    /// </summary>
    public AgentDecision Decide(int device, ReadOnlySpan<float> rawFeatures)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(device, _deviceNames.Length);
        if (rawFeatures.Length != _scorer.FeatureCount)
            throw new ArgumentException($"an event has {_scorer.FeatureCount} raw features, not {rawFeatures.Length}", nameof(rawFeatures));
        var start = Stopwatch.GetTimestamp();

        var score = _scorer.Score(rawFeatures);
        if (!float.IsFinite(score.Attack) || score.Attack < 0 || score.Attack > 1)
            throw new InvalidOperationException($"the detector gave attack probability {score.Attack}: must be in [0, 1]");
        _tracker.BuildState(device, score, _state);
        var action = _policy.Decide(_state, _tracker.Context(device, score));
        if (!Enum.IsDefined(action)) throw new InvalidOperationException($"the policy {_policyName} returned {action}, not a defense action");
        var step = _tracker.Step;
        _tracker.Record(device, score, action);
        Interlocked.Increment(ref _decisions);
        if (action != DefenseAction.Allow) Interlocked.Increment(ref _actions);

        var now = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var logged = false;
        DefenseActionRecord? record = null;
        if (action != DefenseAction.Allow || _options.LogAllowDecisions)
        {
            record = new DefenseActionRecord(_deviceNames[device], ActionName(action), Severity(action), now, Model.LogName,
                Model.WeightsSha256, score.Attack, string.Create(CultureInfo.InvariantCulture, $"{_policyName}: attack score {score.Attack:0.000}"),
                Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(rawFeatures))));
            logged = _logger.TryLog(record);
            if (logged) Interlocked.Increment(ref _logged);
            else Interlocked.Increment(ref _logRefused);
        }
        var queued = false;
        if (action == DefenseAction.RotateKeys)
        {
            Interlocked.Increment(ref _rotationsRequested);
            if (_rotations is not null)
            {
                Interlocked.Increment(ref _rotationsQueued); // before the write, so the worker never finishes one not yet counted
                queued = _rotations.Writer.TryWrite(new KeyRotationRequest(step, device, _deviceNames[device], now));
                if (!queued)
                {
                    Interlocked.Decrement(ref _rotationsQueued);
                    Interlocked.Increment(ref _rotationsCoalesced);
                }
            }
        }

        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        _latencies[_latencyCount % _latencies.Length] = ms;
        _latencyCount++;
        _latencySum += ms;
        return new AgentDecision(step, device, _deviceNames[device], action, score.Attack, logged, queued, ms, record);
    }

    /// <summary>Decision latency so far: mean over every decision, percentiles and max over the last <see cref="DefenseAgentOptions.LatencyWindow"/>. Read it from the decision thread (or after the run).</summary>
    public LatencySummary Latency()
    {
        if (_latencyCount == 0) return default;
        var window = _latencies.AsSpan(0, (int)Math.Min(_latencyCount, _latencies.Length)).ToArray();
        Array.Sort(window);
        double Rank(double p) => window[Math.Clamp((int)Math.Ceiling(p / 100 * window.Length) - 1, 0, window.Length - 1)];
        return new LatencySummary(_latencyCount, _latencySum / _latencyCount, Rank(50), Rank(99), window[^1]);
    }

    /// <summary>Waits until every queued rotation is done or failed (or <paramref name="timeout"/> passes: <see cref="TimeoutException"/>).</summary>
    public async Task<DefenseAgentStats> WaitForRotationsAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (Stats is { RotationsPending: > 0 } stats)
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"rotations still pending after {timeout.TotalSeconds:0.#} s: {stats}");
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
        return Stats;
    }

    /// <summary>The action's name in the log.</summary>
    public static string ActionName(DefenseAction action) => action switch
    {
        DefenseAction.Allow => "allow",
        DefenseAction.RateLimit => "rate-limit",
        DefenseAction.Quarantine => "quarantine",
        DefenseAction.ReAuthenticate => "re-authenticate",
        DefenseAction.RotateKeys => "rotate-keys",
        DefenseAction.Escalate => "escalate",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a defense action"),
    };

    /// <summary>The severity logged with the action: how disruptive the response is, not how sure the detector was.</summary>
    public static string Severity(DefenseAction action) => action switch
    {
        DefenseAction.Allow => "info",
        DefenseAction.RateLimit => "low",
        DefenseAction.ReAuthenticate => "medium",
        DefenseAction.Quarantine => "high",
        DefenseAction.RotateKeys => "high",
        DefenseAction.Escalate => "critical",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a defense action"),
    };

    /// <summary>Stops taking decisions, lets the rotation worker finish what is queued (at most <see cref="DefenseAgentOptions.DrainTimeout"/>, then cancels it), and disposes the detector.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (_rotations is not null && _worker is not null)
        {
            _rotations.Writer.TryComplete();
            try
            {
                await _worker.WaitAsync(_options.DrainTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                await _stop.CancelAsync().ConfigureAwait(false);
                await _worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        _stop.Dispose();
        _owned?.Dispose();
    }

    private async Task RotateLoopAsync(IKeyRotationHandler handler, ChannelReader<KeyRotationRequest> reader, CancellationToken cancellationToken)
    {
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var request))
                {
                    try
                    {
                        await handler.RotateAsync(request, cancellationToken).ConfigureAwait(false);
                        Interlocked.Increment(ref _rotationsDone);
                    }
                    catch (Exception e)
                    {
                        Volatile.Write(ref _lastRotationError, $"{e.GetType().Name}: {e.Message}");
                        Interlocked.Increment(ref _rotationsFailed);
                        if (cancellationToken.IsCancellationRequested) throw;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // disposing: what is still queued is abandoned
            while (reader.TryRead(out _))
            {
                Interlocked.Increment(ref _rotationsFailed);
            }
        }
    }
}
