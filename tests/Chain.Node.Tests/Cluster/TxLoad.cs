using System.Collections.Concurrent;
using System.Globalization;
using Chain.Api.V1;
using Grpc.Core;

namespace Chain.Node.Tests.Cluster;

/// <summary>
/// Closed-loop load: <c>concurrency</c> workers, each submitting one signed kv put at a time with wait_for_commit,
/// as the 8 hospital applications in turn, to the target nodes in turn. A submission that fails in transit (node
/// down, deadline, mempool full) is retried as the same transaction on the next target, a few times; a refusal is
/// counted and not retried. Runs until <see cref="StopAsync"/> or, with a total, until that many were submitted.
/// Every wait is bounded: each call by its deadline, the stop by a drain time after which calls are cancelled.
/// </summary>
internal sealed class TxLoad
{
    private const int MaxAttempts = 6;
    private static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(5);
    private static int s_runs;

    private readonly TestLog _log;
    private readonly IReadOnlyList<ClusterClient> _clients;
    private readonly int? _total;
    private readonly uint _commitTimeoutMs;
    private readonly string _run;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly ConcurrentDictionary<string, long> _reasons = new();
    private readonly Task _workers;
    private readonly Task _progress;
    private int[] _targets;
    private long _next;
    private long _acked;
    private long _committed;
    private long _pending;
    private long _refused;
    private long _gaveUp;
    private long _retries;

    private TxLoad(TestCluster cluster, int concurrency, int? total, int[] targets, uint commitTimeoutMs)
    {
        _log = cluster.Log;
        _clients = cluster.LoadClients();
        _total = total;
        _targets = targets;
        _commitTimeoutMs = commitTimeoutMs;
        _run = "load" + Interlocked.Increment(ref s_runs).ToString(CultureInfo.InvariantCulture);
        // A load never outlives a test, even one that forgot to stop it.
        _stop.CancelAfter(MaxLifetime);
        _abort.CancelAfter(MaxLifetime + TimeSpan.FromMinutes(1));
        _workers = Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
        _progress = Task.Run(ProgressAsync);
    }

    public static TxLoad Start(TestCluster cluster, int concurrency, int? total = null, int[]? targets = null, uint commitTimeoutMs = 20_000)
    {
        var load = new TxLoad(cluster, concurrency, total, targets ?? [.. cluster.All], commitTimeoutMs);
        cluster.Log.Line($"{load._run}: {concurrency} in flight{(total is { } t ? $", {t:N0} transactions" : "")} " +
            $"to node(s) {string.Join(',', load._targets)}");
        return load;
    }

    public long Acked => Interlocked.Read(ref _acked);
    public long Committed => Interlocked.Read(ref _committed);
    public long Refused => Interlocked.Read(ref _refused);
    public long GaveUp => Interlocked.Read(ref _gaveUp);

    /// <summary>Where new submissions go from now on.</summary>
    public void Target(params int[] nodes)
    {
        Volatile.Write(ref _targets, nodes);
        _log.Line($"{_run}: now to node(s) {string.Join(',', nodes)}");
    }

    public string Summary()
    {
        var reasons = string.Join("; ", _reasons.OrderByDescending(r => r.Value).Take(6).Select(r => $"{r.Value}x {r.Key}"));
        return $"{_run}: acknowledged {Acked:N0} (committed {Committed:N0}, pending {Interlocked.Read(ref _pending):N0}), " +
               $"refused {Refused:N0}, gave up {GaveUp:N0}, retried {Interlocked.Read(ref _retries):N0}" +
               (reasons.Length > 0 ? $"; failures: {reasons}" : "");
    }

    /// <summary>Waits (bounded) until every worker ended (with a total: all were submitted and answered).</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _workers.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Stops submitting, lets calls in flight finish for up to <paramref name="drain"/>, then cancels them.</summary>
    public async Task StopAsync(TimeSpan? drain = null)
    {
        await _stop.CancelAsync();
        if (!await WaitAsync(drain ?? TimeSpan.FromSeconds(30)))
        {
            _log.Line($"{_run}: calls still in flight after the drain time; cancelling them");
            await _abort.CancelAsync();
            await WaitAsync(TimeSpan.FromSeconds(15));
        }
        await _progress.WaitAsync(TimeSpan.FromSeconds(5));
        _log.Line(Summary());
    }

    private async Task WorkerAsync()
    {
        var value = new byte[64];
        while (!_stop.IsCancellationRequested)
        {
            var seq = Interlocked.Increment(ref _next) - 1;
            if (_total is { } total && seq >= total) return;
            var client = _clients[(int)(seq % _clients.Count)];
            Random.Shared.NextBytes(value);
            var tx = client.Put($"{_run}/{client.Name}/{seq:D8}", value);
            for (var attempt = 0; ; attempt++)
            {
                var targets = Volatile.Read(ref _targets);
                var node = targets[(int)((seq + attempt) % targets.Length)];
                try
                {
                    var response = await client.SubmitAsync(node, tx, waitForCommit: true, _commitTimeoutMs, _abort.Token);
                    Interlocked.Increment(ref _acked);
                    Interlocked.Increment(ref response.Status == TxStatus.Committed ? ref _committed : ref _pending);
                    break;
                }
                catch (RpcException) when (_abort.IsCancellationRequested)
                {
                    return;
                }
                catch (RpcException e)
                {
                    var transient = e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal
                        or StatusCode.Unknown or StatusCode.Cancelled or StatusCode.ResourceExhausted;
                    _reasons.AddOrUpdate($"node {node} {e.StatusCode}: {Short(e.Status.Detail)}", 1, (_, n) => n + 1);
                    if (!transient)
                    {
                        Interlocked.Increment(ref _refused);
                        break;
                    }
                    if (attempt + 1 >= MaxAttempts)
                    {
                        Interlocked.Increment(ref _gaveUp);
                        break;
                    }
                    Interlocked.Increment(ref _retries);
                    try
                    {
                        await Task.Delay(100, _abort.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static string Short(string detail)
    {
        var line = detail.Split('\n')[0];
        return line.Length > 80 ? line[..80] : line;
    }

    private async Task ProgressAsync()
    {
        var last = 0L;
        while (!_workers.IsCompleted)
        {
            try
            {
                await Task.WhenAny(_workers, Task.Delay(TimeSpan.FromSeconds(5), _abort.Token));
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (_workers.IsCompleted) return;
            var acked = Acked;
            _log.Line($"{_run}: acknowledged {acked:N0} (+{acked - last:N0}), refused {Refused:N0}, gave up {GaveUp:N0}");
            last = acked;
        }
    }
}
