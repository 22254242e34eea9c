using System.Collections.Concurrent;
using System.Security.Cryptography;
using Chain.Ai.Agent;
using Chain.Ai.Defense;
using Chain.Ai.OnChain;
using Chain.Ai.Tests.Defense;
using Chain.Ai.Tests.Detection;
using Chain.Ai.Tests.OnChain;
using Chain.Chaincode.Contracts;
using Xunit.Abstractions;
using DefenseAction = Chain.Ai.Defense.DefenseAction;

namespace Chain.Ai.Tests.Agent;

/// <summary>A policy from a function (tests only).</summary>
internal sealed class FuncPolicy(Func<StepContext, DefenseAction> decide) : IDefensePolicy
{
    public DefenseAction Decide(ReadOnlySpan<float> state, in StepContext context) => decide(context);
}

/// <summary>A rotation handler that records its calls and waits for <see cref="Release"/> before finishing each (or throws).</summary>
internal sealed class GatedRotation(bool fail = false) : IKeyRotationHandler
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<KeyRotationRequest> Started { get; } = new();

    public void Release() => _gate.TrySetResult();

    public async Task RotateAsync(KeyRotationRequest request, CancellationToken cancellationToken)
    {
        Started.Enqueue(request);
        await _gate.Task.WaitAsync(cancellationToken);
        if (fail) throw new InvalidOperationException("custody record busy");
    }
}

/// <summary>The defense agent without a cluster: scorer, state, policy, log and rotation hand-off (seeded, no chain).</summary>
public sealed class DefenseAgentTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 21;
    private static readonly string Sha = new('a', 64);
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-ai-agent-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static UsableModel Usable(string sha) =>
        new(new ModelVersion("iomt-ids", "1", sha, null, new TrainingMetadata("data-sha256:00", new Dictionary<string, decimal> { ["auc"] = 0.9m }, 0m),
            "hospital-a", 5, 1_700_000_000_000, ["hospital-b"], "approved", null), 1, sha);

    private static DefenseAgent Agent(IDefensePolicy policy, ActionLogger logger, IKeyRotationHandler? rotation = null, DefenseAgentOptions? options = null) =>
        new(DefenseTestData.Scorer(families: false), null, Usable(Sha), policy, logger, rotation,
            options ?? new DefenseAgentOptions { Ward = DefenseTestData.SmallWard, Clock = Clock });

    /// <summary>A fixed clock, so a test can rebuild the records the agent logged.</summary>
    private sealed class FixedClock : TimeProvider
    {
        public DateTimeOffset Time { get; } = new(2026, 11, 29, 20, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Time;
    }

    private static readonly FixedClock Clock = new();

    private static ActionLogger Logger(ScriptedSink sink) => new(sink, new ActionLoggerOptions { Agent = "hospital-c-agent", FlushInterval = TimeSpan.FromMilliseconds(20) });

    /// <summary>Attack-like (x0 = +3: score 0.998) and benign-like (x0 = -3: score 0.002) events.</summary>
    private static readonly float[] Hot = [3f, 0f, 0f];
    private static readonly float[] Cold = [-3f, 0f, 0f];

    /// <summary>
    /// The environment builds its state with its own tracker; the agent drives a separate one with Record alone. This
    /// checks that the agent's way of feeding the tracker (one Record per event) gives what training saw.
    /// </summary>
    [Fact]
    public void The_tracker_builds_exactly_the_environments_state_over_whole_episodes()
    {
        output.WriteLine($"seed {Seed}");
        var options = DefenseTestData.SmallWard;
        var env = new DefenseEnvironment(DefenseTestData.Make(Seed), DefenseTestData.Scorer(), options);
        var random = new Random(Seed);
        var buffer = new float[env.StateWidth];
        var counts = new int[DefenseEnvironment.ActionCount];
        for (var episode = 0; episode < 4; episode++)
        {
            var tracker = new DefenseStateTracker(options, familyCount: 2);
            Assert.Equal(env.Layout, tracker.Layout);
            var state = env.Reset(Seed + episode);
            for (var done = false; !done;)
            {
                var context = env.Context;
                tracker.BuildState(context.Device, context.Score, buffer);
                Assert.True(state.AsSpan().SequenceEqual(buffer),
                    $"episode {episode} step {context.Step}: env [{string.Join(", ", state)}] tracker [{string.Join(", ", buffer)}]");
                Assert.Equal(context, tracker.Context(context.Device, context.Score));
                Assert.Equal(env.DeviceName(context.Device), tracker.DeviceName(context.Device));
                // Mostly Allow, every action often enough that mitigations overlap, expire and escalations resolve.
                var action = random.NextDouble() < 0.6 ? DefenseAction.Allow : (DefenseAction)random.Next(1, DefenseEnvironment.ActionCount);
                counts[(int)action]++;
                tracker.Record(context.Device, context.Score, action);
                var step = env.Step(action);
                state = step.State;
                done = step.Done;
            }
            Assert.Equal(options.EpisodeSteps, tracker.Step);
        }
        output.WriteLine($"actions compared: {string.Join(", ", counts.Select((c, a) => $"{(DefenseAction)a} {c}"))}");
        Assert.All(counts, c => Assert.True(c > 20));
    }

    [Fact]
    public async Task Rotations_are_queued_for_the_worker_never_run_on_the_decision_path_and_extra_requests_coalesce()
    {
        var sink = new ScriptedSink();
        await using var logger = Logger(sink);
        var rotation = new GatedRotation();
        var policy = new FuncPolicy(c => c.Score.Attack > 0.5 ? DefenseAction.RotateKeys : DefenseAction.Allow);
        var agent = Agent(policy, logger, rotation);
        var decisions = new List<AgentDecision> { agent.Decide(0, Hot) };
        await WaitUntil(() => !rotation.Started.IsEmpty); // the worker has taken the first request and hangs in it
        for (var i = 1; i < 40; i++) decisions.Add(agent.Decide(i % 6, i % 4 == 0 ? Hot : Cold));

        // 10 RotateKeys decisions while the handler is stuck in its first rotation: the decisions all returned.
        var rotate = decisions.Where(d => d.Action == DefenseAction.RotateKeys).ToList();
        Assert.Equal(10, rotate.Count);
        Assert.All(decisions.Where(d => d.Action == DefenseAction.Allow), d => Assert.False(d.RotationQueued));
        var stats = agent.Stats;
        output.WriteLine($"while the rotation hangs: {stats}; {agent.Latency()}");
        Assert.Single(rotation.Started);
        Assert.Equal(0, stats.RotationsDone + stats.RotationsFailed);
        Assert.Equal(10, stats.RotationsRequested);
        // The first went to the worker, the second waits in the queue (capacity 1), the rest were coalesced into it.
        Assert.Equal((2L, 8L), (stats.RotationsQueued, stats.RotationsCoalesced));
        Assert.Equal(2, rotate.Count(d => d.RotationQueued));
        Assert.Equal(("infusion-pump-00", 0L), (rotation.Started.Single().DeviceName, rotation.Started.Single().Step));

        rotation.Release();
        stats = await agent.WaitForRotationsAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((2L, 0L, 0L), (stats.RotationsDone, stats.RotationsFailed, stats.RotationsPending));
        Assert.Equal(2, rotation.Started.Count);
        await agent.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => agent.Decide(0, Hot));
    }

    [Fact]
    public async Task Only_actions_are_logged_by_default_with_the_model_the_device_and_a_hash_of_the_event()
    {
        var sink = new ScriptedSink();
        var logger = Logger(sink);
        var policy = new FuncPolicy(c => c.Score.Attack < 0.5 ? DefenseAction.Allow : c.Clinical ? DefenseAction.Escalate : DefenseAction.Quarantine);
        await using (var agent = Agent(policy, logger))
        {
            for (var i = 0; i < 60; i++)
            {
                var d = agent.Decide(i % 6, i % 3 == 0 ? Hot : Cold);
                Assert.Equal(d.Action != DefenseAction.Allow, d.Logged);
                Assert.Equal(i, d.Step);
            }
            Assert.Equal((60L, 20L, 20L, 0L), (agent.Stats.Decisions, agent.Stats.Actions, agent.Stats.Logged, agent.Stats.LogRefused));
        }
        var stats = await logger.FlushAsync();
        await logger.DisposeAsync();
        Assert.Equal(20, stats.Submitted);
        var logged = sink.Committed.SelectMany(b => b.Actions).ToList();
        Assert.Equal(20, logged.Count);
        // Events 0, 3, 6... go to devices 0, 3, 0, 3...: device 0 is clinical (escalate), device 3 is not (quarantine).
        Assert.Equal(10, logged.Count(a => (a.Device, a.Action, a.Severity) == ("infusion-pump-00", "escalate", "critical")));
        Assert.Equal(10, logged.Count(a => (a.Device, a.Action, a.Severity) == ("device-03", "quarantine", "high")));
        Assert.All(logged, a => Assert.Equal(("hospital-c-agent", "iomt-ids:1"), (a.Agent, a.ModelVersion)));
        // The evidence hash binds the decision and the event: rebuild the first record from what the agent must have logged.
        var eventSha = Convert.ToHexStringLower(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Hot.AsSpan())));
        var score = DefenseTestData.Scorer(families: false).Score(Hot).Attack;
        var expected = new DefenseActionRecord("infusion-pump-00", "escalate", "critical", Clock.Time.ToUnixTimeMilliseconds(), "iomt-ids:1", Sha,
            score, $"FuncPolicy: attack score {score.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)}", eventSha);
        Assert.Equal(expected.EvidenceSha256("hospital-c-agent"), logged[0].EvidenceSha256);
    }

    [Fact]
    public async Task With_LogAllowDecisions_every_decision_is_logged_and_a_failing_rotation_is_counted_without_stopping_the_agent()
    {
        var sink = new ScriptedSink();
        var logger = Logger(sink);
        var rotation = new GatedRotation(fail: true);
        rotation.Release();
        var policy = new FuncPolicy(c => c.Score.Attack > 0.5 ? DefenseAction.RotateKeys : DefenseAction.Allow);
        await using (var agent = Agent(policy, logger, rotation, new DefenseAgentOptions { Ward = DefenseTestData.SmallWard, LogAllowDecisions = true }))
        {
            for (var i = 0; i < 30; i++)
            {
                var d = agent.Decide(i % 6, i % 10 == 0 ? Hot : Cold);
                Assert.True(d.Logged);
                if (d.Action == DefenseAction.RotateKeys) await WaitUntil(() => agent.Stats.RotationsPending == 0);
            }
            var stats = agent.Stats;
            output.WriteLine(stats.ToString());
            Assert.Equal((3L, 3L, 0L, 3L), (stats.RotationsRequested, stats.RotationsQueued, stats.RotationsDone, stats.RotationsFailed));
            Assert.Contains("custody record busy", stats.LastRotationError ?? "", StringComparison.Ordinal);
            Assert.Equal(30, stats.Logged);
        }
        await logger.FlushAsync();
        await logger.DisposeAsync();
        var logged = sink.Committed.SelectMany(b => b.Actions).ToList();
        Assert.Equal(27, logged.Count(a => (a.Action, a.Severity) == ("allow", "info")));
        Assert.Equal(3, logged.Count(a => (a.Action, a.Severity) == ("rotate-keys", "high")));
    }

    [Fact]
    public async Task Bad_events_and_mismatched_policies_get_typed_exceptions()
    {
        var sink = new ScriptedSink();
        await using var logger = Logger(sink);
        await using var agent = Agent(AllowAllPolicy.Instance, logger);
        Assert.Throws<ArgumentOutOfRangeException>(() => agent.Decide(-1, Hot));
        Assert.Throws<ArgumentOutOfRangeException>(() => agent.Decide(DefenseTestData.SmallWard.Devices, Hot));
        Assert.Throws<ArgumentException>(() => agent.Decide(0, [1f, 2f]));
        Assert.Equal(0, agent.Stats.Decisions);
        await using (var bad = Agent(new FuncPolicy(_ => (DefenseAction)42), logger))
            Assert.Throws<InvalidOperationException>(() => bad.Decide(0, Hot));
        using var dqn = new DqnAgent(stateWidth: 5, new DqnOptions { Hidden = [4] });
        Assert.Throws<ArgumentException>(() => Agent(dqn, logger));
        Assert.Throws<ArgumentOutOfRangeException>(() => Agent(AllowAllPolicy.Instance, logger, null,
            new DefenseAgentOptions { Ward = DefenseTestData.SmallWard, RotationQueueCapacity = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Agent(AllowAllPolicy.Instance, logger, null,
            new DefenseAgentOptions { Ward = DefenseTestData.SmallWard with { Devices = 0 } }));
    }

    [Fact]
    public async Task LoadAsync_loads_only_the_attested_bytes_and_the_loaded_detector_decides()
    {
        output.WriteLine($"detector seed {TrainedSynthetic.Seed}, synthetic data seed 7");
        var (detector, test) = TrainedSynthetic.Train();
        var path = Path.Combine(_dir, "detector.bin");
        using (detector) detector.Save(path);
        var sha = ModelAttestor.HashFile(path);
        var state = new MemoryState();
        state.Put("models/iomt-ids/owner", "hospital-a");
        state.Put("models/iomt-ids/policy", "1");
        state.PutVersion(Usable(sha).Record);
        var sink = new ScriptedSink();
        await using var logger = Logger(sink);
        var policy = new StaticBaseline(0.5f);
        var options = new DefenseAgentOptions { Ward = DefenseTestData.SmallWard };

        var flipped = Path.Combine(_dir, "flipped.bin");
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(flipped, bytes);
        var refused = await Assert.ThrowsAsync<ModelNotAttestedException>(() => DefenseAgent.LoadAsync(state, "iomt-ids", "1", flipped, policy, logger, null, options));
        Assert.Equal(AttestationGap.WeightsMismatch, refused.Gap);
        refused = await Assert.ThrowsAsync<ModelNotAttestedException>(() => DefenseAgent.LoadAsync(state, "iomt-ids", "2", path, policy, logger, null, options));
        Assert.Equal(AttestationGap.UnknownVersion, refused.Gap);

        await using var agent = await DefenseAgent.LoadAsync(state, "iomt-ids", "1", path, policy, logger, null, options);
        Assert.Equal(sha, agent.Model.WeightsSha256);
        Assert.Equal(test.FeatureNames.Count, agent.FeatureCount);
        var decisions = Enumerable.Range(0, test.Count).Select(i => agent.Decide(i % 6, test.Rows[i])).ToList();
        var caught = decisions.Where((d, i) => test.Labels[i] == 1 && d.Score >= 0.5f).Count();
        var falseAlarms = decisions.Where((d, i) => test.Labels[i] == 0 && d.Score >= 0.5f).Count();
        output.WriteLine($"{test.Count} events ({test.Labels.Count(l => l == 1)} attacks): {caught} attacks scored >= 0.5, {falseAlarms} benign; " +
            $"{agent.Stats}; {agent.Latency()}");
        Assert.True(caught >= test.Labels.Count(l => l == 1) * 0.8, "the loaded detector misses the attacks");
        Assert.True(falseAlarms <= test.Labels.Count(l => l == 0) * 0.05, "the loaded detector raises false alarms");
        Assert.True(agent.Stats.Actions > 0);
        Assert.True(agent.Latency().P99Ms < 35, agent.Latency().ToString());
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("condition not met within 10 s");
            await Task.Delay(5);
        }
    }
}
