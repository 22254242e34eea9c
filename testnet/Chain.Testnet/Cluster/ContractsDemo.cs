using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Queries;
using Chain.Chaincode.Contracts;
using Chain.Ledger.Identity;

namespace Chain.Testnet.Cluster;

/// <summary>One check the contracts demo made, and whether it held.</summary>
internal sealed record DemoCheck(string What, bool Ok);

/// <summary>
/// <c>testnet contracts</c> (also part of <c>testnet start</c>): the system contracts used the way hospitals, a regulator
/// and an auditor use them, each member through its own hospital's node over mutual TLS:
/// hospital-a attests a model version (the SHA-256 of its weights file), two other hospitals endorse it and the weights
/// file is verified against the ledger; the four hospitals register custody keys, hospital-a splits the model's
/// encryption key 3-of-4 among them (Feldman VSS, shares encrypted to each custodian's X25519 key), every custodian checks
/// its share against the public commitments and acknowledges it; hospital-b asks for the key, three custodians approve by
/// re-encrypting their shares to it, and hospital-b rebuilds the key; hospital-c's defense agent logs a batch of
/// actions, queried back by device and severity; the regulator sets a privacy budget and a federated round runs under it;
/// everything is read back through another node, and an auditor's attempt to write is refused.
/// Re-runnable: each run registers the next version of the model and uses fresh ids.
/// </summary>
internal static class ContractsDemo
{
    public const string Model = "iomt-ids";
    public const string Dataset = "wustl-ehms";
    private static readonly string[] Devices = ["infusion-pump-0042", "ventilator-07", "ecg-monitor-3"];
    private static readonly string[] Severities = ["low", "medium", "high", "critical"];

    /// <summary>Runs the scenario; <paramref name="submitting"/> is told of every transaction before it is submitted (the cluster tests keep a record).</summary>
    public static async Task<IReadOnlyList<DemoCheck>> RunAsync(TestnetLayout layout, TextWriter output, CancellationToken cancellation,
        Action<Chain.Ledger.Model.Transaction>? submitting = null)
    {
        var manifest = Manifest.Load(layout);
        var checks = new List<DemoCheck>();
        void Check(bool ok, string what)
        {
            output.WriteLine($"   {(ok ? "ok  " : "FAIL")} {what}");
            checks.Add(new DemoCheck(what, ok));
        }

        var hospitals = manifest.Nodes.Select(n => n.Organisation).Distinct().ToList();
        if (hospitals.Count < 4)
        {
            output.WriteLine($"== contracts demo skipped: it needs 4 hospitals (this testnet has {hospitals.Count})");
            return checks;
        }
        hospitals = hospitals.Take(4).ToList();
        var cas = manifest.TrustedCas(layout).ToList();
        string NodeOf(string organisation) => manifest.Nodes.First(n => n.Organisation == organisation).Listen;
        ChainClient Connect(string client, string address)
        {
            var connected = ChainClient.Open(layout.ClientDir(client), address, cas);
            if (submitting is not null) connected.Submitting += submitting;
            return connected;
        }

        var apps = hospitals.ToDictionary(h => h, h => Connect($"{h}-app", NodeOf(h)));
        var reader = Connect(manifest.Clients.First(c => c.Role == Role.Auditor).Name, manifest.Nodes[^1].Listen);
        var regulator = Connect(manifest.Clients.First(c => c.Role == Role.Regulator).Name, manifest.Nodes[0].Listen);
        var custodyKeys = new Dictionary<string, CustodyKeyPair>();
        try
        {
            var chainId = (await reader.StatusAsync(cancellation).ConfigureAwait(false)).ChainId;
            var (a, b, c, d) = (hospitals[0], hospitals[1], hospitals[2], hospitals[3]);

            // Every write waits for its block; a read from another node first waits for that node to hold the block.
            async Task<SubmitResult> Submit(ChainClient client, string what, string contract, string function, IReadOnlyList<string> args)
            {
                var result = (await client.SubmitAsync(contract, function, args, wait: true, TimeSpan.FromSeconds(30), cancellation)
                    .ConfigureAwait(false)).EnsureSucceeded(what);
                return result;
            }
            async Task Synced(ChainClient client, ulong height)
            {
                for (var i = 0; i < 200 && (await client.StatusAsync(cancellation).ConfigureAwait(false)).Height < height; i++)
                    await Task.Delay(50, cancellation).ConfigureAwait(false);
            }

            // 1. Model attestation.
            var models = new ModelQueries(reader.State);
            var existing = await new ModelQueries(apps[a].State).GetModelAsync(Model, cancellation).ConfigureAwait(false);
            var previous = existing?.Versions.Where(v => int.TryParse(v.Version, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                .MaxBy(v => int.Parse(v.Version, CultureInfo.InvariantCulture));
            var version = previous is null ? "1" : (int.Parse(previous.Version, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture);
            var weightsFile = Path.Combine(layout.Root, "run", "demo", $"{Model}-{version}.weights");
            Directory.CreateDirectory(Path.GetDirectoryName(weightsFile)!);
            await File.WriteAllBytesAsync(weightsFile, DemoWeights(version), cancellation).ConfigureAwait(false);
            var weightsSha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(weightsFile, cancellation).ConfigureAwait(false)));
            var metadata = JsonSerializer.Serialize(new TrainingMetadata("sha256:" + weightsSha[..16],
                new Dictionary<string, decimal> { ["auc"] = 0.97m, ["f1"] = 0.91m }, 1.5m));

            output.WriteLine();
            output.WriteLine($"== model attestation: {a} registers {Model} version {version} (weights SHA-256 {weightsSha[..16]}…)");
            var registered = await Submit(apps[a], "register", ModelAttestationContract.ContractId, "register",
                [Model, version, weightsSha, previous?.Version ?? "", metadata]).ConfigureAwait(false);
            output.WriteLine($"   committed in block {registered.Height} through node of {a}");
            foreach (var endorser in new[] { b, c })
            {
                var e = await Submit(apps[endorser], $"endorse by {endorser}", ModelAttestationContract.ContractId, "endorse", [Model, version])
                    .ConfigureAwait(false);
                output.WriteLine($"   {endorser} endorses it (block {e.Height}, through its own node)");
                await Synced(reader, e.Height).ConfigureAwait(false);
            }
            var verdict = await models.VerifyWeightsAsync(Model, version, weightsFile, cancellation).ConfigureAwait(false);
            Check(verdict.Verdict == WeightsVerdict.Approved, $"weights file verified against the ledger: {verdict.Message}");
            var lineage = await models.LineageAsync(Model, version, cancellation).ConfigureAwait(false);
            Check(lineage[^1].Version == version && lineage.Count == int.Parse(version, CultureInfo.InvariantCulture),
                $"lineage of {Model} {version}: {string.Join(" → ", lineage.Select(v => v.Version))}");
            var tampered = Path.Combine(Path.GetDirectoryName(weightsFile)!, $"{Model}-{version}.tampered");
            var bytes = DemoWeights(version);
            bytes[^1] ^= 1;
            await File.WriteAllBytesAsync(tampered, bytes, cancellation).ConfigureAwait(false);
            var bad = await models.VerifyWeightsAsync(Model, version, tampered, cancellation).ConfigureAwait(false);
            Check(bad.Verdict == WeightsVerdict.NoMatch, $"a weights file with one bit flipped does not match: {bad.Message}");

            // 2. Share custody of the model's encryption key.
            output.WriteLine();
            var secretId = $"{Model}-{version}-key";
            output.WriteLine($"== share custody: {a} splits the key of {Model} {version} 3-of-4 among {string.Join(", ", hospitals)}");
            ulong last = 0;
            foreach (var h in hospitals)
            {
                var path = Path.Combine(layout.ClientDir($"{h}-app"), "custody.key");
                if (!File.Exists(path))
                {
                    using var created = CustodyKeyPair.Create();
                    created.Save(path);
                }
                custodyKeys[h] = CustodyKeyPair.Load(path);
                var call = CustodyCall.RegisterKey(custodyKeys[h]);
                last = Math.Max(last, (await Submit(apps[h], $"register-key by {h}", ShareCustodyContract.ContractId, call.Function, call.Args)
                    .ConfigureAwait(false)).Height);
            }
            await Synced(apps[a], last).ConfigureAwait(false);
            var custodyA = new CustodyQueries(apps[a].State);
            var keys = new List<CustodianKey>();
            foreach (var h in hospitals)
                keys.Add(new CustodianKey(h, await custodyA.GetCustodyKeyAsync(h, cancellation).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"{h}'s custody key is not on the ledger")));
            output.WriteLine($"   custody keys (X25519) registered by {string.Join(", ", hospitals)}");
            var secret = Dealer.NewSecret();
            var fingerprint = Convert.ToHexStringLower(SHA256.HashData(secret))[..16];
            var deal = Dealer.PrepareDeal(chainId, secretId, secret, 3, keys);
            var dealt = await Submit(apps[a], "deal", ShareCustodyContract.ContractId, deal.Function, deal.Args).ConfigureAwait(false);
            output.WriteLine($"   dealt in block {dealt.Height}: 3 commitments and 4 encrypted shares on chain; the key itself " +
                $"(SHA-256 {fingerprint}…) never leaves {a}");
            foreach (var h in hospitals)
            {
                await Synced(apps[h], dealt.Height).ConfigureAwait(false);
                var check = await new Custodian(chainId, h, custodyKeys[h]).OpenCurrentAsync(apps[h].State, secretId, cancellation).ConfigureAwait(false);
                Check(check.Valid, $"{h} decrypts its share and checks it against the public commitments");
                var acked = await Submit(apps[h], $"{check.Call.Function} by {h}", ShareCustodyContract.ContractId, check.Call.Function, check.Call.Args)
                    .ConfigureAwait(false);
                last = acked.Height;
            }
            await Synced(reader, last).ConfigureAwait(false);
            var view = await new CustodyQueries(reader.State).ShowAsync(secretId, cancellation).ConfigureAwait(false);
            Check(view is { Status: "active", Acks.Count: 4 }, $"custody {secretId} is {view?.Status} with {view?.Acks.Count} acknowledgements");

            const string requestId = "release-1";
            output.WriteLine($"   {b} requests the key ({requestId}); {c}, {d} and {a} approve by re-encrypting their shares to {b}");
            var request = CustodyCall.Request(secretId, requestId, custodyKeys[b].PublicKeyHex);
            var requested = await Submit(apps[b], "request", ShareCustodyContract.ContractId, request.Function, request.Args).ConfigureAwait(false);
            foreach (var h in new[] { c, d, a })
            {
                await Synced(apps[h], requested.Height).ConfigureAwait(false);
                var approve = await new Custodian(chainId, h, custodyKeys[h]).ApproveAsync(apps[h].State, secretId, requestId, cancellation)
                    .ConfigureAwait(false);
                last = (await Submit(apps[h], $"approve by {h}", ShareCustodyContract.ContractId, approve.Function, approve.Args)
                    .ConfigureAwait(false)).Height;
            }
            await Synced(apps[b], last).ConfigureAwait(false);
            var record = await new CustodyQueries(apps[b].State).GetRecordAsync(secretId, cancellation).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"custody {secretId} is not on the ledger");
            var recovered = new Requester(chainId, b, custodyKeys[b]).Combine(record, requestId);
            Check(record.Releases[requestId].Status == "released" && recovered.AsSpan().SequenceEqual(secret),
                $"{b} combines 3 shares and recovers the key (SHA-256 {Convert.ToHexStringLower(SHA256.HashData(recovered))[..16]}…)");

            // 3. Defense-action log.
            output.WriteLine();
            var since = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
            var batch = Enumerable.Range(0, 60).Select(i => new DefenseAction($"{c}-agent", $"{Model}:{version}", Severities[i % Severities.Length],
                Devices[i % Devices.Length], i % 5 == 0 ? "isolate" : "alert",
                Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i))))).ToList();
            var logged = await Submit(apps[c], "defense log", DefenseLogContract.ContractId, "record", [JsonSerializer.Serialize(batch)])
                .ConfigureAwait(false);
            output.WriteLine($"== defense log: {c}'s agent records {batch.Count} detections and actions in one transaction (block {logged.Height})");
            await Synced(reader, logged.Height).ConfigureAwait(false);
            var defense = new DefenseQueries(reader.State);
            var tx = logged.TxId.ToString();
            var byDevice = (await defense.QueryAsync(new DefenseQuery(Since: since, Device: Devices[0], Limit: 10_000), cancellation).ConfigureAwait(false))
                .Count(x => x.Tx == tx);
            Check(byDevice == batch.Count(x => x.Device == Devices[0]), $"{byDevice} actions on device {Devices[0]}");
            var critical = (await defense.QueryAsync(new DefenseQuery(Since: since, Severity: "critical", Limit: 10_000), cancellation).ConfigureAwait(false))
                .Count(x => x.Tx == tx);
            Check(critical == batch.Count(x => x.Severity == "critical"), $"{critical} critical actions");

            // 4. Federated round under a privacy budget.
            output.WriteLine();
            var rounds = new RoundQueries(apps[a].State);
            var spent = (await rounds.ListBudgetsAsync(cancellation).ConfigureAwait(false)).FirstOrDefault(x => x.Dataset == Dataset)?.Spent ?? 0m;
            var budget = spent + 4m;
            var set = await Submit(regulator, "budget", FederatedRoundContract.ContractId, "budget",
                [Dataset, budget.ToString(CultureInfo.InvariantCulture)]).ConfigureAwait(false);
            output.WriteLine($"== federated learning: the regulator sets the privacy budget of {Dataset} to ε = {budget} (block {set.Height})");
            await Synced(apps[a], set.Height).ConfigureAwait(false);
            var roundId = $"round-{version}";
            await Submit(apps[a], "open round", FederatedRoundContract.ContractId, "open", [roundId, Dataset, "fedavg", string.Join(",", a, b, c)])
                .ConfigureAwait(false);
            foreach (var h in new[] { a, b, c })
                last = (await Submit(apps[h], $"update from {h}", FederatedRoundContract.ContractId, "submit",
                    [roundId, Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{roundId}/{h}"))), "1.0"]).ConfigureAwait(false)).Height;
            var outsider = await apps[d].SubmitAsync(FederatedRoundContract.ContractId, "submit", [roundId, new string('0', 64), "1.0"],
                cancellationToken: cancellation).ConfigureAwait(false);
            Check(outsider is { Committed: true, Succeeded: false }, $"{d} is not a participant: refused ({outsider.Error})");
            var closed = await Submit(apps[a], "close round", FederatedRoundContract.ContractId, "close", [roundId, weightsSha]).ConfigureAwait(false);
            await Synced(reader, closed.Height).ConfigureAwait(false);
            var readRounds = new RoundQueries(reader.State);
            var round = await readRounds.GetRoundAsync(roundId, cancellation).ConfigureAwait(false);
            Check(round is { Status: "closed", Updates.Count: 3 } && round.AggregateSha256 == weightsSha,
                $"{roundId}: {round?.Updates.Count} updates, aggregate {round?.AggregateSha256?[..16]}…, {round?.Status}");
            var after = (await readRounds.ListBudgetsAsync(cancellation).ConfigureAwait(false)).First(x => x.Dataset == Dataset);
            Check(after.Spent == spent + 3m, $"{Dataset}: ε spent {after.Spent} of {after.Budget}");

            // 5. Read back from another hospital's node, and the auditor is read-only.
            output.WriteLine();
            output.WriteLine($"== read back through node {manifest.Nodes[^1].Id} (auditor's certificate)");
            var status = await models.StatusAsync(Model, version, cancellation).ConfigureAwait(false);
            Check(status == "approved", $"{Model} {version} is {status}");
            var auditor = reader;
            var refused = await auditor.SubmitAsync(ModelAttestationContract.ContractId, "register",
                [Model, version + "-audit", weightsSha, version, metadata], cancellationToken: cancellation).ConfigureAwait(false);
            Check(refused.Status == Api.V1.TxStatus.Rejected && refused.Error?.StartsWith("PermissionDenied", StringComparison.Ordinal) == true,
                $"the auditor's write is refused at admission: {refused.Error}");
        }
        finally
        {
            foreach (var k in custodyKeys.Values) k.Dispose();
            foreach (var app in apps.Values) app.Dispose();
            reader.Dispose();
            regulator.Dispose();
        }
        var failed = checks.Count(x => !x.Ok);
        output.WriteLine(failed == 0 ? $"contracts demo: all {checks.Count} checks hold" : $"contracts demo: {failed} of {checks.Count} checks FAILED");
        return checks;
    }

    /// <summary>A stand-in for a trained model's weights file: 64 KiB that depend on the version.</summary>
    private static byte[] DemoWeights(string version)
    {
        var bytes = new byte[64 * 1024];
        var seed = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{Model}/{version}"));
        for (var i = 0; i < bytes.Length; i += 32) SHA256.HashData([.. seed, .. BitConverter.GetBytes(i)]).AsSpan(0, Math.Min(32, bytes.Length - i)).CopyTo(bytes.AsSpan(i));
        return bytes;
    }
}
