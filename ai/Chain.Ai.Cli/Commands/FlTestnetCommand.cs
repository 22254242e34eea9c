using System.CommandLine;
using System.Globalization;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Chain.Ai.Federated;
using Chain.Ai.Federated.Ledger;
using Chain.Ai.OnChain;
using Grpc.Core;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai fl testnet --testnet DIR</c>: federated learning on a running local testnet, one client per hospital node,
/// every round opened, fed and closed through the <c>fl</c> registry with the updates as blobs on the hospitals' own
/// nodes (see <see cref="TestnetFederation"/>). Exit codes: 0 done, 1 a round failed on the ledger, 2 bad arguments or data.
/// </summary>
public static class FlTestnetCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("testnet", "Runs federated rounds on a running local testnet: one client per hospital node, coordinated by the "
                                              + "first hospital through the fl registry, updates stored as blobs on the nodes, epsilon recorded per round.");
        DataArguments.AddTo(command);
        var testnet = new Option<string>("--testnet") { Description = "The testnet folder (testnet init/up).", Required = true };
        var rounds = new Option<int>("--rounds") { Description = "Federated rounds.", DefaultValueFactory = _ => 5 };
        var rule = new Option<string>("--rule") { Description = "fedavg, fedprox, median, trimmed-mean, krum or multi-krum.", DefaultValueFactory = _ => "fedavg" };
        var dataset = new Option<string>("--dataset") { Description = "The dataset name in the registry (its privacy budget).", DefaultValueFactory = _ => "wustl-ehms-2020" };
        var run = new Option<string?>("--run") { Description = "Round name prefix (default fl-<UTC time>)." };
        var budget = new Option<string?>("--budget") { Description = "As the regulator, first set the dataset's consortium epsilon budget to this." };
        var clip = new Option<double?>("--dp-clip") { Description = "Client-level DP: each hospital clips its update to this L2 norm and adds Gaussian noise sigma*C." };
        var noise = new Option<double>("--dp-noise") { Description = "Noise multiplier sigma (with --dp-clip).", DefaultValueFactory = _ => 1.0 };
        var delta = new Option<double>("--dp-delta") { Description = "Delta of the recorded (epsilon, delta).", DefaultValueFactory = _ => 1e-5 };
        var epochs = new Option<int>("--local-epochs") { Description = "Local epochs per round.", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--learning-rate") { Description = "Local SGD learning rate.", DefaultValueFactory = _ => 0.05 };
        var partition = new Option<string>("--partition") { Description = "iid, time or dirichlet.", DefaultValueFactory = _ => "dirichlet" };
        var alpha = new Option<double>("--alpha") { Description = "Dirichlet concentration.", DefaultValueFactory = _ => 1.0 };
        var attest = new Option<string?>("--attest") { Description = "Attest the final model under this model name (version = the run)." };
        var sealKey = new Option<string?>("--seal-key") { Description = "Seal every update to the coordinator with this custody key file (created, and registered on chain, if missing)." };
        var timeout = new Option<int>("--round-timeout") { Description = "Seconds to wait for each round's updates.", DefaultValueFactory = _ => 120 };
        foreach (var o in new Option[] { testnet, rounds, rule, dataset, run, budget, clip, noise, delta, epochs, lr, partition, alpha, attest, sealKey, timeout })
            command.Add(o);
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var manifest = TestnetManifest.Load(result.GetValue(testnet)!);
                var (path, options) = DataArguments.Resolve(result);
                var (_, data) = DataArguments.Load(result);
                var seed = DataArguments.Seed(result);
                var hospitals = manifest.Organisations.Count(o => o.Role == "hospital" && manifest.NodeOf(o.Id) is not null);
                var scheme = FlSimulateCommand.ParseScheme(result.GetValue(partition));
                var chosen = DetectionSplit.Choose(data, seed);
                var prepared = FederatedData.Prepare(data, chosen.Split, new PartitionOptions(hospitals, scheme, result.GetValue(alpha), seed),
                    DataArguments.Features(result));
                var budgetValue = result.GetValue(budget) is { } b
                    ? decimal.TryParse(b, NumberStyles.Float, Inv, out var d) && d > 0 ? d : throw new ArgumentException($"--budget '{b}' is not a positive number")
                    : (decimal?)null;
                Chain.Client.Custody.CustodyKeyPair? key = null;
                if (result.GetValue(sealKey) is { } keyPath)
                {
                    if (File.Exists(keyPath))
                    {
                        key = Chain.Client.Custody.CustodyKeyPair.Load(keyPath);
                    }
                    else
                    {
                        key = Chain.Client.Custody.CustodyKeyPair.Create();
                        key.Save(keyPath);
                        stdout.WriteLine($"created the coordinator's custody key {keyPath} (readable by you only)");
                    }
                }
                using var keyScope = key;
                var o = new TestnetFederationOptions(
                    result.GetValue(run) ?? "fl-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", Inv), result.GetValue(dataset)!, result.GetValue(rule)!,
                    result.GetValue(rounds), new LocalTrainingOptions(result.GetValue(epochs), 64, result.GetValue(lr), Seed: seed),
                    result.GetValue(clip) is { } c ? new ClientLevelDp(c, result.GetValue(noise)) : null, result.GetValue(delta), budgetValue,
                    result.GetValue(attest), seed, CoordinatorKey: key);
                _ = o.CreateRule(hospitals); // refuses an unknown rule before connecting
                stdout.WriteLine(string.Create(Inv,
                    $"testnet {manifest.Dir}: {hospitals} hospitals; data {path}, {data.Count} rows, {prepared.Inputs} features; split {chosen.Description}; "
                    + $"rows/attacks per hospital: {string.Join(" ", prepared.Clients.Select(x => $"{x.Count}/{x.Attacks}"))}; rule {o.Rule}; "
                    + $"DP {(o.Dp is { } dp ? $"clip {dp.ClipNorm} sigma {dp.NoiseMultiplier}, each hospital records {TestnetFederation.RoundEpsilon(dp, 1, o.DpDelta)} for round 1" : "off (epsilon 0 recorded)")}"));
                var fingerprint = DataFingerprint.Compute(path, options);
                var outcome = await TestnetFederation.RunAsync(manifest, prepared, o, fingerprint,
                    stdout.WriteLine, TimeSpan.FromSeconds(Math.Max(1, result.GetValue(timeout))), ct).ConfigureAwait(false);
                var last = outcome.Rounds[^1];
                stdout.WriteLine(string.Create(Inv,
                    $"final model {outcome.FinalSha256} ({outcome.FinalModel.Length:N0} bytes): test accuracy {last.Test.Accuracy:0.000}, F1 {last.Test.F1:0.000}, "
                    + $"AUROC {last.Test.Auroc:0.000}; bytes per round uploaded by each hospital {outcome.Rounds.SelectMany(r => r.Participations).DefaultIfEmpty().Average(p => p?.UploadBytes ?? 0):N0}"));
                return Program.Ok;
            }
            catch (FederatedRoundException e)
            {
                await stderr.WriteLineAsync($"round failed: {e.Message}").ConfigureAwait(false);
                return Program.CheckFailed;
            }
            catch (RpcException e)
            {
                await stderr.WriteLineAsync($"the testnet did not answer: {e.Status.StatusCode}: {e.Status.Detail} (is it up? testnet up --dir ...)").ConfigureAwait(false);
                return Program.CheckFailed;
            }
            catch (Exception e) when (e is DatasetException or FederatedException or FederatedPayloadException or AggregationException or ArgumentException
                                          or InvalidDataException or IOException or UnauthorizedAccessException or Chain.Api.Tls.TlsConfigurationException
                                          or Chain.Client.Custody.CustodyException)
            {
                await stderr.WriteLineAsync($"error: {e.Message.Split('\n')[0]}").ConfigureAwait(false);
                return Program.Error;
            }
        });
        return command;
    }
}
