using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Chain.Chaincode.Contracts;

namespace Chain.Ai.OnChain;

/// <summary>How <see cref="ActionLogger"/> queues, batches and retries.</summary>
public sealed record ActionLoggerOptions
{
    /// <summary>The agent's name recorded with every action (a contract name, e.g. "hospital-c-agent").</summary>
    public required string Agent { get; init; }

    /// <summary>
    /// Actions the queue holds before <see cref="ActionLogger.TryLog"/> drops (and counts) new ones: 1 to 10,000,000.
    /// Default 65,536 (about 13 MB at most): a minute of a 1,000 actions/s burst while the ledger takes one batch per block.
    /// </summary>
    public int QueueCapacity { get; init; } = 65_536;

    /// <summary>Most actions per transaction: 1 to the contract's limit (<see cref="DefenseLogContract.MaxBatch"/>, the default).</summary>
    public int MaxBatch { get; init; } = DefenseLogContract.MaxBatch;

    /// <summary>The longest an action waits in the queue for its batch to fill before it is sent anyway (default 250 ms).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Attempts per batch before its actions are counted failed (default 10).</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>The wait after the first transient failure; it doubles per attempt (with jitter) up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long <see cref="ActionLogger.DisposeAsync"/> lets the queue drain before abandoning what is left (default 2 minutes).</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Throws <see cref="ArgumentException"/> (or its out-of-range subclass) naming the first bad setting.</summary>
    public ActionLoggerOptions Validate()
    {
        if (Agent is null || !ContractNames.IsName(Agent))
            throw new ArgumentException($"Agent '{Agent}' must be {ContractNames.Rule}", nameof(Agent));
        if (QueueCapacity is < 1 or > 10_000_000)
            throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "the queue holds 1 to 10,000,000 actions");
        if (MaxBatch < 1 || MaxBatch > DefenseLogContract.MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, $"a batch holds 1 to {DefenseLogContract.MaxBatch} actions (the contract's limit)");
        if (FlushInterval <= TimeSpan.Zero || FlushInterval > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(FlushInterval), FlushInterval, "the flush interval must be more than 0 and at most an hour");
        if (MaxAttempts is < 1 or > 1000)
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "1 to 1,000 attempts per batch");
        if (InitialBackoff < TimeSpan.Zero || MaxBackoff < InitialBackoff || MaxBackoff > TimeSpan.FromMinutes(10))
            throw new ArgumentOutOfRangeException(nameof(MaxBackoff), MaxBackoff, "back-off: 0 <= InitialBackoff <= MaxBackoff <= 10 minutes");
        if (DrainTimeout < TimeSpan.Zero || DrainTimeout > TimeSpan.FromHours(1))
            throw new ArgumentOutOfRangeException(nameof(DrainTimeout), DrainTimeout, "the drain timeout must be from 0 to an hour");
        return this;
    }
}

/// <summary>
/// The logger's counters at one moment. <see cref="Logged"/> = accepted by TryLog; each ends up <see cref="Submitted"/>
/// (committed on chain) or <see cref="Failed"/> (its batch was refused, ran out of attempts, or was abandoned at dispose);
/// <see cref="Pending"/> are on their way. <see cref="Dropped"/> (queue full or logger closed) and <see cref="Rejected"/>
/// (invalid record) never entered the queue.
/// </summary>
public sealed record ActionLoggerStats(
    long Logged,
    long Submitted,
    long Failed,
    long Dropped,
    long Rejected,
    long Batches,
    long FailedBatches,
    long Retries,
    TimeSpan MaxBatchLatency,
    string? LastError)
{
    public long Pending => Logged - Submitted - Failed;
}

/// <summary>
/// Logs the defense agent's actions on chain without ever slowing a decision: <see cref="TryLog"/> validates the record
/// and puts it in a bounded in-memory queue (no I/O, no lock, no await, never throws; when the queue is full the action
/// is dropped and counted). A background task takes actions off the queue in batches of up to
/// <see cref="ActionLoggerOptions.MaxBatch"/> (the contract's limit of 1,000), sending a batch when it is full or when its
/// oldest action has waited <see cref="ActionLoggerOptions.FlushInterval"/>; one batch is in flight at a time, in order.
/// Transient failures are retried with exponential back-off and jitter (the same batch, so the chain sink resubmits the
/// same transaction); a refused batch is counted failed and logging goes on. <see cref="FlushAsync"/> and
/// <see cref="DisposeAsync"/> drain the queue.
/// </summary>
public sealed class ActionLogger : IAsyncDisposable
{
    private readonly ActionLoggerOptions _options;
    private readonly IDefenseLogSink _sink;
    private readonly Channel<Entry> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Task _loop;
    private CancellationTokenSource? _gathering;
    private bool _flushRequested;
    private long _accepted;
    private long _logged;
    private long _processed;
    private long _submitted;
    private long _failed;
    private long _dropped;
    private long _rejected;
    private long _batches;
    private long _failedBatches;
    private long _retries;
    private long _maxLatencyTicks;
    private long _sequence;
    private string? _lastError;
    private int _disposed;

    private readonly record struct Entry(DefenseActionRecord Record, long Enqueued);

    public ActionLogger(IDefenseLogSink sink, ActionLoggerOptions options)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validate();
        _sink = sink;
        _queue = Channel.CreateBounded<Entry>(QueueOptions(options.QueueCapacity));
        WarmUp();
        _loop = Task.Run(RunAsync);
    }

    public ActionLoggerOptions Options => _options;

    private static BoundedChannelOptions QueueOptions(int capacity) => new(capacity)
    {
        FullMode = BoundedChannelFullMode.Wait, // TryWrite then answers false at once: the caller counts the drop
        SingleReader = true,
        SingleWriter = false,
        AllowSynchronousContinuations = false,
    };

    /// <summary>
    /// Compiles the decision path now rather than on the agent's first decision (measured: the first TryLog took 50-170 ms
    /// on a loaded machine, almost all of it JIT): validation, and a write to a throwaway queue of the same type.
    /// </summary>
    private static void WarmUp()
    {
        var probe = new DefenseActionRecord("warm-up", "none", "info", 0, "warm-up", new string('0', 64), 0, "");
        _ = probe.Problem();
        var queue = Channel.CreateBounded<Entry>(QueueOptions(1));
        queue.Writer.TryWrite(new Entry(probe, Stopwatch.GetTimestamp()));
        queue.Writer.TryWrite(new Entry(probe, Stopwatch.GetTimestamp())); // the full case
        RuntimeHelpers.PrepareMethod(typeof(ActionLogger).GetMethod(nameof(TryLog))!.MethodHandle);
    }

    /// <summary>
    /// Queues <paramref name="action"/> for the ledger. Returns false, counting why, when the record is invalid
    /// (<see cref="ActionLoggerStats.Rejected"/>) or the queue is full or closed (<see cref="ActionLoggerStats.Dropped"/>).
    /// Never blocks, never throws.
    /// </summary>
    public bool TryLog(DefenseActionRecord action)
    {
        if (action is null || action.Problem() is not null)
        {
            Interlocked.Increment(ref _rejected);
            return false;
        }
        Interlocked.Increment(ref _accepted);
        if (!_queue.Writer.TryWrite(new Entry(action, Stopwatch.GetTimestamp())))
        {
            Interlocked.Decrement(ref _accepted);
            Interlocked.Increment(ref _dropped);
            return false;
        }
        Interlocked.Increment(ref _logged);
        return true;
    }

    /// <summary>The counters now.</summary>
    public ActionLoggerStats Stats => new(Interlocked.Read(ref _logged), Interlocked.Read(ref _submitted), Interlocked.Read(ref _failed),
        Interlocked.Read(ref _dropped), Interlocked.Read(ref _rejected), Interlocked.Read(ref _batches), Interlocked.Read(ref _failedBatches),
        Interlocked.Read(ref _retries), Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _maxLatencyTicks)), Volatile.Read(ref _lastError));

    /// <summary>
    /// Sends what is queued now without waiting for the flush interval and returns once every action logged before the
    /// call is submitted or failed (see <see cref="ActionLoggerStats"/>). Throws <see cref="InvalidOperationException"/> if
    /// the background task has stopped with actions still queued.
    /// </summary>
    public async Task<ActionLoggerStats> FlushAsync(CancellationToken cancellationToken = default)
    {
        var target = Interlocked.Read(ref _accepted);
        lock (_gate)
        {
            _flushRequested = true;
            _gathering?.Cancel();
        }
        // Accepted-but-dropped writes are taken back from _accepted, so the goal is never more than what can arrive.
        while (Interlocked.Read(ref _processed) < Math.Min(target, Interlocked.Read(ref _accepted)))
        {
            if (_loop.IsCompleted)
                throw new InvalidOperationException($"the action logger has stopped with {Stats.Pending} action(s) unsent: {Volatile.Read(ref _lastError)}");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        return Stats;
    }

    /// <summary>
    /// Closes the queue (TryLog answers false from now on), lets the background task send everything queued (for at most
    /// <see cref="ActionLoggerOptions.DrainTimeout"/>), then stops it; actions still unsent then are counted failed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        lock (_gate) _gathering?.Cancel(); // send the partial batch now rather than after the flush interval
        using (var drainTimer = new CancellationTokenSource())
        {
            var drained = await Task.WhenAny(_loop, Task.Delay(_options.DrainTimeout, drainTimer.Token)).ConfigureAwait(false) == _loop;
            await drainTimer.CancelAsync().ConfigureAwait(false);
            if (!drained) await _stop.CancelAsync().ConfigureAwait(false);
        }
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped after the drain timeout
        }
        var abandoned = 0L;
        while (_queue.Reader.TryRead(out _)) abandoned++;
        if (abandoned > 0)
        {
            Interlocked.Add(ref _failed, abandoned);
            Interlocked.Add(ref _processed, abandoned);
            Volatile.Write(ref _lastError, $"{abandoned} action(s) abandoned: the queue did not drain within {_options.DrainTimeout}");
        }
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var batch = new List<Entry>(_options.MaxBatch);
        try
        {
            while (await GatherAsync(batch).ConfigureAwait(false))
            {
                await SendAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            if (batch.Count > 0) Finish(batch, committed: false, "abandoned at dispose after the drain timeout");
        }
    }

    /// <summary>Fills <paramref name="batch"/>; false when the queue is closed and empty.</summary>
    private async Task<bool> GatherAsync(List<Entry> batch)
    {
        var reader = _queue.Reader;
        while (batch.Count < _options.MaxBatch)
        {
            if (reader.TryRead(out var entry))
            {
                batch.Add(entry);
                continue;
            }
            if (batch.Count == 0)
            {
                if (!await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false)) return false;
                continue;
            }
            if (reader.Completion.IsCompleted) break;
            var remaining = _options.FlushInterval - Stopwatch.GetElapsedTime(batch[0].Enqueued);
            if (remaining <= TimeSpan.Zero) break;
            var timer = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            try
            {
                lock (_gate)
                {
                    if (_flushRequested)
                    {
                        _flushRequested = false; // the queue is empty: everything logged before the flush is in this batch
                        break;
                    }
                    _gathering = timer;
                }
                timer.CancelAfter(remaining);
                if (!await reader.WaitToReadAsync(timer.Token).ConfigureAwait(false)) break; // closed: send what we have
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                // the flush interval ran out, or a flush or dispose asked to send now: the next turn decides
            }
            finally
            {
                lock (_gate) _gathering = null;
                timer.Dispose();
            }
        }
        return true;
    }

    private async Task SendAsync(List<Entry> entries)
    {
        var actions = new DefenseAction[entries.Count];
        for (var i = 0; i < entries.Count; i++) actions[i] = entries[i].Record.ToContractAction(_options.Agent);
        var batch = new DefenseLogBatch(++_sequence, actions, JsonSerializer.Serialize(actions));
        var backoff = _options.InitialBackoff;
        while (true)
        {
            batch.Attempts++;
            BatchResult result;
            try
            {
                result = await _sink.SubmitAsync(batch, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                result = BatchResult.Transient($"{e.GetType().Name}: {e.Message}");
            }
            switch (result.Outcome)
            {
                case BatchOutcome.Committed:
                    Finish(entries, committed: true, null);
                    return;
                case BatchOutcome.Refused:
                    Finish(entries, committed: false, $"batch {batch.Sequence} refused: {result.Error}");
                    return;
            }
            Volatile.Write(ref _lastError, $"batch {batch.Sequence}, attempt {batch.Attempts}: {result.Error}");
            if (batch.Attempts >= _options.MaxAttempts)
            {
                Finish(entries, committed: false, $"batch {batch.Sequence} failed after {batch.Attempts} attempts: {result.Error}");
                return;
            }
            Interlocked.Increment(ref _retries);
            var delay = TimeSpan.FromTicks((long)(backoff.Ticks * (0.5 + Random.Shared.NextDouble() / 2)));
            await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(_options.MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    private void Finish(List<Entry> entries, bool committed, string? error)
    {
        if (committed)
        {
            Interlocked.Add(ref _submitted, entries.Count);
            Interlocked.Increment(ref _batches);
            var latency = Stopwatch.GetTimestamp() - entries[0].Enqueued;
            if (latency > Interlocked.Read(ref _maxLatencyTicks)) Interlocked.Exchange(ref _maxLatencyTicks, latency);
        }
        else
        {
            Interlocked.Add(ref _failed, entries.Count);
            Interlocked.Increment(ref _failedBatches);
            Volatile.Write(ref _lastError, error);
        }
        Interlocked.Add(ref _processed, entries.Count);
    }
}
