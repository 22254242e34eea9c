using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class CommitTests(ITestOutputHelper output)
{
    private const int Transactions = 10_000;

    [Fact]
    public async Task Four_nodes_commit_10000_concurrent_transactions_into_identical_ledgers()
    {
        var log = new TestLog(output);
        await using var cluster = await TestCluster.StartAsync(21000, log);

        var loadStarted = log.Elapsed;
        var load = TxLoad.Start(cluster, concurrency: 64, total: Transactions);
        var finished = await load.WaitAsync(TimeSpan.FromSeconds(300)); // a bound, not a speed target: CI runs other test projects beside it
        if (!finished) await load.StopAsync(TimeSpan.FromSeconds(20));
        log.Line(load.Summary());
        var seconds = (log.Elapsed - loadStarted).TotalSeconds;
        Assert.True(finished, $"{Transactions:N0} transactions were not all answered within 300 s: {load.Summary()}");
        Assert.True(load.Committed == Transactions,
            $"every one of the {Transactions:N0} submissions should return COMMITTED (wait_for_commit): {load.Summary()}");
        Assert.Equal(0, load.Refused);

        var probes = await cluster.StatusesAsync();
        log.Line("after the load:\n" + LedgerChecks.Describe(probes));
        await LedgerChecks.FinalAsync(cluster);
        log.Line($"{Transactions:N0} transactions committed in {seconds:0.0} s at 64 in flight ({Transactions / seconds:0} tx/s), and checked");
    }

    /// <summary>
    /// No fault, no view change: an idle cluster that gets a transaction now and then (each to the primary, with a
    /// pause longer than the 1 s progress timeout between them) commits each promptly, and every replica stays in view
    /// 0 with the same primary.
    /// </summary>
    [Fact]
    public async Task An_idle_cluster_commits_occasional_transactions_without_view_changes()
    {
        var log = new TestLog(output);
        await using var cluster = await TestCluster.StartAsync(23400, log);
        var app = cluster.Client("hospital-c-app");
        var (primary, _) = await cluster.PrimaryAsync() ?? throw new InvalidOperationException("no agreed primary");
        for (var i = 0; i < 10; i++)
        {
            var started = log.Elapsed;
            var response = await app.SubmitAsync((int)primary, app.Put($"idle/{i}", new byte[] { (byte)i }));
            var probes = await cluster.StatusesAsync();
            log.Line($"transaction {i} to node {primary}: {response.Status} at height {response.Height} after " +
                $"{(log.Elapsed - started).TotalMilliseconds:0} ms; views {string.Join(' ', probes.Select(p => p.Status is { } s ? $"{s.View}{(s.InViewChange ? "*" : "")}" : "?"))}");
            Assert.Equal(Api.V1.TxStatus.Committed, response.Status);
            await Task.Delay(TimeSpan.FromSeconds(1.5));
        }
        var after = await cluster.StatusesAsync();
        Assert.True(after.All(p => p.Status is { View: 0, ViewChanges: 0, InViewChange: false }),
            "no replica should change view in a cluster without faults:\n" + LedgerChecks.Describe(after) + "\n" +
            string.Join("\n", cluster.All.SelectMany(n => cluster.LogLines(n, l => l.Contains("view", StringComparison.Ordinal) &&
                !l.Contains("starting at height", StringComparison.Ordinal)).Select(l => $"node {n}: {TestCluster.Shorten(l)}"))));
        await LedgerChecks.FinalAsync(cluster);
    }
}
