using System.Diagnostics;
using Chain.Accel;
using Chain.Ai.Federated;
using Chain.Ai.Federated.Ledger;
using Chain.Ai.OnChain;
using Chain.Ai.Tests.Detection;
using Chain.Ai.Tests.OnChain;
using Chain.Chaincode.Contracts;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Queries;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// Federated rounds coordinated on a real 4-node testnet (node processes, mutual TLS, RocksDB): each hospital's client
/// talks to its own node, stores its update there as a blob and records its hash and epsilon in the <c>fl</c> registry;
/// hospital-a coordinates, fetching the updates across nodes by the hashes on the ledger. The learners are fixed
/// arithmetic (each hospital's update is known in advance), so the aggregate can be checked exactly: a median round with
/// one hospital sending a huge update, a round where one hospital's blob is garbage (left out, with the reason), and a
/// round the registry refuses because the consortium's privacy budget would be exceeded. An auditor fetches the final
/// model by the hash on the ledger and gets the same bytes.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class LedgerRoundsTests(ITestOutputHelper output)
{
    private const int BasePort = 26600;
    private const int Length = 1000;

    /// <summary>Adds a fixed per-hospital vector to whatever global model it gets.</summary>
    private sealed class FixedLearner(float value, int examples) : ILocalLearner
    {
        public int ParameterCount => Length;

        public (float[] Delta, int Examples) Train(float[] global, string round) =>
            ([.. Enumerable.Range(0, Length).Select(i => value + i * 0.001f)], examples);
    }

    private void Log(string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }

    [Fact]
    public async Task Rounds_run_through_the_registry_and_the_nodes_blob_stores_with_exact_aggregates_and_the_budget_enforced()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(240));
        var ct = cancel.Token;
        await using var net = await LocalTestnet.StartAsync(BasePort, Log, ct);
        var hospitals = Enumerable.Range(0, 4).Select(LocalTestnet.Hospital).ToArray();
        // Each hospital: its own app talking to its own node, and read access to the others' nodes for fetching blobs.
        var own = hospitals.Select((h, i) => net.Client($"{h}-app", i)).ToArray();
        var across = hospitals.Select((h, i) => Enumerable.Range(0, 4).Where(j => j != i).Select(j => net.Client($"{h}-app2", j)).ToList()).ToArray();
        var blobs = hospitals.Select((_, i) => new LedgerBlobs(own[i], across[i])).ToArray();
        var regulator = net.Client("regulator-1", 0);
        var dataset = "wustl-" + Guid.NewGuid().ToString("N")[..8];
        Assert.True((await regulator.SubmitAsync(FederatedRoundContract.ContractId, "budget", [dataset, "2.5"], cancellationToken: ct)).Succeeded);

        var values = new[] { 1f, 2f, 3f, 1000f }; // hospital-d sends a huge update
        var participants = hospitals.Select((h, i) => new RoundParticipant(own[i], h, blobs[i], new FixedLearner(values[i], 100 * (i + 1)))).ToArray();
        var coordinator = new RoundCoordinator(own[0], hospitals[0], blobs[0]);
        var global = new float[Length];

        // Round 1: coordinate-wise median over all four.
        var round1 = "r1-" + dataset;
        var parts = participants.Select(p => p.TakePartAsync(round1, 0.5m, TimeSpan.FromSeconds(60), ct)).ToArray();
        var outcome = await coordinator.RunAsync(round1, dataset, "median", new CoordinateMedian(), hospitals, global, TimeSpan.FromSeconds(60), ct);
        var done = await Task.WhenAll(parts);
        Log($"round 1: {outcome.Included.Count} updates, aggregate {outcome.AggregateSha256[..12]}, fetched {outcome.BytesFetched:N0} bytes in {outcome.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(hospitals, outcome.Included);
        Assert.Empty(outcome.Excluded);
        for (var i = 0; i < Length; i++) Assert.Equal(2.5f + i * 0.001f, outcome.Global[i], 4); // median of 1, 2, 3, 1000 (+ i/1000)
        var record = await new RoundQueries(own[2].State).GetRoundAsync(round1, ct);
        Assert.NotNull(record);
        Assert.Equal("closed", record!.Status);
        Assert.Equal(outcome.BaseSha256, record.BaseSha256);
        Assert.Equal(outcome.AggregateSha256, record.AggregateSha256);
        Assert.Equal(2.0m, outcome.EpsilonSpent);
        foreach (var d in done) Assert.Equal(d.UpdateSha256, record.Updates[hospitals[Array.FindIndex(done, x => x == d)]]);

        // Round 2: hospital-c records the hash of garbage; the coordinator leaves it out and says why.
        var round2 = "r2-" + dataset;
        var honest = new[] { 0, 1, 3 }.Select(i => participants[i].TakePartAsync(round2, 0.1m, TimeSpan.FromSeconds(60), ct)).ToList();
        var cheat = Task.Run(async () =>
        {
            var garbage = new byte[] { 1, 2, 3, 4, 5 };
            var sha = await blobs[2].PutAsync(garbage, ct);
            await RoundOpened(own[2], round2, ct);
            return await own[2].SubmitAsync(FederatedRoundContract.ContractId, "submit", [round2, sha, "0.1"], cancellationToken: ct);
        }, ct);
        var outcome2 = await coordinator.RunAsync(round2, dataset, "fedavg", new FedAvg(), hospitals, outcome.Global, TimeSpan.FromSeconds(60), ct);
        await Task.WhenAll(honest);
        Assert.True((await cheat).Succeeded);
        Assert.Equal(["hospital-a", "hospital-b", "hospital-d"], outcome2.Included);
        Assert.Equal("hospital-c", Assert.Single(outcome2.Excluded).Participant);
        Assert.Contains("magic", outcome2.Excluded[0].Reason);
        // FedAvg weights by examples: (100·1 + 200·2 + 400·1000) / 700 added to the round-1 model.
        var mean = (100f * 1 + 200f * 2 + 400f * 1000) / 700f;
        Assert.Equal(outcome.Global[0] + mean, outcome2.Global[0], 2);

        // Round 3: 2.4 of 2.5 is spent; a third 0.5 update would exceed the budget and the registry refuses it.
        var round3 = "r3-" + dataset;
        var first = participants[0].TakePartAsync(round3, 0.05m, TimeSpan.FromSeconds(60), ct);
        var second = participants[1].TakePartAsync(round3, 0.05m, TimeSpan.FromSeconds(60), ct);
        var over = participants[2].TakePartAsync(round3, 0.5m, TimeSpan.FromSeconds(60), ct);
        var outcome3 = await coordinator.RunAsync(round3, dataset, "trimmed-mean", new TrimmedMean(0.25), hospitals[..3], outcome2.Global,
            TimeSpan.FromSeconds(20), ct);
        await Task.WhenAll(first, second);
        var refused = await Assert.ThrowsAsync<FederatedRoundException>(() => over);
        Assert.Contains("exceed its budget", refused.Message);
        Assert.Equal(["hospital-c"], outcome3.Missing);
        var budget = (await new RoundQueries(regulator.State).ListBudgetsAsync(ct)).Single(b => b.Dataset == dataset);
        Assert.Equal(2.5m, budget.Spent);
        Log($"round 3: the registry refused hospital-c ({refused.Message}); budget {budget.Budget}, spent {budget.Spent}");

        // An auditor reads the final model from the coordinator's node by the hash on the ledger.
        var auditor = net.Client("auditor-1", 0);
        var finalBytes = await auditor.GetBlobAsync(Hash32.Parse(outcome3.AggregateSha256), ct);
        Assert.NotNull(finalBytes);
        Assert.Equal(outcome3.Global, FederatedPayload.Decode(finalBytes!).Values);

        // Round 4, sealed: updates are sealed to hospital-a's registered custody key. An auditor fetching an update by its
        // hash sees ciphertext; hospital-d, which does not seal, is left out.
        using var coordinatorKey = CustodyKeyPair.Create();
        Assert.True((await own[0].SubmitAsync("custody", "register-key", [coordinatorKey.PublicKeyHex], cancellationToken: ct)).Succeeded);
        var sealedCoordinator = new RoundCoordinator(own[0], hospitals[0], blobs[0], coordinatorKey);
        var round4 = "r4-" + dataset;
        var sealedParts = Enumerable.Range(0, 3).Select(i => new RoundParticipant(own[i], hospitals[i], blobs[i], new FixedLearner(values[i], 100), sealUpdates: true)
            .TakePartAsync(round4, 0m, TimeSpan.FromSeconds(60), ct)).ToList();
        var unsealed = participants[3].TakePartAsync(round4, 0m, TimeSpan.FromSeconds(60), ct);
        var outcome4 = await sealedCoordinator.RunAsync(round4, dataset, "median", new CoordinateMedian(), hospitals, outcome3.Global, TimeSpan.FromSeconds(60), ct);
        var sealedDone = await Task.WhenAll(sealedParts);
        await unsealed;
        Assert.Equal(["hospital-a", "hospital-b", "hospital-c"], outcome4.Included);
        Assert.Contains("not sealed to the coordinator", Assert.Single(outcome4.Excluded).Reason);
        Assert.Equal(outcome3.Global[0] + 2f, outcome4.Global[0], 3); // median of 1, 2, 3
        var seen = await net.Client("auditor-1", 1).GetBlobAsync(Hash32.Parse(sealedDone[1].UpdateSha256), ct); // hospital-b stored it on its node
        Assert.NotNull(seen);
        Assert.Throws<FederatedPayloadException>(() => FederatedPayload.Decode(seen!));
        Log("round 4: sealed updates opened by the coordinator only; an unsealed one left out");

        // The testnet mode with real learners: the federated MLP on synthetic IoMT rows partitioned among the four
        // hospitals, client-level DP (clip + local noise), the epsilon of each round recorded, and the final model attested
        // under the hash of the last aggregate.
        var synthetic = SyntheticIomt.Load(rows: 2400, seed: 5);
        var split = Chain.Ai.Detection.DetectionSplit.Choose(synthetic, 5).Split;
        var prepared = FederatedData.Prepare(synthetic, split, new PartitionOptions(4, PartitionScheme.Iid, 1, 5));
        var dpDataset = "dp-" + dataset;
        var options = new TestnetFederationOptions("run-" + dataset, dpDataset, "fedavg", 3, new LocalTrainingOptions(Epochs: 5, BatchSize: 32, LearningRate: 0.1, Seed: 5),
            new ClientLevelDp(5, 0.01), 1e-5, Budget: 1_000_000m, AttestModel: "fl-synthetic", Seed: 5, CoordinatorKey: coordinatorKey);
        var run = await TestnetFederation.RunAsync(Testnet(net), prepared, options, "synthetic", Log,
            TimeSpan.FromSeconds(60), ct);
        Assert.Equal(3, run.Rounds.Count);
        foreach (var r in run.Rounds) Assert.Equal(4, r.Outcome.Included.Count);
        Assert.True(run.Rounds[^1].Test.Auroc > 0.9, $"the federated MLP did not learn (AUROC {run.Rounds[^1].Test.Auroc})");
        Assert.NotNull(run.Attested);
        Assert.Equal(run.FinalSha256, run.Attested!.WeightsSha256);
        var spent = (await new RoundQueries(regulator.State).ListBudgetsAsync(ct)).Single(b => b.Dataset == dpDataset).Spent;
        var perHospital = Enumerable.Range(1, 3).Sum(r => TestnetFederation.RoundEpsilon(options.Dp!, r, 1e-5));
        Assert.Equal(4 * perHospital, spent);
        Log($"testnet mode: AUROC {run.Rounds[^1].Test.Auroc:0.000}, spent {spent} on {dpDataset}, attested {run.Attested.WeightsSha256[..12]}");
    }

    private static TestnetManifest Testnet(LocalTestnet net) => TestnetManifest.Load(net.Dir);

    private static async Task RoundOpened(ChainClient client, string round, CancellationToken ct)
    {
        var queries = new RoundQueries(client.State);
        var watch = Stopwatch.StartNew();
        while (await queries.GetRoundAsync(round, ct) is null)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException(round);
            await Task.Delay(100, ct);
        }
    }
}
