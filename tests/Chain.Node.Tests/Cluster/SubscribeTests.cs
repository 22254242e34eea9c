using System.Text;
using Chain.Api.V1;
using Chain.Accel;
using Grpc.Core;
using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

/// <summary>The committed-block stream: blocks in height order, their transactions, and the contract events.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class SubscribeTests : IClassFixture<SharedCluster>
{
    private readonly TestCluster _cluster;

    public SubscribeTests(SharedCluster shared, ITestOutputHelper output)
    {
        _cluster = shared.Cluster;
        shared.Log.Attach(output);
    }

    [Fact]
    public async Task A_subscriber_on_another_node_sees_committed_blocks_in_order_with_their_events()
    {
        var app = _cluster.Client("hospital-a-app");
        var observer = _cluster.Observer;
        var start = (await observer.Ledger(2).GetStatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10))).Height + 1;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = observer.Ledger(2).Subscribe(new SubscribeRequest { FromHeight = start }, cancellationToken: cancel.Token);

        var keys = Enumerable.Range(0, 3).Select(i => $"subscribe/device-{i}").ToList();
        var ids = new HashSet<string>();
        foreach (var key in keys)
        {
            var tx = app.Put(key, Encoding.UTF8.GetBytes("on"));
            var response = await app.SubmitAsync(0, tx);
            Assert.Equal(TxStatus.Committed, response.Status);
            ids.Add(tx.Id.ToString());
        }

        var seenEvents = new HashSet<string>();
        var expected = start;
        while (ids.Count > 0 && await stream.ResponseStream.MoveNext(cancel.Token))
        {
            var block = stream.ResponseStream.Current;
            Assert.Equal(expected, block.Height);
            Assert.Equal(Hash32.Size, block.StateRoot.Length);
            Assert.True(Hash32.TryParse(block.Hash, out _));
            expected++;
            foreach (var id in block.TxIds) ids.Remove(id);
            foreach (var e in block.Events.Where(e => e.Contract == "kv" && e.Name == "put")) seenEvents.Add(e.Data.ToStringUtf8());
        }
        Assert.Empty(ids);
        Assert.Superset(keys.ToHashSet(), seenEvents);
        await LedgerChecks.FinalAsync(_cluster);
    }

    [Fact]
    public async Task A_subscription_from_above_the_tip_waits_and_a_cancelled_one_ends_cleanly()
    {
        var observer = _cluster.Observer;
        var tip = (await observer.Ledger(1).GetStatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10))).Height;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        using var stream = observer.Ledger(1).Subscribe(new SubscribeRequest { FromHeight = tip + 1_000_000 }, cancellationToken: cancel.Token);
        var e = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
        var status = await observer.Ledger(1).GetStatusAsync(new StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        Assert.True(status.Height >= tip);
    }
}
