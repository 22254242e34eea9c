using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Chain.Testnet.Load;

/// <summary>How one submission ended.</summary>
internal enum SubmitResult
{
    /// <summary>Committed in a block.</summary>
    Committed,
    /// <summary>Refused by the node (invalid, unauthorised, mempool full, ...).</summary>
    Rejected,
    /// <summary>Admitted but not committed before the wait timed out.</summary>
    Pending,
    /// <summary>No answer: transport error, deadline, node down.</summary>
    Failed,
}

internal readonly record struct SubmitOutcome(SubmitResult Result, string? Reason = null)
{
    public static SubmitOutcome Committed { get; } = new(SubmitResult.Committed);
}

/// <summary>
/// Where load goes: transactions signed by one of <see cref="Clients"/> identities, submitted to one of
/// <see cref="Nodes"/> nodes, waiting for the commit. The real one speaks gRPC; tests use fakes.
/// </summary>
internal interface ITxSubmitter
{
    int Nodes { get; }

    int Clients { get; }

    /// <summary>The signed transaction number <paramref name="sequence"/> of client <paramref name="client"/>.</summary>
    byte[] Prepare(int client, long sequence);

    /// <summary>Submits and waits for the commit; never throws for a refused or failed submission (the outcome says).</summary>
    Task<SubmitOutcome> SubmitAsync(int client, int node, byte[] transaction, CancellationToken cancellation);
}

/// <summary>What one load run did.</summary>
internal sealed record LoadResult(
    string Mode,
    double OfferedRate,
    int Concurrency,
    TimeSpan Window,
    TimeSpan Elapsed,
    long Submitted,
    long Committed,
    long CommittedInWindow,
    long Pending,
    long Dropped,
    IReadOnlyDictionary<string, long> Rejected,
    IReadOnlyDictionary<string, long> Failed,
    LatencyHistogram Latency)
{
    public long RejectedCount => Rejected.Values.Sum();

    public long FailedCount => Failed.Values.Sum();

    /// <summary>Commits completed inside the load window, per second of the window: the sustained throughput.</summary>
    public double Throughput => Window > TimeSpan.Zero ? CommittedInWindow / Window.TotalSeconds : 0;

    public IEnumerable<string> Describe()
    {
        static string F(double? ms) => ms is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : "-";
        var load = Mode == "open" ? $"open loop at {OfferedRate:N0} tx/s" : $"closed loop, {Concurrency} in flight";
        yield return $"{load} for {Window.TotalSeconds:0.#} s (finished after {Elapsed.TotalSeconds:0.#} s)";
        yield return $"  submitted {Submitted:N0}, committed {Committed:N0}, rejected {RejectedCount:N0}, " +
                     $"failed {FailedCount:N0}, not committed in time {Pending:N0}" + (Dropped > 0 ? $", not sent (too many in flight) {Dropped:N0}" : "");
        foreach (var (reason, n) in Rejected.OrderByDescending(x => x.Value)) yield return $"    rejected {n:N0}: {reason}";
        foreach (var (reason, n) in Failed.OrderByDescending(x => x.Value)) yield return $"    failed {n:N0}: {reason}";
        yield return $"  throughput {Throughput:N1} committed tx/s";
        yield return $"  commit latency p50 {F(Latency.PercentileMs(50))}, p95 {F(Latency.PercentileMs(95))}, " +
                     $"p99 {F(Latency.PercentileMs(99))}, max {F(Latency.Count > 0 ? Latency.MaxMs : null)}";
    }
}

/// <summary>
/// Drives an <see cref="ITxSubmitter"/>: open loop (a fixed arrival rate, whatever the latency) or closed loop (a
/// fixed number of submitters, each waiting for its commit before the next). Transaction k goes to node k mod n and
/// cycles through the clients. Everything is bounded: the window, the in-flight count (open loop drops beyond
/// <see cref="MaxInFlight"/>) and the drain after the window.
/// </summary>
internal sealed class LoadRunner(ITxSubmitter submitter, TextWriter? progress = null, bool progressOnOneLine = false)
{
    private readonly TextWriter? _progress = progress;
    private readonly bool _progressOnOneLine = progressOnOneLine;
    private long _sequence;

    /// <summary>Where this runner's transaction numbers start (another runner on the same submitter must not repeat them).</summary>
    public long FirstSequence
    {
        init => _sequence = value;
    }

    public int MaxInFlight { get; init; } = 20_000;

    /// <summary>How long submissions still in flight after the window may take to finish.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Pause of a closed-loop submitter after a refusal or failure (so a dead node is not hammered).</summary>
    public TimeSpan BackoffAfterError { get; init; } = TimeSpan.FromMilliseconds(20);

    public async Task<LoadResult> OpenLoopAsync(double rate, TimeSpan duration, CancellationToken cancellation)
    {
        if (rate is <= 0 or > 1_000_000) throw new ArgumentOutOfRangeException(nameof(rate), "the rate must be 1-1,000,000 tx/s");
        var total = (long)Math.Round(rate * duration.TotalSeconds);
        var run = new Run(this, "open", rate, 0, duration);
        using var operations = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using (run.ShowProgress())
        {
            long issued = 0;
            while (issued < total && !cancellation.IsCancellationRequested)
            {
                var due = Math.Min(total, (long)(run.Clock.Elapsed.TotalSeconds * rate) + 1);
                for (; issued < due; issued++)
                {
                    if (run.InFlight >= MaxInFlight)
                    {
                        run.Drop();
                        continue;
                    }
                    run.Begin();
                    var sequence = Interlocked.Increment(ref _sequence);
                    _ = Task.Run(() => OneAsync(run, sequence, operations.Token), CancellationToken.None);
                }
                await Pause(TimeSpan.FromMilliseconds(1), cancellation).ConfigureAwait(false);
            }
            await WaitUntil(run.Clock, duration, cancellation).ConfigureAwait(false);
            run.CloseWindow();
            await Drain(run, operations).ConfigureAwait(false);
        }
        return run.Result();
    }

    public async Task<LoadResult> ClosedLoopAsync(int concurrency, TimeSpan duration, CancellationToken cancellation)
    {
        if (concurrency is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(concurrency), "1-10,000 submitters");
        var run = new Run(this, "closed", 0, concurrency, duration);
        using var operations = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using (run.ShowProgress())
        {
            var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                while (run.Clock.Elapsed < duration && !cancellation.IsCancellationRequested)
                {
                    run.Begin();
                    var outcome = await OneAsync(run, Interlocked.Increment(ref _sequence), operations.Token).ConfigureAwait(false);
                    if (outcome.Result != SubmitResult.Committed) await Pause(BackoffAfterError, cancellation).ConfigureAwait(false);
                }
            }, CancellationToken.None)).ToList();
            await WaitUntil(run.Clock, duration, cancellation).ConfigureAwait(false);
            run.CloseWindow();
            await Drain(run, operations).ConfigureAwait(false);
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }
        return run.Result();
    }

    private async Task<SubmitOutcome> OneAsync(Run run, long sequence, CancellationToken cancellation)
    {
        var node = (int)(sequence % submitter.Nodes);
        var client = (int)(sequence / submitter.Nodes % submitter.Clients);
        SubmitOutcome outcome;
        long start = Stopwatch.GetTimestamp();
        try
        {
            var transaction = submitter.Prepare(client, sequence);
            start = Stopwatch.GetTimestamp();
            outcome = await submitter.SubmitAsync(client, node, transaction, cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            outcome = new SubmitOutcome(SubmitResult.Failed, "cancelled (run stopped)");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            outcome = new SubmitOutcome(SubmitResult.Failed, $"{e.GetType().Name}: {e.Message}");
        }
        run.End(outcome, Stopwatch.GetElapsedTime(start));
        return outcome;
    }

    private async Task Drain(Run run, CancellationTokenSource operations)
    {
        var clock = Stopwatch.StartNew();
        while (run.InFlight > 0 && clock.Elapsed < DrainTimeout) await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        if (run.InFlight == 0) return;
        await operations.CancelAsync().ConfigureAwait(false);
        clock.Restart();
        while (run.InFlight > 0 && clock.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
    }

    private static async Task WaitUntil(Stopwatch clock, TimeSpan until, CancellationToken cancellation)
    {
        var left = until - clock.Elapsed;
        if (left > TimeSpan.Zero) await Pause(left, cancellation).ConfigureAwait(false);
    }

    private static async Task Pause(TimeSpan delay, CancellationToken cancellation)
    {
        try
        {
            await Task.Delay(delay, cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The counters of one run (thread-safe).</summary>
    private sealed class Run(LoadRunner runner, string mode, double rate, int concurrency, TimeSpan window)
    {
        private const int MaxReasons = 20;
        private readonly ConcurrentDictionary<string, long> _rejected = new();
        private readonly ConcurrentDictionary<string, long> _failed = new();
        private readonly LatencyHistogram _latency = new();
        private long _inFlight;
        private long _submitted;
        private long _committed;
        private long _committedInWindow;
        private long _pending;
        private long _dropped;
        private volatile bool _windowOpen = true;

        public Stopwatch Clock { get; } = Stopwatch.StartNew();

        public long InFlight => Interlocked.Read(ref _inFlight);

        public void Begin()
        {
            Interlocked.Increment(ref _inFlight);
            Interlocked.Increment(ref _submitted);
        }

        public void Drop() => Interlocked.Increment(ref _dropped);

        public void CloseWindow() => _windowOpen = false;

        public void End(SubmitOutcome outcome, TimeSpan latency)
        {
            switch (outcome.Result)
            {
                case SubmitResult.Committed:
                    _latency.Record(latency);
                    Interlocked.Increment(ref _committed);
                    if (_windowOpen) Interlocked.Increment(ref _committedInWindow);
                    break;
                case SubmitResult.Pending:
                    Interlocked.Increment(ref _pending);
                    break;
                case SubmitResult.Rejected:
                    Count(_rejected, outcome.Reason ?? "rejected");
                    break;
                default:
                    Count(_failed, outcome.Reason ?? "failed");
                    break;
            }
            Interlocked.Decrement(ref _inFlight);
        }

        private static void Count(ConcurrentDictionary<string, long> reasons, string reason)
        {
            if (reason.Length > 100) reason = reason[..100] + "...";
            if (!reasons.ContainsKey(reason) && reasons.Count >= MaxReasons) reason = "(other reasons)";
            reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
        }

        public LoadResult Result() => new(mode, rate, concurrency, window, Clock.Elapsed, Interlocked.Read(ref _submitted),
            Interlocked.Read(ref _committed), Interlocked.Read(ref _committedInWindow), Interlocked.Read(ref _pending),
            Interlocked.Read(ref _dropped), new Dictionary<string, long>(_rejected), new Dictionary<string, long>(_failed), _latency);

        /// <summary>Writes a progress line every second until disposed.</summary>
        public IDisposable ShowProgress()
        {
            if (runner._progress is not { } output) return new ProgressHandle(null, Task.CompletedTask);
            var stop = new CancellationTokenSource();
            var oneLine = runner._progressOnOneLine;
            var task = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
                long lastCommitted = 0;
                try
                {
                    while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
                    {
                        var committed = Interlocked.Read(ref _committed);
                        var line = $"{Clock.Elapsed.TotalSeconds,5:0}s  submitted {Interlocked.Read(ref _submitted),9:N0}  " +
                                   $"committed {committed,9:N0} ({committed - lastCommitted,6:N0}/s)  " +
                                   $"rejected {_rejected.Values.Sum(),6:N0}  failed {_failed.Values.Sum(),6:N0}  in flight {InFlight,6:N0}";
                        lastCommitted = committed;
                        if (oneLine) output.Write("\r" + line);
                        else output.WriteLine(line);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                if (oneLine) output.WriteLine();
            });
            return new ProgressHandle(stop, task);
        }
    }

    private sealed class ProgressHandle(CancellationTokenSource? stop, Task task) : IDisposable
    {
        public void Dispose()
        {
            if (stop is null) return;
            stop.Cancel();
            task.Wait(TimeSpan.FromSeconds(2));
            stop.Dispose();
        }
    }
}
