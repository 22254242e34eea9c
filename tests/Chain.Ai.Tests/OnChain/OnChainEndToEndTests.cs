using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Chain.Ai.OnChain;
using Chain.Ai.Torch;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Imaging;
using Chain.Client.Queries;
using TorchSharp;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.OnChain;

/// <summary>
/// The defense agent on a real 4-node testnet (node processes on 127.0.0.1, <see cref="LocalTestnet"/>): a tiny
/// TorchSharp logistic model is trained on synthetic data and saved; hospital-a attests it, a second hospital endorses
/// it, and <see cref="ModelAttestor.EnsureUsableAsync(string, string, string, CancellationToken)"/> passes for the file
/// and fails for a one-bit-flipped copy; the weights are encrypted and their key split 3-of-4 among the hospitals'
/// custody keys, released to hospital-b after three approvals and decrypted to identical bytes, which load and predict
/// as the original; then hospital-c's agent scores 2,500 synthetic events with the model and logs an action for each
/// through <see cref="ActionLogger"/> while the node it submits to is frozen (SIGSTOP) from the 250th action until all are
/// on chain: TryLog stays under 5 ms (undisturbed calls; see <see cref="DecisionPathTimer"/>), the batch in flight fails
/// over to a second node after its attempt times out, and after FlushAsync all 2,500 actions are found on chain through
/// another node, once each, with their evidence hashes.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class OnChainEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private const int BasePort = 25800;
    private const int Seed = 8;
    private const int Features = 4;
    private const string Model = "iomt-logreg";
    private const string Agent = "hospital-c-agent";
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
    public async Task Attest_endorse_seal_release_then_act_and_log_2500_actions_on_a_real_testnet()
    {
        Log($"seed {Seed}");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(200));
        var ct = cancel.Token;
        var (weights, data, accuracy) = Train(Path.Combine(_dir, "model.bin"), Path.Combine(_dir, "train.csv"));
        Log($"trained a logistic model on synthetic data: accuracy {accuracy:0.000}, weights {new FileInfo(weights).Length} bytes");
        Assert.True(accuracy > 0.8, $"the stand-in model did not learn (accuracy {accuracy})");

        await using var net = await LocalTestnet.StartAsync(BasePort, Log, ct);
        Log("testnet up");
        var apps = Enumerable.Range(0, 4).Select(i => net.Client($"{Hospitals[i]}-app", i)).ToArray();
        var chainId = (await apps[0].StatusAsync(ct)).ChainId;

        // 1. Attestation: hospital-a registers, the owner sets a policy of one endorsement, hospital-b endorses.
        var trainer = new ModelAttestor(apps[0], "hospital-a");
        var training = new TrainingSummary(DataFingerprint.Compute(data, $"synthetic: {Features} features, label x0+x1>0, seed {Seed}"),
            TrainingPrivacy.None, new Dictionary<string, double> { ["accuracy"] = accuracy });
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
        foreach (var (file, code, text) in new[] { (weights, 0, "usable: iomt-logreg:1"), (flipped, 1, "NOT usable (WeightsMismatch)") })
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

            // 3. The agent at hospital-b checks the released file on chain before loading it, then hospital-c acts and logs.
            var (checkedBytes, agentModel) = await ModelAttestor.ReadUsableAsync(apps[1].State, Model, "1", opened, cancellationToken: ct);
            Assert.Equal(usable.WeightsSha256, agentModel.WeightsSha256);
            Assert.Equal(await File.ReadAllBytesAsync(weights, ct), checkedBytes);
            await ActAndLogAsync(net, opened, agentModel, ct);
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }

    private static ChainClient ClientOf(ChainClient[] apps, WeightsVault vault) => apps[Array.IndexOf(Hospitals, vault.Organisation)];

    private async Task ActAndLogAsync(LocalTestnet net, string weightsPath, UsableModel model, CancellationToken ct)
    {
        // Submit through a backup node (freezing the primary would stall every node until a view change).
        var status = await net.Client("regulator-1", 0).StatusAsync(ct);
        var node = new[] { 2, 3, 1, 0 }.First(n => n != (int)status.Primary);
        var fallback = (node + 1) % LocalTestnet.Nodes;
        var agentClient = net.Client("hospital-c-app2", node);
        Log($"primary is node {status.Primary}; hospital-c's agent submits through node {node}, then node {fallback} after a failed attempt");

        var events = Events(2500, new Random(Seed + 1));
        var scores = Score(weightsPath, events);
        var records = new List<DefenseActionRecord>(events.Length);
        var baseTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < events.Length; i++)
        {
            var (action, severity) = Decide(scores[i]);
            var eventHash = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshalBytes(events[i])));
            records.Add(new DefenseActionRecord($"iomt-dev-{i % 25:D2}", action, severity, baseTime + i, model.LogName, model.WeightsSha256,
                scores[i], $"logistic score {scores[i]:0.000}", eventHash));
        }

        var since = baseTime - 120_000;
        var options = new ActionLoggerOptions
        {
            Agent = Agent,
            FlushInterval = TimeSpan.FromMilliseconds(200),
            InitialBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = TimeSpan.FromSeconds(1),
            MaxAttempts = 30,
        };
        var logger = new ActionLogger(new ChainDefenseLogSink([agentClient, net.Client("hospital-c-app2", fallback)], TimeSpan.FromSeconds(4)), options);
        var timer = new DecisionPathTimer();
        ActionLoggerStats stats;
        var flushed = TimeSpan.Zero;
        try
        {
            // 50 rounds of 50 decisions, 40 ms apart; the agent's node is frozen from round 5 until everything is on chain
            // (through the fallback node, after an attempt on the frozen one times out).
            for (var round = 0; round < 50; round++)
            {
                if (round == 5) net.Freeze(node);
                for (var i = round * 50; i < (round + 1) * 50; i++)
                {
                    var record = records[i];
                    Assert.True(timer.Time(() => logger.TryLog(record)), $"TryLog refused action {i}: {logger.Stats}");
                }
                await Task.Delay(40, ct);
            }
            var flushClock = Stopwatch.StartNew();
            try
            {
                stats = await logger.FlushAsync(ct).WaitAsync(TimeSpan.FromSeconds(60), ct);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"the logger did not drain within 60 s: {logger.Stats}");
            }
            flushed = flushClock.Elapsed;
            await logger.DisposeAsync();
        }
        finally
        {
            net.Resume(node);
        }
        Log(string.Create(CultureInfo.InvariantCulture,
            $"logged 2,500 actions; TryLog {timer}; flush took {flushed.TotalSeconds:0.0} s; {stats}"));
        // A call that waited would switch voluntarily; a few are the runtime's (the first calls, an allocation slow path, a
        // page fault) on a loaded machine, a logger that waits would do it on every call that finds the queue busy or full.
        Assert.True(timer.Blocked <= Math.Max(3, timer.Calls / 500), $"TryLog waited: {timer}");
        Assert.True(timer.CleanMaxMs < 5, $"an undisturbed TryLog took {timer.CleanMaxMs:0.###} ms while the node was frozen: {timer}");
        Assert.True(timer.Percentile(99) < 1, $"TryLog p99 {timer.Percentile(99):0.###} ms: {timer}");
        Assert.Equal((2500L, 2500L, 0L, 0L, 0L), (stats.Logged, stats.Submitted, stats.Failed, stats.Dropped, stats.Rejected));
        Assert.InRange(stats.Batches, 3, 2500);
        Assert.True(stats.Retries >= 1, $"no attempt failed over from the frozen node: {stats}");

        // Read back through another node, as the auditor.
        var height = (await net.Client("regulator-1", fallback).StatusAsync(ct)).Height;
        var reader = net.Client("auditor-1", (node + 1) % LocalTestnet.Nodes);
        await LedgerSync.WaitForHeightAsync(reader, height, TimeSpan.FromSeconds(30), ct);
        var defense = new DefenseQueries(reader.State);
        var found = (await defense.QueryAsync(new DefenseQuery(Since: since, Limit: DefenseQueries.MaxLimit), ct))
            .Where(a => a.Entry.Agent == Agent).ToList();
        Assert.Equal(2500, found.Count);
        Assert.All(found, a => Assert.Equal(("hospital-c", model.LogName), (a.Organisation, a.Entry.ModelVersion)));
        var expected = records.Select(r => r.EvidenceSha256(Agent)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, found.Select(a => a.Entry.EvidenceSha256).Order(StringComparer.Ordinal).ToList());
        var device = await defense.CountAsync(new DefenseQuery(Since: since, Device: "iomt-dev-07"), ct);
        Assert.Equal(records.Count(r => r.Device == "iomt-dev-07"), device);
        var critical = await defense.CountAsync(new DefenseQuery(Since: since, Severity: "critical"), ct);
        Assert.Equal(records.Count(r => r.Severity == "critical"), critical);
        Log($"all 2,500 found on chain through node {(node + 1) % LocalTestnet.Nodes} in {found.Select(a => a.Tx).Distinct().Count()} transactions; " +
            $"{critical} critical, {device} on iomt-dev-07");
    }

    /// <summary>The stand-in decision (the RL responder replaces it): isolate on a high score, alert on a middling one, else monitor.</summary>
    private static (string Action, string Severity) Decide(double score) => score switch
    {
        >= 0.95 => ("isolate", "critical"),
        >= 0.8 => ("isolate", "high"),
        >= 0.5 => ("alert", "medium"),
        >= 0.2 => ("monitor", "low"),
        _ => ("monitor", "info"),
    };

    private static byte[] MemoryMarshalBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>Synthetic events: <see cref="Features"/> standard-normal features; an attack when x0 + x1 &gt; 0.</summary>
    private static float[][] Events(int count, Random random) =>
        [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, Features).Select(_ => (float)Normal(random)).ToArray())];

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>Trains torch.nn.Linear(4, 1) with a logistic loss for 60 SGD steps on 512 synthetic events; saves it with Module.save.</summary>
    private static (string Weights, string Data, double Accuracy) Train(string weightsPath, string dataPath)
    {
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(Seed);
        var events = Events(512, new Random(Seed));
        var labels = events.Select(e => e[0] + e[1] > 0 ? 1f : 0f).ToArray();
        var csv = new StringBuilder("x0,x1,x2,x3,Label\n");
        for (var i = 0; i < events.Length; i++)
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{events[i][0]},{events[i][1]},{events[i][2]},{events[i][3]},{labels[i]}"));
        File.WriteAllText(dataPath, csv.ToString());

        using var model = torch.nn.Linear(Features, 1);
        using var x = torch.tensor(events.SelectMany(e => e).ToArray()).reshape(events.Length, Features);
        using var y = torch.tensor(labels).reshape(events.Length, 1);
        var optimizer = torch.optim.SGD(model.parameters(), 0.5);
        for (var step = 0; step < 60; step++)
        {
            optimizer.zero_grad();
            using var logits = model.forward(x);
            using var loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y);
            loss.backward();
            optimizer.step();
        }
        double accuracy;
        using (torch.no_grad())
        {
            using var logits = model.forward(x);
            var predicted = logits.data<float>().ToArray();
            accuracy = predicted.Select((p, i) => (p > 0 ? 1f : 0f) == labels[i] ? 1.0 : 0.0).Average();
        }
        model.save(weightsPath);
        return (weightsPath, dataPath, accuracy);
    }

    /// <summary>Loads the checked weights into a fresh Linear(4, 1) and scores every event (sigmoid of the logit).</summary>
    private static double[] Score(string weightsPath, float[][] events)
    {
        TorchRuntime.EnsureLoaded();
        using var model = torch.nn.Linear(Features, 1);
        model.load(weightsPath);
        using var _ = torch.no_grad();
        using var x = torch.tensor(events.SelectMany(e => e).ToArray()).reshape(events.Length, Features);
        using var logits = model.forward(x);
        using var p = torch.sigmoid(logits);
        return [.. p.data<float>().ToArray().Select(v => (double)v)];
    }
}
