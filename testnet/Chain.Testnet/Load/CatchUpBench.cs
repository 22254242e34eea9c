using System.Diagnostics;
using System.Globalization;
using Chain.Testnet.Cluster;

namespace Chain.Testnet.Load;

/// <summary>What a catch-up measurement found.</summary>
internal sealed record CatchUpResult(int Node, ulong FromHeight, ulong TargetHeight, double TransactionsFetched, TimeSpan StartToAnswer,
    TimeSpan AnswerToCaughtUp, bool CaughtUp)
{
    public ulong Blocks => TargetHeight - FromHeight;
    public double BlocksPerSecond => AnswerToCaughtUp.TotalSeconds > 0 ? Blocks / AnswerToCaughtUp.TotalSeconds : 0;
    public double TransactionsPerSecond => AnswerToCaughtUp.TotalSeconds > 0 ? TransactionsFetched / AnswerToCaughtUp.TotalSeconds : 0;

    public string ToMarkdown() =>
        $"\nState transfer: node {Node} was killed, and restarted {Blocks:N0} blocks ({TransactionsFetched:N0} transactions) behind; " +
        (CaughtUp ? $"it answered {StartToAnswer.TotalSeconds:0.0} s after the restart and caught up {AnswerToCaughtUp.TotalSeconds:0.00} s later: " +
                    $"**{BlocksPerSecond:N0} blocks/s, {TransactionsPerSecond:N0} tx/s** fetched, verified, executed and stored."
                  : "it did not catch up within 120 s.") + "\n";
}

/// <summary>
/// Measures recovery: SIGKILL one node, keep the others committing under load for a while, restart it, and time
/// how long it takes from answering again to holding the others' height (state transfer: blocks fetched from peers,
/// each checked against its certificate, executed and stored). Bounded in time throughout.
/// </summary>
internal static class CatchUpBench
{
    public static async Task<CatchUpResult> RunAsync(ClusterControl control, LoadRunner runner, double rate, TimeSpan downFor,
        TextWriter progress, CancellationToken cancellation)
    {
        var manifest = Manifest.Load(control.Layout);
        var node = manifest.Nodes[^1];
        using var status = new NodeStatusClient(control.Layout, manifest);
        var before = await status.ProbeAsync(node.Id, cancellation: cancellation).ConfigureAwait(false);
        var from = before.Status?.Height ?? 0;
        progress.WriteLine($"catch-up: kill node {node.Id} at height {from}, load the others at {rate:N0} tx/s for {downFor.TotalSeconds:0} s");
        await control.KillAsync(node.Id, cancellation).ConfigureAwait(false);
        await runner.OpenLoopAsync(rate, downFor, cancellation).ConfigureAwait(false);
        var others = await Task.WhenAll(manifest.Nodes.Where(n => n.Id != node.Id)
            .Select(n => status.ProbeAsync(n.Id, cancellation: cancellation))).ConfigureAwait(false);
        var target = others.Max(p => p.Status?.Height ?? 0);

        var clock = Stopwatch.StartNew();
        await control.RestartAsync(node.Id, ClusterControl.StartTimeout, cancellation).ConfigureAwait(false);
        var answered = clock.Elapsed;
        var caughtUp = false;
        while (clock.Elapsed < answered + TimeSpan.FromSeconds(120) && !cancellation.IsCancellationRequested)
        {
            var probe = await status.ProbeAsync(node.Id, cancellation: cancellation).ConfigureAwait(false);
            if (probe.Status?.Height >= target)
            {
                caughtUp = true;
                break;
            }
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
        var took = clock.Elapsed - answered;
        var transactions = await CommittedTransactionsAsync(node.MetricsPort, cancellation).ConfigureAwait(false);
        return new CatchUpResult(node.Id, from, target, transactions, answered, took, caughtUp);
    }

    /// <summary>The node's chain_committed_transactions_total (since its start: everything it caught up on).</summary>
    private static async Task<double> CommittedTransactionsAsync(int metricsPort, CancellationToken cancellation)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"), cancellation).ConfigureAwait(false);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("chain_committed_transactions_total ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }
}
