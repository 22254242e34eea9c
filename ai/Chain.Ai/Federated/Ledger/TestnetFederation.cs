using System.Globalization;
using Chain.Ai.Detection;
using Chain.Ai.OnChain;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Queries;
using Chain.Chaincode.Contracts;

namespace Chain.Ai.Federated.Ledger;

/// <summary>A hospital's learner on the testnet: the federated MLP trained locally on its own (already scaled) rows; with
/// <see cref="ClientLevelDp"/>, the update is clipped to C and Gaussian noise of std sigma·C is added before it leaves.</summary>
public sealed class MlpLearner : ILocalLearner, IDisposable
{
    private readonly FederatedMlp _model;
    private readonly ClientData _data;
    private readonly LocalTrainingOptions _options;
    private readonly ClientLevelDp? _dp;
    private readonly Random _noise;

    public MlpLearner(ClientData data, int inputs, LocalTrainingOptions options, ClientLevelDp? dp, int seed, IReadOnlyList<int>? hidden = null)
    {
        _data = data ?? throw new ArgumentNullException(nameof(data));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _dp = dp;
        _noise = new Random(seed);
        _model = FederatedMlp.Create(inputs, seed, hidden);
    }

    public int ParameterCount => _model.ParameterCount;

    public (float[] Delta, int Examples) Train(float[] global, string round)
    {
        var delta = LocalTrainer.Train(_model, global, _data, _options);
        return (_dp is { } dp ? dp.Privatise(delta, _noise) : delta, _data.Count);
    }

    public void Dispose() => _model.Dispose();
}

/// <summary>
/// What to run on a testnet: <c>Run</c> prefixes the round names (round k is "&lt;run&gt;-r&lt;k&gt;"); <c>Dataset</c> and
/// <c>Rule</c> go to the registry; <c>Dp</c> (clip and local noise per hospital) with <c>DpDelta</c>; when <c>Budget</c>
/// is set, the regulator sets the dataset's consortium privacy budget to it first; <c>AttestModel</c> names the model
/// under which the coordinator attests the final model (version = run), or null; <c>TrimBeta</c> and
/// <c>AssumedMalicious</c> configure trimmed mean and (Multi-)Krum; with <c>CoordinatorKey</c> (the coordinator's custody
/// key pair), every update is sealed to it: its public half is registered on chain if the coordinator has none, and a
/// different registered key is refused.
/// </summary>
public sealed record TestnetFederationOptions(
    string Run, string Dataset, string Rule, int Rounds, LocalTrainingOptions Local, ClientLevelDp? Dp = null, double DpDelta = 1e-5,
    decimal? Budget = null, string? AttestModel = null, int Seed = 1, double TrimBeta = 0.25, int AssumedMalicious = 1,
    CustodyKeyPair? CoordinatorKey = null)
{
    public IAggregationRule CreateRule(int participants) => Rule switch
    {
        "fedavg" or "fedprox" => new FedAvg(),
        "median" => new CoordinateMedian(),
        "trimmed-mean" => new TrimmedMean(TrimBeta),
        "krum" => new Krum(AssumedMalicious),
        "multi-krum" => new MultiKrum(AssumedMalicious, Math.Max(1, participants - AssumedMalicious)),
        _ => throw new ArgumentException($"rule must be one of {string.Join(", ", FederatedRoundContract.Rules.Order())}, not '{Rule}'"),
    };
}

/// <summary>One round on the testnet, as the coordinator saw it, with the new global model's held-out test metrics.</summary>
public sealed record TestnetRound(int Index, RoundOutcome Outcome, BinaryReport Test, decimal EpsilonPerHospital, IReadOnlyList<Participation> Participations);

/// <summary>The whole run: rounds, the final model (the last aggregate, byte for byte) and its attestation, if any.</summary>
public sealed record TestnetFederationResult(IReadOnlyList<TestnetRound> Rounds, byte[] FinalModel, string FinalSha256, ModelVersion? Attested);

/// <summary>
/// Federated learning on a running local testnet, one client per hospital node: each hospital's client (its
/// "&lt;hospital&gt;-app" identity, connected to its own node; its "-app2" identity reads blobs from the other nodes) trains
/// on its own partition of the training rows; the first hospital coordinates. Every round is opened, fed and closed
/// through the <c>fl</c> registry with the payloads as blobs on the nodes (<see cref="RoundCoordinator"/>,
/// <see cref="RoundParticipant"/>); the epsilon each hospital spends is recorded with its update and the registry
/// enforces the consortium budget. The final model's SHA-256 is the last round's aggregate hash on the ledger, and it can
/// be attested under that hash.
/// </summary>
public static class TestnetFederation
{
    public static async Task<TestnetFederationResult> RunAsync(TestnetManifest manifest, FederatedData data, TestnetFederationOptions options,
        string? dataFingerprint, Action<string> log, TimeSpan roundTimeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Rounds < 1) throw new ArgumentOutOfRangeException(nameof(options), "Rounds must be at least 1");
        var hospitals = manifest.Organisations.Where(o => o.Role == "hospital" && manifest.NodeOf(o.Id) is not null).Select(o => o.Id).ToList();
        if (hospitals.Count < 2) throw new ArgumentException("the testnet needs at least two hospitals with a node");
        if (data.Clients.Count != hospitals.Count)
            throw new ArgumentException($"the data has {data.Clients.Count} partitions for {hospitals.Count} hospitals");
        var rule = options.CreateRule(hospitals.Count);

        var clients = new List<ChainClient>();
        var learners = new List<MlpLearner>();
        try
        {
            ChainClient Open(string name, int? node = null)
            {
                var c = manifest.Connect(name, node);
                clients.Add(c);
                return c;
            }
            var participants = new List<RoundParticipant>();
            LedgerBlobs? coordinatorBlobs = null;
            ChainClient? coordinatorClient = null;
            for (var k = 0; k < hospitals.Count; k++)
            {
                var h = hospitals[k];
                var own = Open($"{h}-app");
                var others = manifest.Nodes.Where(n => n.Organisation != h).Select(n => Open($"{h}-app2", n.Id)).ToList();
                var blobs = new LedgerBlobs(own, others);
                var local = options.Local with { Seed = options.Seed * 1000 + k, ProxMu = options.Rule == "fedprox" ? Math.Max(options.Local.ProxMu, 0.01) : options.Local.ProxMu };
                var learner = new MlpLearner(data.Clients[k], data.Inputs, local, options.Dp, options.Seed * 7919 + k);
                learners.Add(learner);
                participants.Add(new RoundParticipant(own, h, blobs, learner, sealUpdates: options.CoordinatorKey is not null));
                if (k == 0)
                {
                    coordinatorBlobs = blobs;
                    coordinatorClient = own;
                }
            }
            var coordinator = new RoundCoordinator(coordinatorClient!, hospitals[0], coordinatorBlobs!, options.CoordinatorKey);
            if (options.CoordinatorKey is { } sealKey)
            {
                var registered = await new CustodyQueries(coordinatorClient!.State).GetCustodyKeyAsync(hospitals[0], ct).ConfigureAwait(false);
                if (registered is null)
                {
                    var r = await coordinatorClient.SubmitAsync("custody", "register-key", [sealKey.PublicKeyHex], cancellationToken: ct).ConfigureAwait(false);
                    if (!r.Succeeded) throw new FederatedRoundException($"registering {hospitals[0]}'s custody key failed: {r.Error}");
                    log($"registered {hospitals[0]}'s custody key {sealKey.PublicKeyHex[..16]}… for sealed updates");
                }
                else if (registered != sealKey.PublicKeyHex)
                {
                    throw new ArgumentException($"{hospitals[0]} has another custody key registered ({registered[..16]}…): give that key's file to seal updates");
                }
            }
            if (options.Budget is { } budget)
            {
                var regulator = manifest.Clients.FirstOrDefault(c => manifest.Organisations.Any(o => o.Id == c.Organisation && o.Role == "regulator"))
                                ?? throw new ArgumentException("the testnet has no regulator client to set the budget");
                var set = await Open(regulator.Name, 0).SubmitAsync(FederatedRoundContract.ContractId, "budget",
                    [options.Dataset, budget.ToString(CultureInfo.InvariantCulture)], cancellationToken: ct).ConfigureAwait(false);
                if (!set.Succeeded) throw new FederatedRoundException($"the registry refused the budget: {set.Error}");
                log($"regulator set the privacy budget of {options.Dataset} to {budget}");
            }

            using var evaluator = FederatedMlp.Create(data.Inputs, options.Seed, null);
            var global = evaluator.GetParameters();
            var rounds = new List<TestnetRound>();
            byte[] finalBytes = [];
            for (var r = 1; r <= options.Rounds; r++)
            {
                var name = $"{options.Run}-r{r.ToString(CultureInfo.InvariantCulture)}";
                var epsilon = options.Dp is { } dp ? RoundEpsilon(dp, r, options.DpDelta) : 0m;
                var parts = participants.Select(p => Task.Run(() => p.TakePartAsync(name, epsilon, roundTimeout, ct), ct)).ToArray();
                var outcome = await coordinator.RunAsync(name, options.Dataset, options.Rule, rule, hospitals, global, roundTimeout, ct).ConfigureAwait(false);
                var done = new List<Participation>();
                foreach (var part in parts)
                {
                    try
                    {
                        done.Add(await part.ConfigureAwait(false));
                    }
                    catch (FederatedRoundException e)
                    {
                        log($"  {name}: {e.Message}");
                    }
                }
                global = outcome.Global;
                evaluator.SetParameters(global);
                var (threshold, _) = Metrics.BestF1Threshold(data.ValidationLabels, evaluator.Predict(data.ValidationRows));
                var test = Metrics.Binary(data.TestLabels, evaluator.Predict(data.TestRows), threshold);
                rounds.Add(new TestnetRound(r, outcome, test, epsilon, done));
                var problems = outcome.Excluded.Select(x => $"{x.Participant} left out: {x.Reason}").Concat(outcome.Missing.Select(m => $"{m} missing")).ToList();
                log(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {outcome.Included.Count} updates{(problems.Count == 0 ? "" : $" ({string.Join("; ", problems)})")}, "
                    + $"aggregate {outcome.AggregateSha256[..16]}…, test accuracy {test.Accuracy:0.000}, F1 {test.F1:0.000}, AUROC {test.Auroc:0.000}, "
                    + $"epsilon recorded {outcome.EpsilonSpent}, {outcome.Elapsed.TotalSeconds:0.0} s"));
                finalBytes = await coordinatorBlobs!.GetAsync(outcome.AggregateSha256, ct).ConfigureAwait(false);
            }

            var finalSha = rounds[^1].Outcome.AggregateSha256;
            ModelVersion? attested = null;
            if (options.AttestModel is { } model && dataFingerprint is not null)
            {
                var path = Path.Combine(Path.GetTempPath(), $"chain-fl-{Guid.NewGuid():N}.bin");
                try
                {
                    await File.WriteAllBytesAsync(path, finalBytes, ct).ConfigureAwait(false);
                    var last = rounds[^1].Test;
                    var metrics = new Dictionary<string, double> { ["auc"] = last.Auroc, ["f1"] = last.F1, ["accuracy"] = last.Accuracy };
                    var privacy = options.Dp is { } dp2 && dp2.NoiseMultiplier > 0
                        ? TrainingPrivacy.Dp(dp2.Epsilon(1, options.Rounds, options.DpDelta).Epsilon, options.DpDelta)
                        : TrainingPrivacy.None;
                    var claim = new ModelVersionClaim(model, options.Run, null, new TrainingSummary(dataFingerprint, privacy, metrics));
                    attested = await new ModelAttestor(coordinatorClient!, hospitals[0]).AttestAsync(claim, path, ct).ConfigureAwait(false);
                    log($"attested {model} {options.Run} with weights {attested.WeightsSha256[..16]}… (= the last aggregate on the ledger)");
                }
                finally
                {
                    File.Delete(path);
                }
            }
            return new TestnetFederationResult(rounds, finalBytes, finalSha, attested);
        }
        finally
        {
            foreach (var l in learners) l.Dispose();
            foreach (var c in clients) c.Dispose();
        }
    }

    /// <summary>The epsilon a hospital spends in round <paramref name="round"/>: its guarantee after the round minus before
    /// (the Gaussian mechanism on its whole update each round, q = 1, composed by the RDP accountant), rounded up to 6 places.</summary>
    public static decimal RoundEpsilon(ClientLevelDp dp, int round, double delta)
    {
        ArgumentNullException.ThrowIfNull(dp);
        if (dp.NoiseMultiplier == 0) throw new ArgumentException("without noise there is no finite epsilon to record");
        var after = dp.Epsilon(1, round, delta).Epsilon;
        var before = round == 1 ? 0 : dp.Epsilon(1, round - 1, delta).Epsilon;
        return Math.Ceiling((decimal)(after - before) * 1_000_000m) / 1_000_000m;
    }
}
