using Chain.Testnet.Cluster;
using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

/// <summary>
/// The system contracts end to end on the real 4-node testnet (the scenario of <c>testnet contracts</c>): a model attested
/// and endorsed by two other hospitals, its weights file verified; its key split 3-of-4 among the hospitals' custody keys,
/// every share checked and acknowledged, released to hospital-b after three approvals and rebuilt; defense actions logged
/// and queried by device and severity; a federated round under the regulator's privacy budget; all read back through
/// another node; an auditor's write refused. Run twice, so re-running on a live ledger works too.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", ClusterCollection.Category)]
public sealed class ContractsTests(SharedCluster shared, ITestOutputHelper output) : IClassFixture<SharedCluster>
{
    private readonly TestCluster _cluster = Attach(shared, output);

    private static TestCluster Attach(SharedCluster shared, ITestOutputHelper output)
    {
        shared.Log.Attach(output);
        return shared.Cluster;
    }

    [Fact]
    public async Task Attest_endorse_split_release_log_and_read_back_on_the_testnet()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        foreach (var run in new[] { 1, 2 })
        {
            var text = new StringWriter();
            var checks = await ContractsDemo.RunAsync(_cluster.Layout, text, cancel.Token, _cluster.Book.Attempt);
            foreach (var line in text.ToString().Split('\n')) _cluster.Log.Line(line.TrimEnd());
            Assert.All(checks, c => Assert.True(c.Ok, c.What));
            var all = string.Join("\n", checks.Select(c => c.What));
            Assert.Contains($"weights file verified against the ledger: weights match iomt-ids {run}", all, StringComparison.Ordinal);
            Assert.Contains("hospital-b combines 3 shares and recovers the key", all, StringComparison.Ordinal);
            Assert.Contains("is refused at admission: PermissionDenied", all, StringComparison.Ordinal);
            Assert.Equal(4, checks.Count(c => c.What.Contains("checks it against the public commitments", StringComparison.Ordinal)));
            Assert.True(checks.Count >= 14, $"only {checks.Count} checks ran:\n{all}");
        }
        await LedgerChecks.FinalAsync(_cluster);
    }
}
