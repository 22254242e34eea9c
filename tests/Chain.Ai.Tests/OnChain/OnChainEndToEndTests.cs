using System.Diagnostics;
using System.Globalization;
using Chain.Ai.Agent;
using Chain.Ai.Data;
using Chain.Ai.Defense;
using Chain.Ai.Detection;
using Chain.Ai.OnChain;
using Chain.Ai.Tests.Detection;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Imaging;
using Chain.Client.Queries;
using Xunit.Abstractions;
using DefenseAction = Chain.Ai.Defense.DefenseAction;

namespace Chain.Ai.Tests.OnChain;

/// <summary>
/// The defense agent on a real 4-node testnet (node processes on 127.0.0.1, <see cref="LocalTestnet"/>), with the real
/// components: a neural <see cref="Detector"/> is trained briefly on synthetic IoMT data (<see cref="SyntheticIomt"/>) and
/// saved; hospital-a attests it, hospital-b endorses it, and the check passes for the file and fails for a one-bit-flipped
/// copy; the weights are encrypted and their key split 3-of-4 among the hospitals' custody keys, released to hospital-b
/// after three approvals and decrypted to identical bytes. Hospital-b's <see cref="DefenseAgent"/> is then built from the
/// released file (checked on chain, then loaded from the checked bytes) with a <see cref="StaticBaseline"/> that hospital-a
/// fitted on the training part, wrapped so that a non-clinical device's first quarantine is a RotateKeys instead (the baseline alone
/// never rotates keys); it decides on 2,500 fresh synthetic events and logs every decision (LogAllowDecisions) while the
/// node its logger submits to is frozen (SIGSTOP) from the 250th event until all are on chain. Asserted: every record
/// is found on chain through another node, once each, with its evidence hash; RotateKeys decisions happened and each
/// queued one became a custody share refresh committed on chain (the record's epoch advanced by that many); decision
/// latency (score + state + decide + TryLog + hand-off) p99 under 20 ms (the budget is 35 ms; measured 4.6-10.4
/// ms on a shared machine), undisturbed decisions under 5 ms, and decisions do not wait on the ledger (see <see cref="DecisionPathTimer"/>).
/// </summary>
[Trait("Category", "Cluster")]
public sealed class OnChainEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private const int BasePort = 25800;
    private const int Seed = 8;
    private const int Events = 2500;
    private const string Model = "iomt-detector";
    private const string Agent = "hospital-b-agent";
    private static readonly string[] Hospitals = [.. Enumerable.Range(0, 4).Select(LocalTestnet.Hospital)];

    private readonly string _dir = Directory.CreateTempSubdirectory("chain-ai-onchain-").FullName;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Log(string line)
    {
        try
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:0.0}s] {line}");
        }
        catch (InvalidOperationException)
        {
            // the test has finished: nothing is listening
        }
    }

    [Fact]
    public async Task Train_attest_endorse_seal_release_then_the_agent_decides_logs_and_rotates_keys_on_a_real_testnet()
    {
        Log($"seed {Seed}; synthetic data seed 7 (training), {Seed + 1} (events)");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(200));
        var ct = cancel.Token;
        var dataPath = SyntheticIomt.WriteFile(_dir);
        var weights = Path.Combine(_dir, "model.bin");
        var (baseline, metrics) = TrainDetector(dataPath, weights);
        Log(string.Create(CultureInfo.InvariantCulture,
            $"trained a detector on synthetic IoMT data: test AUROC {metrics.Auroc:0.000}, F1 {metrics.F1:0.000}, weights {new FileInfo(weights).Length:N0} bytes"));
        Assert.True(metrics.Auroc > 0.95, $"the detector did not learn (test AUROC {metrics.Auroc})");

        await using var net = await LocalTestnet.StartAsync(BasePort, Log, ct);
        Log("testnet up");
        var apps = Enumerable.Range(0, 4).Select(i => net.Client($"{Hospitals[i]}-app", i)).ToArray();
        var chainId = (await apps[0].StatusAsync(ct)).ChainId;

        // 1. Attestation: hospital-a registers, the owner sets a policy of one endorsement, hospital-b endorses.
        var trainer = new ModelAttestor(apps[0], "hospital-a");
        var training = new TrainingSummary(DataFingerprint.Compute(dataPath, SyntheticIomt.Options), TrainingPrivacy.None,
            new Dictionary<string, double> { ["auroc"] = Math.Round(metrics.Auroc, 4), ["f1"] = Math.Round(metrics.F1, 4) }); // the contract keeps decimals
        var record = await trainer.AttestAsync(new ModelVersionClaim(Model, "1", null, training), weights, ct);
        Assert.Equal(("pending", "hospital-a", ModelAttestor.HashFile(weights)), (record.Status, record.Organisation, record.WeightsSha256));
        await trainer.SetPolicyAsync(Model, 1, ct);
        var early = await Assert.ThrowsAsync<ModelNotAttestedException>(() => trainer.EnsureUsableAsync(Model, "1", weights, ct));
        Assert.Equal(AttestationGap.NotEndorsed, early.Gap);
        var endorsed = await new ModelAttestor(apps[1], "hospital-b").EndorseAsync(Model, "1", ct);
        await LedgerSync.WaitForHeightAsync(apps[0], endorsed.Height, TimeSpan.FromSeconds(30), ct);
        var usable = await trainer.EnsureUsableAsync(Model, "1", weights, ct);
        Assert.Equal(new[] { "hospital-b" }, usable.Record.Endorsements);
        Assert.Equal(training.Metrics, TrainingSummary.FromContractMetadata(usable.Record.Metadata).Metrics);
        var flipped = Path.Combine(_dir, "model-flipped.bin");
        var bytes = await File.ReadAllBytesAsync(weights, ct);
        bytes[bytes.Length / 2] ^= 0x04;
        await File.WriteAllBytesAsync(flipped, bytes, ct);
        var mismatch = await Assert.ThrowsAsync<ModelNotAttestedException>(() => trainer.EnsureUsableAsync(Model, "1", flipped, ct));
        Assert.Equal(AttestationGap.WeightsMismatch, mismatch.Gap);
        Log($"attested, endorsed and checked: {usable.LogName}; the flipped copy is refused ({mismatch.Gap})");
        await LedgerSync.WaitForHeightAsync(apps[3], endorsed.Height, TimeSpan.FromSeconds(30), ct); // the CLI reads through node 3
        foreach (var (file, code, text) in new[] { (weights, 0, $"usable: {Model}:1"), (flipped, 1, "NOT usable (WeightsMismatch)") })
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var exit = await Cli.Program.RunAsync(["check-weights", "--testnet", net.Dir, "--client", "hospital-d-app", "--model", Model,
                "--version", "1", "--weights", file], stdout, stderr, ct);
            Assert.True(exit == code, $"chain-ai check-weights exit {exit}:\n{stdout}\n{stderr}");
            Assert.Contains(text, stdout.ToString(), StringComparison.Ordinal);
        }

        // 2. Custody: every hospital registers a custody key; hospital-a encrypts the weights and deals the key 3-of-4.
        var keys = Hospitals.Select(_ => CustodyKeyPair.Create()).ToArray();
        try
        {
            var vaults = Enumerable.Range(0, 4).Select(i => new WeightsVault(apps[i], chainId, Hospitals[i], keys[i])).ToArray();
            var registered = await Task.WhenAll(vaults.Select(v => v.RegisterKeyAsync(ct)));
            await LedgerSync.WaitForHeightAsync(apps[0], registered.Max(r => r.Height), TimeSpan.FromSeconds(30), ct);
            var encrypted = Path.Combine(_dir, "model.enc");
            var custodyId = $"{Model}-1-key";
            var sealedWeights = await vaults[0].SealAsync(weights, encrypted, custodyId, 3, Hospitals, ct);
            Assert.Equal(usable.WeightsSha256, sealedWeights.WeightsSha256);
            var checks = await Task.WhenAll(vaults.Select(async v =>
            {
                await LedgerSync.WaitForHeightAsync(ClientOf(apps, v), sealedWeights.DealHeight, TimeSpan.FromSeconds(30), ct);
                return await v.AcknowledgeAsync(custodyId, ct);
            }));
            Assert.All(checks, c => Assert.True(c.Valid));
            var requested = await vaults[1].RequestReleaseAsync(custodyId, "release-1", ct);
            var approvals = await Task.WhenAll(new[] { 2, 3, 0 }.Select(async i =>
            {
                await LedgerSync.WaitForHeightAsync(apps[i], requested.Height, TimeSpan.FromSeconds(30), ct);
                return await vaults[i].ApproveReleaseAsync(custodyId, "release-1", ct);
            }));
            await LedgerSync.WaitForHeightAsync(apps[1], approvals.Max(a => a.Height), TimeSpan.FromSeconds(30), ct);
            var opened = Path.Combine(_dir, "model-released.bin");
            var openedSha = await vaults[1].OpenAsync(custodyId, "release-1", encrypted, opened, cancellationToken: ct);
            Assert.Equal(await File.ReadAllBytesAsync(weights, ct), await File.ReadAllBytesAsync(opened, ct));
            Assert.Equal(usable.WeightsSha256, openedSha);
            var altered = await File.ReadAllBytesAsync(encrypted, ct);
            altered[^10] ^= 0x80;
            var alteredPath = Path.Combine(_dir, "model-altered.enc");
            await File.WriteAllBytesAsync(alteredPath, altered, ct);
            var tampered = await Assert.ThrowsAsync<ImageCipherException>(() =>
                vaults[1].OpenAsync(custodyId, "release-1", alteredPath, Path.Combine(_dir, "never.bin"), cancellationToken: ct));
            Assert.Equal(ImageError.Tampered, tampered.Error);
            Assert.False(File.Exists(Path.Combine(_dir, "never.bin")));
            Log($"weights sealed under custody {custodyId} (3 of 4), released to hospital-b after 3 approvals, decrypted identical");

            // 3. Hospital-b's agent loads the released file through the chain check, decides, logs and rotates.
            await ActAsync(net, opened, baseline, chainId, custodyId, ct);
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }

    private static ChainClient ClientOf(ChainClient[] apps, WeightsVault vault) => apps[Array.IndexOf(Hospitals, vault.Organisation)];

    private async Task ActAsync(LocalTestnet net, string weightsPath, StaticBaseline baseline, string chainId, string custodyId, CancellationToken ct)
    {
        // The logger submits through a backup node (freezing the primary would stall every node until a view change);
        // the key rotations go through another, never frozen.
        var status = await net.Client("regulator-1", 0).StatusAsync(ct);
        var node = new[] { 2, 3, 1, 0 }.First(n => n != (int)status.Primary);
        var fallback = (node + 1) % LocalTestnet.Nodes;
        var rotationNode = (node + 2) % LocalTestnet.Nodes;
        Log($"primary is node {status.Primary}; the agent's logger submits through node {node}, then node {fallback} after a failed attempt; " +
            $"refreshes go through node {rotationNode}");
        var rotationClient = net.Client("hospital-b-app", rotationNode);
        var custody = new CustodyQueries(rotationClient.State);
        var epochBefore = (await custody.GetRecordAsync(custodyId, ct))!.Epoch;

        var options = new ActionLoggerOptions
        {
            Agent = Agent,
            FlushInterval = TimeSpan.FromMilliseconds(200),
            InitialBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = TimeSpan.FromSeconds(1),
            MaxAttempts = 30,
        };
        var logger = new ActionLogger(new ChainDefenseLogSink([net.Client("hospital-b-app2", node), net.Client("hospital-b-app2", fallback)],
            TimeSpan.FromSeconds(4)), options);
        var ward = new DefenseOptions();
        var policy = new FirstQuarantineRotatesKeys(baseline);
        var rotation = new CustodyKeyRotation(rotationClient, chainId, custodyId);
        var agent = await DefenseAgent.LoadAsync(net.Client("hospital-b-app2", fallback).State, Model, "1", weightsPath, policy, logger, rotation,
            new DefenseAgentOptions { Ward = ward, LogAllowDecisions = true }, ct);
        Log(string.Create(CultureInfo.InvariantCulture, $"agent loaded {agent.Model.LogName} ({agent.Model.WeightsSha256[..12]}...); baseline threshold {baseline.Threshold:0.000}"));

        var events = SyntheticIomt.Load(Events, Seed + 1);
        var random = new Random(Seed);
        var decisions = new List<AgentDecision>(Events);
        var timer = new DecisionPathTimer();
        var since = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 120_000;
        ActionLoggerStats stats;
        DefenseAgentStats agentStats;
        var flushed = TimeSpan.Zero;
        try
        {
            // 50 rounds of 50 events, 40 ms apart; the logger's node is frozen from round 5 until everything is on chain
            // (through the fallback node, after an attempt on the frozen one times out). An attack burst comes from one
            // device (a campaign); benign events from any device.
            for (var round = 0; round < 50; round++)
            {
                if (round == 5) net.Freeze(node);
                for (var i = round * 50; i < (round + 1) * 50; i++)
                {
                    var device = events.Labels[i] == 1 ? (i / 100 * 5 + 4) % ward.Devices : random.Next(ward.Devices);
                    var row = events.Rows[i];
                    var decision = timer.Time(() => agent.Decide(device, row));
                    Assert.True(decision.Logged, $"the logger refused decision {i}: {logger.Stats}");
                    decisions.Add(decision);
                }
                await Task.Delay(40, ct);
            }
            var flushClock = Stopwatch.StartNew();
            try
            {
                stats = await logger.FlushAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
                agentStats = await agent.WaitForRotationsAsync(TimeSpan.FromSeconds(60), ct);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"the logger or the rotations did not drain within 60 s: {logger.Stats}; {agent.Stats}", e);
            }
            flushed = flushClock.Elapsed;
        }
        finally
        {
            net.Resume(node);
            await agent.DisposeAsync();
            await logger.DisposeAsync();
        }
        var latency = agent.Latency();
        var byAction = decisions.GroupBy(d => d.Action).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}");
        Log($"decided {Events:N0} events: {string.Join(", ", byAction)}; {agentStats}");
        Log($"decision latency (agent): {latency}; (timer) {timer}");
        Log(string.Create(CultureInfo.InvariantCulture, $"flush and rotations took {flushed.TotalSeconds:0.0} s; logger {stats}"));
        var attacks = Enumerable.Range(0, Events).Where(i => events.Labels[i] == 1).ToList();
        var acted = attacks.Count(i => decisions[i].Score >= baseline.Threshold);
        Log($"{attacks.Count} attack events, {acted} scored as alerts");
        Assert.True(acted >= attacks.Count * 0.8, $"the agent's detector flagged only {acted} of {attacks.Count} attack events");

        // p99 includes the calls the scheduler preempted on this shared 2-core machine (measured: p99 4.6 to 10.4 ms with
        // other test runs on the machine; undisturbed calls at most 0.7 ms).
        Assert.True(latency.P99Ms < 20, $"decision latency p99 {latency.P99Ms:0.###} ms: {latency}");
        Assert.True(timer.CleanMaxMs < 5, $"an undisturbed decision took {timer.CleanMaxMs:0.###} ms: {timer}");
        // A decision that waited on the ledger would switch voluntarily on every call while the node is frozen (2,250
        // calls); the runtime also suspends threads now and then (tiered JIT installing code, a GC another thread starts):
        // measured up to 6 such calls of 2,500, most around 0.1 ms.
        Assert.True(timer.Blocked <= timer.Calls / 100, $"decisions waited: {timer}");
        Assert.Equal(((long)Events, (long)Events, 0L, 0L, 0L), (stats.Logged, stats.Submitted, stats.Failed, stats.Dropped, stats.Rejected));
        Assert.True(stats.Retries >= 1, $"no attempt failed over from the frozen node: {stats}");
        var rotations = decisions.Count(d => d.Action == DefenseAction.RotateKeys);
        Assert.True(rotations >= 1, "no RotateKeys decision");
        Assert.Equal(rotations, agentStats.RotationsRequested);
        Assert.Equal((0L, agentStats.RotationsQueued), (agentStats.RotationsFailed, agentStats.RotationsDone));
        Assert.True(agentStats.RotationsDone >= 1, $"no refresh was done: {agentStats}");

        // Read back through another node, as the auditor: every decision once, and the custody record's epoch.
        var height = (await net.Client("regulator-1", fallback).StatusAsync(ct)).Height;
        var reader = net.Client("auditor-1", rotationNode);
        await LedgerSync.WaitForHeightAsync(reader, height, TimeSpan.FromSeconds(30), ct);
        var defense = new DefenseQueries(reader.State);
        var found = (await defense.QueryAsync(new DefenseQuery(Since: since, Limit: DefenseQueries.MaxLimit), ct))
            .Where(a => a.Entry.Agent == Agent).ToList();
        Assert.Equal(Events, found.Count);
        Assert.All(found, a => Assert.Equal(("hospital-b", $"{Model}:1"), (a.Organisation, a.Entry.ModelVersion)));
        var expected = decisions.Select(d => d.Record!.EvidenceSha256(Agent)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, found.Select(a => a.Entry.EvidenceSha256).Order(StringComparer.Ordinal).ToList());
        var high = await defense.CountAsync(new DefenseQuery(Since: since, Severity: "high"), ct);
        Assert.Equal(decisions.Count(d => d.Record!.Severity == "high"), high);
        Assert.Equal(rotations, found.Count(a => a.Entry.Action == "rotate-keys"));
        var epochAfter = (await new CustodyQueries(reader.State).GetRecordAsync(custodyId, ct))!.Epoch;
        Log($"all {Events:N0} found on chain through node {rotationNode} in {found.Select(a => a.Tx).Distinct().Count()} transactions; " +
            $"{rotations} rotate-keys decisions, {agentStats.RotationsDone} refreshes, {agentStats.RotationsCoalesced} coalesced; custody epoch {epochBefore} -> {epochAfter}");
        Assert.Equal(epochBefore + agentStats.RotationsDone, epochAfter);
        Assert.Equal(rotation.LastEpoch, epochAfter);
    }

    /// <summary>
    /// Forces key rotations into the run (the baseline never chooses RotateKeys): the first time the baseline would
    /// quarantine a device, this rotates its keys instead; afterwards the baseline decides.
    /// </summary>
    private sealed class FirstQuarantineRotatesKeys(StaticBaseline baseline) : IDefensePolicy
    {
        private readonly HashSet<int> _rotated = [];

        public DefenseAction Decide(ReadOnlySpan<float> state, in StepContext context)
        {
            var action = baseline.Decide(state, context);
            return action == DefenseAction.Quarantine && _rotated.Add(context.Device) ? DefenseAction.RotateKeys : action;
        }
    }

    private sealed record TestMetrics(double Auroc, double F1);

    /// <summary>
    /// Hospital-a's side: trains a small detector (seeded, a few epochs) on the training part of the split, saves it, and
    /// fits the static baseline's threshold on the training part with that detector; returns the baseline and test metrics.
    /// </summary>
    private static (StaticBaseline Baseline, TestMetrics Metrics) TrainDetector(string dataPath, string weightsPath)
    {
        var data = TabularDataset.Load(dataPath, SyntheticIomt.Options);
        var split = DetectionSplit.Choose(data, Seed).Split;
        var train = data.Subset(split.Train);
        var test = data.Subset(split.Test);
        using var detector = Detector.Train(train, data.Subset(split.Validation), new DetectorOptions
        {
            Hidden = [16, 8],
            Epochs = 10,
            BatchSize = 64,
            LearningRate = 3e-3,
            Seed = Seed,
            Patience = 0,
        });
        var scores = detector.AttackProbability(test.Rows);
        var report = Metrics.Binary(test.Labels, scores, detector.Threshold);
        detector.Save(weightsPath);
        return (StaticBaseline.Fit(train, new DetectorScorer(detector)), new TestMetrics(report.Auroc, report.F1));
    }
}
