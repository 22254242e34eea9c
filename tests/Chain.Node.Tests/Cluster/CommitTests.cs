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
        var finished = await load.WaitAsync(TimeSpan.FromSeconds(180));
        if (!finished) await load.StopAsync(TimeSpan.FromSeconds(20));
        log.Line(load.Summary());
        var seconds = (log.Elapsed - loadStarted).TotalSeconds;
        Assert.True(finished, $"{Transactions:N0} transactions were not all answered within 180 s: {load.Summary()}");
        Assert.True(load.Committed == Transactions,
            $"every one of the {Transactions:N0} submissions should return COMMITTED (wait_for_commit): {load.Summary()}");
        Assert.Equal(0, load.Refused);

        var probes = await cluster.StatusesAsync();
        log.Line("after the load:\n" + LedgerChecks.Describe(probes));
        await LedgerChecks.FinalAsync(cluster);
        log.Line($"{Transactions:N0} transactions committed in {seconds:0.0} s at 64 in flight ({Transactions / seconds:0} tx/s), and checked");
    }
}
