using System.Text;
using System.Text.Json;
using Chain.Api.V1;
using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

/// <summary>
/// The auditors' CLI against the real 4-node testnet, with the auditor's mutual-TLS certificate: status, a transaction
/// with its proofs and certificate checked locally, a state value with its proof, and <c>verify</c> both through a
/// node and over a running node's data directory opened read-only.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class CliTests(SharedCluster shared, ITestOutputHelper output) : IClassFixture<SharedCluster>
{
    private readonly TestCluster _cluster = Attach(shared, output);

    private static TestCluster Attach(SharedCluster shared, ITestOutputHelper output)
    {
        shared.Log.Attach(output);
        return shared.Cluster;
    }

    private async Task<(int Code, string Out, string Err)> Chain(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Cli.Program.RunAsync([.. args, "--testnet", _cluster.Layout.Root], stdout, stderr);
        _cluster.Log.Line($"chain {string.Join(' ', args)} → exit {code}{(stderr.ToString().Length > 0 ? ": " + stderr.ToString().Trim() : "")}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static JsonElement Json(string text)
    {
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task The_auditor_queries_and_verifies_the_live_ledger_through_a_node_and_a_data_directory()
    {
        var app = _cluster.Client("hospital-b-app");
        var tx = app.Put("cli/ventilator-07/status", Encoding.UTF8.GetBytes("ok"));
        var committed = await app.SubmitAsync(1, tx);
        Assert.Equal(TxStatus.Committed, committed.Status);

        var status = await Chain("status", "--json");
        Assert.True(status.Code == 0, status.Err);
        Assert.True(Json(status.Out).GetProperty("height").GetUInt64() >= committed.Height);

        var shown = await Chain("tx", tx.Id.ToString(), "--json");
        Assert.True(shown.Code == 0, shown.Out + shown.Err);
        Assert.All(Json(shown.Out).GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("ok").GetBoolean(), c.ToString()));

        var state = await Chain("state", "get", "kv/cli/ventilator-07/status");
        Assert.True(state.Code == 0, state.Out + state.Err);
        Assert.Contains("ok", state.Out, StringComparison.Ordinal);

        var online = await Chain("verify", "--json", "--node", _cluster.Manifest.Node(2).Listen);
        Assert.True(online.Code == 0, online.Out + online.Err);
        var report = Json(online.Out);
        Assert.True(report.GetProperty("ok").GetBoolean());
        Assert.True(report.GetProperty("blocks").GetUInt64() >= committed.Height);

        var offline = await Chain("verify", "--json", "--data", Path.Combine(_cluster.Layout.Root, _cluster.Manifest.Node(3).Dir, "data"));
        Assert.True(offline.Code == 0, offline.Out + offline.Err);
        Assert.True(Json(offline.Out).GetProperty("stateCompared").GetBoolean());

        await LedgerChecks.FinalAsync(_cluster);
    }
}
