using Chain.Api.V1;
using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

/// <summary>Crashes and partitions under load: the other three keep committing, the victim comes back and converges.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class FaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_replica_killed_under_load_catches_up_and_no_acknowledged_transaction_is_lost()
    {
        var log = new TestLog(output);
        await using var cluster = await TestCluster.StartAsync(21400, log);
        var load = TxLoad.Start(cluster, concurrency: 16);
        int victim;
        try
        {
            await LedgerChecks.WaitForHeightAsync(cluster, cluster.All, 3, Bound);
            var (primary, _) = await cluster.PrimaryAsync() ?? throw new InvalidOperationException("no agreed primary");
            victim = (int)((primary + 1) % TestCluster.Nodes);
            var others = Others(cluster, victim);
            log.Line($"primary is node {primary}; killing node {victim}");

            await cluster.KillAsync(victim);
            var atKill = await MaxHeightAsync(cluster, others);
            var committedAtKill = load.Committed;
            // Far enough (more than the 32-block window) that the victim cannot catch up from consensus messages alone.
            await LedgerChecks.WaitForHeightAsync(cluster, others, atKill + 40, Bound);
            await LedgerChecks.WaitUntilAsync(cluster, $"100 more commits acknowledged without node {victim}", Bound,
                () => Task.FromResult((load.Committed >= committedAtKill + 100, load.Summary())));
            log.Line($"without node {victim}: height {atKill} -> {await MaxHeightAsync(cluster, others)}, " +
                $"{load.Committed - committedAtKill} more commits acknowledged");

            await cluster.RestartAsync(victim);
            var target = await MaxHeightAsync(cluster, others);
            await LedgerChecks.WaitForHeightAsync(cluster, [victim], target, Bound);
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await load.StopAsync();
        }
        var transfers = cluster.LogLines(victim, l => l.Contains("state transfer", StringComparison.Ordinal) ||
                                                      l.Contains("behind: fetching", StringComparison.Ordinal));
        log.Line($"node {victim} catch-up log lines:\n" + string.Join("\n", transfers.TakeLast(6).Select(TestCluster.Shorten)));
        Assert.True(load.Acked > 0 && load.Refused == 0, load.Summary());
        await LedgerChecks.FinalAsync(cluster);
    }

    [Fact]
    public async Task Killing_the_primary_makes_a_view_change_and_commits_continue()
    {
        var log = new TestLog(output);
        await using var cluster = await TestCluster.StartAsync(21800, log);
        var load = TxLoad.Start(cluster, concurrency: 16);
        try
        {
            await LedgerChecks.WaitForHeightAsync(cluster, cluster.All, 3, Bound);
            var (primary, view) = await cluster.PrimaryAsync() ?? throw new InvalidOperationException("no agreed primary");
            var victim = (int)primary;
            var others = Others(cluster, victim);
            log.Line($"primary is node {primary} in view {view}; killing it");

            await cluster.KillAsync(victim);
            var killed = log.Elapsed;
            await LedgerChecks.WaitUntilAsync(cluster, "a new view installed on the other three", Bound, async () =>
            {
                var probes = await cluster.StatusesAsync(others);
                var done = probes.All(p => p.Status is { InViewChange: false } s && s.View > view && s.Primary != primary) &&
                           probes.Select(p => p.Status!.View).Distinct().Count() == 1;
                return (done, LedgerChecks.Describe(probes));
            });
            log.Line($"view change took {(log.Elapsed - killed).TotalSeconds:0.0} s");
            var atNewView = await MaxHeightAsync(cluster, others);
            var committedAtNewView = load.Committed;
            await LedgerChecks.WaitForHeightAsync(cluster, others, atNewView + 10, Bound);
            Assert.True(load.Committed > committedAtNewView, $"commits should continue in the new view: {load.Summary()}");

            // The blocks after the view change were ordered in the new view by another primary.
            var fresh = await LedgerChecks.ScanAsync(cluster, others[0], atNewView + 10);
            var latest = fresh.Headers[^1];
            Assert.True(latest.View > view && latest.Proposer != primary,
                $"block {latest.Height} should come from the new view (view {latest.View}, proposer {latest.Proposer}; old view {view}, primary {primary})");
            Assert.Empty(fresh.Problems);

            await cluster.RestartAsync(victim);
            var target = await MaxHeightAsync(cluster, others);
            await LedgerChecks.WaitForHeightAsync(cluster, [victim], target, Bound);
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await load.StopAsync();
        }
        Assert.True(load.Acked > 0 && load.Refused == 0, load.Summary());
        await LedgerChecks.FinalAsync(cluster);
        var probesAfter = await cluster.StatusesAsync();
        Assert.True(probesAfter.All(p => p.Status?.ViewChanges > 0 || p.Status?.View > 0),
            "every node, the restarted one included, should be past the first view:\n" + LedgerChecks.Describe(probesAfter));
    }

    [Fact]
    public async Task A_partitioned_replica_rejoins_and_converges_after_heal()
    {
        var log = new TestLog(output);
        await using var cluster = await TestCluster.StartAsync(22200, log);
        var load = TxLoad.Start(cluster, concurrency: 16);
        try
        {
            await LedgerChecks.WaitForHeightAsync(cluster, cluster.All, 3, Bound);
            var (primary, _) = await cluster.PrimaryAsync() ?? throw new InvalidOperationException("no agreed primary");
            var isolated = (int)((primary + 2) % TestCluster.Nodes);
            var others = Others(cluster, isolated);
            log.Line($"primary is node {primary}; isolating node {isolated}");

            load.Target([.. others]);
            // Transactions submitted to the node while its links are being cut: each one it acknowledges must still
            // reach the ledger after the heal, even if its gossip was on the wire when the link went down.
            var across = cluster.Client("hospital-d-app2");
            var burst = Task.Run(async () =>
            {
                for (var i = 0; i < 60; i++)
                {
                    try
                    {
                        await across.SubmitAsync(isolated, across.Put($"across-the-cut/{i}", new byte[] { 4, 5, 6 }), waitForCommit: false);
                    }
                    catch (Grpc.Core.RpcException)
                    {
                        // Not acknowledged: nothing is promised.
                    }
                    await Task.Delay(15);
                }
            });
            await Task.Delay(250);
            await cluster.PartitionAsync(isolated);
            await burst.WaitAsync(TimeSpan.FromSeconds(60));
            log.Line($"burst across the cut: {cluster.Book.Acked.Count(a => a.Node == isolated)} transactions acknowledged by node {isolated}");
            var atCut = await MaxHeightAsync(cluster, others);
            var isolatedAtCut = (await cluster.StatusAsync(isolated)).Status?.Height ?? 0;

            // A client that only reaches the isolated node: its transactions are acknowledged (admitted, journaled) but
            // cannot commit until the partition heals. They must not be lost.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var client = cluster.Client("hospital-a-app2");
            for (var i = 0; i < 20; i++)
            {
                var response = await client.SubmitAsync(isolated, client.Put($"stranded/{i}", new byte[] { 1, 2, 3 }), waitForCommit: false);
                Assert.Equal(TxStatus.Pending, response.Status);
            }
            log.Line($"20 transactions acknowledged (PENDING) by isolated node {isolated}");

            await LedgerChecks.WaitForHeightAsync(cluster, others, atCut + 30, Bound);
            var isolatedNow = (await cluster.StatusAsync(isolated)).Status?.Height ?? 0;
            var othersNow = await MaxHeightAsync(cluster, others);
            log.Line($"during the partition: the three went {atCut} -> {othersNow}, node {isolated} {isolatedAtCut} -> {isolatedNow}");
            Assert.True(isolatedNow < othersNow, $"node {isolated} should be cut off (height {isolatedNow}, the others {othersNow})");

            await cluster.HealAsync();
            load.Target([.. cluster.All]);
            var target = await MaxHeightAsync(cluster, others);
            await LedgerChecks.WaitForHeightAsync(cluster, [isolated], target, Bound);
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await load.StopAsync();
        }
        Assert.True(load.Acked > 0 && load.Refused == 0, load.Summary());
        await LedgerChecks.FinalAsync(cluster);
    }

    private static List<int> Others(TestCluster cluster, int node) => cluster.All.Where(n => n != node).ToList();

    private static async Task<ulong> MaxHeightAsync(TestCluster cluster, IReadOnlyList<int> nodes) =>
        (await cluster.StatusesAsync(nodes)).Max(p => p.Status?.Height ?? 0);
}

/// <summary>Stopping and starting the whole cluster keeps the ledger and its state.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class RestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_whole_cluster_restarts_with_its_heights_and_state_roots_and_commits_on()
    {
        var log = new TestLog(output);
        await using var cluster = await TestCluster.StartAsync(23000, log);
        var first = TxLoad.Start(cluster, concurrency: 32, total: 1500);
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(90)), first.Summary());
        log.Line(first.Summary());
        var (converged, before) = await LedgerChecks.ConvergeAsync(cluster, cluster.All, TimeSpan.FromSeconds(60));
        Assert.True(converged, "before the restart:\n" + LedgerChecks.Describe(before));

        await cluster.DownAsync();
        Assert.DoesNotContain(cluster.All, cluster.IsRunning);
        await cluster.UpAsync();

        var after = await cluster.StatusesAsync();
        log.Line("right after up:\n" + LedgerChecks.Describe(after));
        foreach (var (b, a) in before.Zip(after))
        {
            Assert.True(a.Status is not null, $"node {a.Node} does not answer after the restart: {a.Error}");
            Assert.True(a.Status.Height == b.Status!.Height && a.Status.TipHash == b.Status.TipHash && a.Status.StateRoot == b.Status.StateRoot,
                $"node {a.Node} before the restart: {b}; after: {a}");
        }

        var second = TxLoad.Start(cluster, concurrency: 32, total: 1000);
        Assert.True(await second.WaitAsync(TimeSpan.FromSeconds(90)), second.Summary());
        log.Line(second.Summary());
        Assert.True(second.Committed == 1000, $"every submission after the restart should commit: {second.Summary()}");
        await LedgerChecks.FinalAsync(cluster);
        var final = await cluster.StatusAsync(0);
        Assert.True(final.Status!.Height > before[0].Status!.Height, "the ledger should have grown after the restart");
    }
}
