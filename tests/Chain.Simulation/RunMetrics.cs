using System.Globalization;

namespace Chain.Simulation;

/// <summary>
/// What one run cost. Messages and bytes count one per recipient (a broadcast to n−1 replicas counts n−1),
/// Byzantine traffic included; verifications are calls to every replica's <see cref="CountingVerifier"/>.
/// Latency is virtual time from a transaction's submission to its first commit by an honest replica.
/// </summary>
public sealed class RunMetrics
{
    private readonly Dictionary<string, long> _byKind = [];
    private readonly List<long> _latencies = [];

    public long MessagesSent { get; internal set; }
    public long BytesSent { get; internal set; }
    public long MessagesDelivered { get; internal set; }

    /// <summary>Copies lost to drops, partitions, or a crashed receiver.</summary>
    public long MessagesLost { get; internal set; }
    public long MessagesDuplicated { get; internal set; }
    public long SignatureVerifications { get; internal set; }
    public long ValidatorCalls { get; internal set; }

    /// <summary>The highest height every honest replica that is up has committed.</summary>
    public ulong BlocksCommitted { get; internal set; }
    public long TransactionsCommitted { get; internal set; }
    public long ViewChangesStarted { get; internal set; }
    public long NewViewsInstalled { get; internal set; }
    public long StateTransfers { get; internal set; }
    public long Evidence { get; internal set; }

    /// <summary>Replica steps (inputs handled), the unit of the checker's "step".</summary>
    public long Steps { get; internal set; }
    public long Events { get; internal set; }
    public long VirtualTime { get; internal set; }
    public TimeSpan WallTime { get; internal set; }

    public IReadOnlyDictionary<string, long> MessagesByKind => _byKind;

    public IReadOnlyList<long> CommitLatencies => _latencies;

    public double MessagesPerBlock => PerBlock(MessagesSent);
    public double BytesPerBlock => PerBlock(BytesSent);
    public double VerificationsPerBlock => PerBlock(SignatureVerifications);

    /// <summary>The simulator's own throughput: replica steps per wall-clock second.</summary>
    public double StepsPerSecond => WallTime.TotalSeconds > 0 ? Steps / WallTime.TotalSeconds : 0;

    public double MeanLatency => _latencies.Count == 0 ? 0 : _latencies.Average();

    public long LatencyPercentile(double p)
    {
        if (_latencies.Count == 0) return 0;
        var sorted = _latencies.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    internal void CountSend(string kind, int bytes)
    {
        MessagesSent++;
        BytesSent += bytes;
        _byKind[kind] = _byKind.GetValueOrDefault(kind) + 1;
    }

    internal void AddLatency(long latency) => _latencies.Add(latency);

    private double PerBlock(long total) => BlocksCommitted == 0 ? 0 : (double)total / BlocksCommitted;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"blocks={BlocksCommitted} txs={TransactionsCommitted} msgs/block={MessagesPerBlock:F1} " +
        $"bytes/block={BytesPerBlock:F0} verifies/block={VerificationsPerBlock:F1} " +
        $"latency mean={MeanLatency:F1} p50={LatencyPercentile(50)} p99={LatencyPercentile(99)} " +
        $"viewchanges={ViewChangesStarted} transfers={StateTransfers} steps={Steps} " +
        $"steps/s={StepsPerSecond:F0} vtime={VirtualTime}");
}
