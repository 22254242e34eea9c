using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Chain.Ai.OnChain;
using Chain.Chaincode;
using Chain.Chaincode.Contracts;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.OnChain;

/// <summary>A sink that records every attempt and answers from a script (default: committed).</summary>
internal sealed class ScriptedSink(Func<DefenseLogBatch, int, Task<BatchResult>>? script = null) : IDefenseLogSink
{
    private int _calls;

    public ConcurrentQueue<(DefenseLogBatch Batch, int Attempt, int Count)> Attempts { get; } = new();

    public ConcurrentQueue<DefenseLogBatch> Committed { get; } = new();

    public async Task<BatchResult> SubmitAsync(DefenseLogBatch batch, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls);
        Attempts.Enqueue((batch, batch.Attempts, batch.Actions.Count));
        var result = script is null ? new BatchResult(BatchOutcome.Committed, null, 1, "tx") : await script(batch, call);
        if (result.Outcome == BatchOutcome.Committed) Committed.Enqueue(batch);
        return result;
    }
}

public sealed class ActionLoggerTests(ITestOutputHelper output)
{
    private const string Weights = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    internal static DefenseActionRecord Action(int i, string severity = "high") =>
        new($"pump-{i % 7}", i % 3 == 0 ? "isolate" : "alert", severity, 1_700_000_000_000 + i, "iomt-ids:1", Weights, 0.5 + i % 50 / 100.0,
            $"score above threshold (event {i})");

    private static ActionLoggerOptions Options(int maxBatch = DefenseLogContract.MaxBatch, int capacity = 65_536, int flushMs = 3_600_000) =>
        new()
        {
            Agent = "hospital-c-agent",
            MaxBatch = maxBatch,
            QueueCapacity = capacity,
            FlushInterval = TimeSpan.FromMilliseconds(flushMs),
            InitialBackoff = TimeSpan.FromMilliseconds(1),
            MaxBackoff = TimeSpan.FromMilliseconds(5),
        };

    [Fact]
    public async Task Batches_split_at_the_contracts_limit_of_1000_in_order()
    {
        var sink = new ScriptedSink();
        await using var logger = new ActionLogger(sink, Options());
        var records = Enumerable.Range(0, 2500).Select(i => Action(i)).ToList();
        foreach (var r in records) Assert.True(logger.TryLog(r));

        var stats = await logger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(new[] { 1000, 1000, 500 }, sink.Committed.Select(b => b.Actions.Count));
        Assert.Equal(new ActionLoggerStats(2500, 2500, 0, 0, 0, 3, 0, 0, stats.MaxBatchLatency, null), stats);
        Assert.Equal(0, stats.Pending);
        // What the contract receives: its own strict JSON reading gives back the records' mapping, in order.
        var sent = sink.Committed.SelectMany(b => JsonSerializer.Deserialize<List<DefenseAction>>(b.Json, ContractJson.Options)!).ToList();
        Assert.Equal(records.Select(r => r.ToContractAction("hospital-c-agent")), sent);
        Assert.Equal(new[] { 1L, 2L, 3L }, sink.Committed.Select(b => b.Sequence));
    }

    [Fact]
    public async Task A_full_queue_drops_and_counts_without_blocking_and_what_was_queued_is_sent_later()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new ScriptedSink(async (_, _) =>
        {
            await release.Task;
            return new BatchResult(BatchOutcome.Committed);
        });
        var logger = new ActionLogger(sink, Options(maxBatch: 5, capacity: 10, flushMs: 1));
        var accepted = 0;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 100; i++) accepted += logger.TryLog(Action(i)) ? 1 : 0;
        clock.Stop();

        var stats = logger.Stats;
        Assert.Equal(accepted, stats.Logged);
        Assert.Equal(100 - accepted, stats.Dropped);
        Assert.InRange(accepted, 10, 15); // the queue's 10 plus at most the one batch (5) the stuck sink holds
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"100 TryLog calls took {clock.Elapsed}");

        release.SetResult();
        await logger.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        stats = logger.Stats;
        Assert.Equal(accepted, stats.Submitted);
        Assert.Equal(0, stats.Failed);
        Assert.Equal(accepted, sink.Committed.Sum(b => b.Actions.Count));
    }

    [Fact]
    public async Task Dispose_drains_the_queue_and_later_actions_are_dropped()
    {
        var sink = new ScriptedSink();
        var logger = new ActionLogger(sink, Options());
        for (var i = 0; i < 10; i++) Assert.True(logger.TryLog(Action(i)));
        Assert.Empty(sink.Committed); // a one-hour flush interval: nothing is sent until dispose

        await logger.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(10, Assert.Single(sink.Committed).Actions.Count);
        Assert.False(logger.TryLog(Action(11)));
        var stats = logger.Stats;
        Assert.Equal((10L, 10L, 0L, 1L), (stats.Logged, stats.Submitted, stats.Failed, stats.Dropped));
    }

    [Fact]
    public async Task The_flush_interval_sends_a_partial_batch_without_a_flush()
    {
        var sink = new ScriptedSink();
        await using var logger = new ActionLogger(sink, Options(flushMs: 50));
        for (var i = 0; i < 3; i++) logger.TryLog(Action(i));
        var clock = Stopwatch.StartNew();
        while (sink.Committed.IsEmpty && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(10);

        Assert.Equal(3, Assert.Single(sink.Committed).Actions.Count);
        Assert.Equal(3, logger.Stats.Submitted);
    }

    [Fact]
    public async Task Transient_failures_are_retried_with_the_same_batch()
    {
        var sink = new ScriptedSink((_, call) => Task.FromResult(call <= 2
            ? BatchResult.Transient("Unavailable: node down")
            : new BatchResult(BatchOutcome.Committed)));
        await using var logger = new ActionLogger(sink, Options());
        for (var i = 0; i < 7; i++) logger.TryLog(Action(i));

        var stats = await logger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(3, sink.Attempts.Count);
        var first = sink.Attempts.First().Batch;
        Assert.All(sink.Attempts, a => Assert.Same(first, a.Batch));
        Assert.Equal(new[] { 1, 2, 3 }, sink.Attempts.Select(a => a.Attempt));
        Assert.Equal((7L, 0L, 2L, 1L), (stats.Submitted, stats.Failed, stats.Retries, stats.Batches));
    }

    [Fact]
    public async Task A_refused_batch_is_counted_failed_and_logging_goes_on()
    {
        var sink = new ScriptedSink((_, call) => Task.FromResult(call == 1
            ? new BatchResult(BatchOutcome.Refused, "action 0: severity must be one of ...")
            : new BatchResult(BatchOutcome.Committed)));
        await using var logger = new ActionLogger(sink, Options(maxBatch: 2));
        for (var i = 0; i < 5; i++) logger.TryLog(Action(i));

        var stats = await logger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal((5L, 3L, 2L, 1L, 2L), (stats.Logged, stats.Submitted, stats.Failed, stats.FailedBatches, stats.Batches));
        Assert.Contains("batch 1 refused: action 0", stats.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_that_never_goes_through_fails_after_its_attempts_and_exceptions_count_as_transient()
    {
        var sink = new ScriptedSink((_, _) => throw new InvalidOperationException("socket closed"));
        await using var logger = new ActionLogger(sink, Options() with { MaxAttempts = 3 });
        logger.TryLog(Action(1));

        var stats = await logger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(3, sink.Attempts.Count);
        Assert.Equal((0L, 1L, 2L, 1L), (stats.Submitted, stats.Failed, stats.Retries, stats.FailedBatches));
        Assert.Contains("failed after 3 attempts: InvalidOperationException: socket closed", stats.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_records_are_rejected_and_counted_without_throwing()
    {
        var sink = new ScriptedSink();
        await using var logger = new ActionLogger(sink, Options());
        var good = Action(1);
        DefenseActionRecord[] bad =
        [
            null!, good with { Severity = "severe" }, good with { Device = "pump 7" }, good with { Score = double.NaN },
            good with { ModelWeightsSha256 = Weights.ToUpperInvariant() }, good with { Reason = new string('x', 1025) },
            good with { DecidedAtUnixMs = -1 }, good with { EventSha256 = "abc" }, good with { Action = "" },
        ];
        foreach (var r in bad) Assert.False(logger.TryLog(r));
        Assert.True(logger.TryLog(good));

        var stats = await logger.FlushAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((1L, 1L, 9L, 0L), (stats.Logged, stats.Submitted, stats.Rejected, stats.Dropped));
        Assert.Throws<ArgumentException>(() => bad[1].Validate());
    }

    [Fact]
    public void Options_outside_the_contracts_limits_are_refused()
    {
        var sink = new ScriptedSink();
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActionLogger(sink, Options(maxBatch: DefenseLogContract.MaxBatch + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActionLogger(sink, Options(maxBatch: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActionLogger(sink, Options(capacity: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActionLogger(sink, Options() with { FlushInterval = TimeSpan.Zero }));
        Assert.Throws<ArgumentException>(() => new ActionLogger(sink, Options() with { Agent = "agent c" }));
        Assert.Throws<ArgumentNullException>(() => new ActionLogger(null!, Options()));
    }

    [Fact]
    public void The_contract_action_carries_the_record_and_the_evidence_hash_binds_what_is_not_on_chain()
    {
        var r = Action(4) with { EventSha256 = new string('e', 64) };
        var a = r.ToContractAction("agent-c");
        Assert.Equal(("agent-c", "iomt-ids:1", "high", "pump-4", "alert"), (a.Agent, a.ModelVersion, a.Severity, a.Device, a.Action));
        Assert.Equal(r.EvidenceSha256("agent-c"), a.EvidenceSha256);
        Assert.Equal(a.EvidenceSha256, (Action(4) with { EventSha256 = new string('e', 64) }).EvidenceSha256("agent-c")); // deterministic
        // Every off-chain field changes the hash: time, score, reason, weights, event, agent.
        var variants = new[]
        {
            r with { DecidedAtUnixMs = r.DecidedAtUnixMs + 1 }, r with { Score = BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(r.Score) + 1) },
            r with { Reason = r.Reason + "." }, r with { ModelWeightsSha256 = new string('1', 64) }, r with { EventSha256 = null },
        }.Select(v => v.EvidenceSha256("agent-c")).Append(r.EvidenceSha256("agent-d")).ToList();
        Assert.DoesNotContain(a.EvidenceSha256, variants);
        Assert.Equal(variants.Count, variants.Distinct().Count());
        Assert.Matches("^[0-9a-f]{64}$", a.EvidenceSha256);
    }

    [Fact]
    public async Task TryLog_stays_fast_and_loses_nothing_at_the_default_capacity_while_the_sink_is_stuck()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new ScriptedSink(async (_, _) =>
        {
            await release.Task;
            return new BatchResult(BatchOutcome.Committed);
        });
        var logger = new ActionLogger(sink, Options(flushMs: 20) with { QueueCapacity = new ActionLoggerOptions { Agent = "x" }.QueueCapacity });
        for (var i = 0; i < 100; i++) Assert.True(logger.TryLog(Action(i))); // warm-up: the first calls compile the code
        var timer = new DecisionPathTimer();
        var records = Enumerable.Range(100, 19_900).Select(i => Action(i)).ToList();
        foreach (var r in records) Assert.True(timer.Time(() => logger.TryLog(r)));
        output.WriteLine($"TryLog with the sink stuck: {timer}");
        Assert.Equal(0, logger.Stats.Dropped);
        // A call that waited would switch voluntarily; a few are the runtime's (the first calls, an allocation slow path, a
        // page fault) on a loaded machine, a logger that waits would do it on every call that finds the queue busy or full.
        Assert.True(timer.Blocked <= Math.Max(3, timer.Calls / 500), $"TryLog waited: {timer}");
        Assert.True(timer.CleanMaxMs < 5, $"an undisturbed TryLog took {timer.CleanMaxMs:0.###} ms: {timer}");
        Assert.True(timer.Percentile(99) < 1, $"TryLog p99 {timer.Percentile(99):0.###} ms: {timer}");
        release.SetResult();
        await logger.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(20_000, logger.Stats.Submitted);
        Assert.All(sink.Committed, b => Assert.InRange(b.Actions.Count, 1, DefenseLogContract.MaxBatch));
    }
}
