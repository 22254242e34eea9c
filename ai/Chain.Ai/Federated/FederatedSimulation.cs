using System.Globalization;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Chain.Ai.Privacy;
using TorchSharp;

namespace Chain.Ai.Federated;

/// <summary>The server's aggregation rule.</summary>
public enum AggregationKind
{
    FedAvg,

    /// <summary>FedAvg aggregation with the FedProx proximal term in local training (<see cref="FederatedOptions.ProxMu"/>).</summary>
    FedProx,
    Median,
    TrimmedMean,
    Krum,
    MultiKrum,
}

/// <summary>How client updates are compressed before upload.</summary>
public enum CompressionKind
{
    /// <summary>Dense float32: 4 bytes per parameter.</summary>
    None,

    /// <summary>Top-k with error feedback (<see cref="TopKCompressor"/>) at <see cref="FederatedOptions.Sparsity"/>.</summary>
    TopK,

    /// <summary>8-bit stochastic quantisation (<see cref="Quantizer8"/>).</summary>
    Quantize8,
}

/// <summary>
/// One simulation's settings. Defaults: 10 clients, 30 rounds, every client every round, FedAvg, one local epoch of SGD
/// (batch 64, learning rate 0.05), no attack, no DP, no compression, server learning rate 1, seed 1.
/// </summary>
public sealed record FederatedOptions
{
    public int Rounds { get; init; } = 30;

    /// <summary>Clients sampled per round, uniformly without replacement (seeded); 0 = all. With DP, clients are Poisson-sampled with q = this / clients.</summary>
    public int ClientsPerRound { get; init; }

    public AggregationKind Rule { get; init; } = AggregationKind.FedAvg;

    /// <summary>f, the number of malicious clients Krum / Multi-Krum assume and the trimmed mean trims from each end; null = the attack's malicious count (at least 1).</summary>
    public int? AssumedMalicious { get; init; }

    /// <summary>Multi-Krum's m (updates averaged); null = participants − f.</summary>
    public int? MultiKrumM { get; init; }

    /// <summary>FedProx's mu (used when <see cref="Rule"/> is FedProx; <see cref="Local"/>.ProxMu is used otherwise).</summary>
    public double ProxMu { get; init; } = 0.01;

    public LocalTrainingOptions Local { get; init; } = new();

    /// <summary>The global step: global += ServerLearningRate · aggregate.</summary>
    public double ServerLearningRate { get; init; } = 1;

    public Poisoning Attack { get; init; } = Poisoning.None;

    /// <summary>Client-level DP (DP-FedAvg); null = none. Needs FedAvg or FedProx.</summary>
    public ClientLevelDp? Dp { get; init; }

    /// <summary>The delta of the (epsilon, delta) reported with DP.</summary>
    public double DpDelta { get; init; } = 1e-5;

    public CompressionKind Compression { get; init; } = CompressionKind.None;

    public double Sparsity { get; init; } = 0.9;

    public IReadOnlyList<int>? Hidden { get; init; }

    public bool CompressInputs { get; init; } = true;

    /// <summary>Seeds the model, the client sampling, the malicious choice, local shuffling, noise and quantisation.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Participants per round for <paramref name="clients"/> clients (the expected number with DP).</summary>
    public int Participants(int clients) => ClientsPerRound == 0 ? clients : ClientsPerRound;

    /// <summary>Throws <see cref="ArgumentException"/> (or its out-of-range subclass) naming the bad setting.</summary>
    public void Validate(int clients)
    {
        if (clients < 1) throw new ArgumentOutOfRangeException(nameof(clients), clients, "at least one client is needed");
        if (Rounds < 1 || Rounds > 100_000) throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "Rounds must be in 1..100000");
        if (ClientsPerRound < 0 || ClientsPerRound > clients)
            throw new ArgumentOutOfRangeException(nameof(ClientsPerRound), ClientsPerRound, $"ClientsPerRound must be in 0..{clients} (0 = all)");
        if (!Enum.IsDefined(Rule)) throw new ArgumentOutOfRangeException(nameof(Rule), Rule, "unknown aggregation rule");
        if (!Enum.IsDefined(Compression)) throw new ArgumentOutOfRangeException(nameof(Compression), Compression, "unknown compression");
        if (!(Sparsity >= 0 && Sparsity < 1)) throw new ArgumentOutOfRangeException(nameof(Sparsity), Sparsity, "Sparsity must be in [0, 1)");
        if (!(ProxMu >= 0 && ProxMu <= 1e6)) throw new ArgumentOutOfRangeException(nameof(ProxMu), ProxMu, "ProxMu must be in [0, 1e6]");
        if (!(ServerLearningRate > 0 && ServerLearningRate <= 100))
            throw new ArgumentOutOfRangeException(nameof(ServerLearningRate), ServerLearningRate, "ServerLearningRate must be in (0, 100]");
        if (AssumedMalicious is < 0) throw new ArgumentOutOfRangeException(nameof(AssumedMalicious), AssumedMalicious, "f must be >= 0");
        if (MultiKrumM is < 1) throw new ArgumentOutOfRangeException(nameof(MultiKrumM), MultiKrumM, "m must be >= 1");
        ArgumentNullException.ThrowIfNull(Local);
        Local.Validate();
        ArgumentNullException.ThrowIfNull(Attack);
        Attack.Validate();
        if (Dp is not null)
        {
            if (Rule is not (AggregationKind.FedAvg or AggregationKind.FedProx))
                throw new ArgumentException($"client-level DP is DP-FedAvg: use the fedavg or fedprox rule, not {Rule}");
            RdpAccountant.CheckDelta(DpDelta);
        }
        var n = Participants(clients);
        var f = AssumedF(clients);
        if (Rule is AggregationKind.Krum or AggregationKind.MultiKrum && n <= 2 * f + 2)
            throw new ArgumentOutOfRangeException(nameof(AssumedMalicious), f, $"Krum with f = {f} needs more than {2 * f + 2} clients per round, not {n}");
        if (Rule == AggregationKind.TrimmedMean && 2 * f >= n)
            throw new ArgumentOutOfRangeException(nameof(AssumedMalicious), f, $"the trimmed mean cannot trim {f} from each end of {n} updates");
        if (Rule == AggregationKind.MultiKrum && (MultiKrumM ?? n - f) > n)
            throw new ArgumentOutOfRangeException(nameof(MultiKrumM), MultiKrumM, $"m must be at most the {n} clients per round");
    }

    /// <summary>f for <paramref name="clients"/> clients: <see cref="AssumedMalicious"/>, or the attack's malicious count (at least 1).</summary>
    public int AssumedF(int clients) => AssumedMalicious ?? Math.Max(1, Attack.MaliciousCount(clients));

    /// <summary>The rule for a round with <paramref name="participants"/> updates out of <paramref name="clients"/> clients.</summary>
    public IAggregationRule CreateRule(int clients, int participants)
    {
        var f = AssumedF(clients);
        return Rule switch
        {
            AggregationKind.FedAvg or AggregationKind.FedProx => new FedAvg(),
            AggregationKind.Median => new CoordinateMedian(),
            AggregationKind.TrimmedMean => new TrimmedMean(Math.Min(0.49, (f + 0.5) / participants)),
            AggregationKind.Krum => new Krum(f),
            _ => new MultiKrum(f, Math.Min(participants, MultiKrumM ?? Math.Max(1, participants - f))),
        };
    }

    /// <summary>A short human-readable name of the rule with its parameters (f stated), for tables.</summary>
    public string RuleLabel(int clients)
    {
        var n = Participants(clients);
        var f = AssumedF(clients);
        return Rule switch
        {
            AggregationKind.FedAvg => "fedavg",
            AggregationKind.FedProx => string.Create(CultureInfo.InvariantCulture, $"fedprox(mu={ProxMu})"),
            AggregationKind.Median => "median",
            AggregationKind.TrimmedMean => $"trimmed-mean(trim {f} per end)",
            AggregationKind.Krum => $"krum(f={f})",
            _ => $"multi-krum(f={f},m={MultiKrumM ?? n - f})",
        };
    }
}

/// <summary>
/// The simulation's data: the clients' scaled training rows and the scaled validation (threshold choice) and test
/// (reported metrics) rows, all scaled by <see cref="Scaler"/> (fitted federatedly on the clients' statistics).
/// </summary>
public sealed record FederatedData(IReadOnlyList<ClientData> Clients, float[][] ValidationRows, int[] ValidationLabels,
    float[][] TestRows, int[] TestLabels, StandardScaler Scaler, IReadOnlyList<string> FeatureNames)
{
    public int Inputs => FeatureNames.Count;

    /// <summary>
    /// Partitions the <paramref name="split"/>'s training rows of <paramref name="data"/> (features of
    /// <paramref name="features"/>) among clients, fits the scaler from the clients' statistics
    /// (<see cref="FederatedScaler"/>), and scales every part with it.
    /// </summary>
    public static FederatedData Prepare(TabularDataset data, Split split, PartitionOptions partition, FeatureGroup features = FeatureGroup.All)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(partition);
        var selected = data.Select(features);
        var train = selected.Subset(split.Train);
        var raw = Partitioner.Partition(train.Rows, train.Labels, partition);
        var scaler = FederatedScaler.Fit(raw);
        var clients = raw.Select(c => FederatedScaler.Scale(c, scaler)).ToArray();
        var validation = selected.Subset(split.Validation);
        var test = selected.Subset(split.Test);
        return new FederatedData(clients, scaler.Transform(validation.Rows), [.. validation.Labels], scaler.Transform(test.Rows),
            [.. test.Labels], scaler, [.. selected.FeatureNames]);
    }

    public void Validate()
    {
        if (Clients is null || Clients.Count == 0) throw new ArgumentException("no clients");
        foreach (var c in Clients) c.Validate(Inputs);
        if (Clients.Select(c => c.Client).Distinct(StringComparer.Ordinal).Count() != Clients.Count)
            throw new ArgumentException("client names must be distinct");
        if (ValidationRows.Length != ValidationLabels.Length || TestRows.Length != TestLabels.Length)
            throw new ArgumentException("validation or test rows and labels differ in count");
        if (!ValidationLabels.Contains(1)) throw new FederatedException("the validation rows hold no attack: no threshold can be chosen");
        if (!TestLabels.Contains(0) || !TestLabels.Contains(1)) throw new FederatedException("the test rows need both benign and attack rows");
    }
}

/// <summary>
/// One round's outcome: who took part, the test metrics of the new global model at the validation's best-F1 threshold,
/// the bytes the participants uploaded (and what dense float32 would have cost), the epsilon spent so far (DP only) and
/// the backdoor success: the share of triggered test attack rows classified benign, measured with the attack's trigger
/// (or the default one) in every run, so a run without a backdoor gives the trigger's effect by itself.
/// </summary>
public sealed record RoundReport(int Round, IReadOnlyList<string> Participants, int MaliciousParticipants, BinaryReport Test,
    double ValidationF1, long BytesUploaded, long DenseBytes, double? Epsilon, double? BackdoorSuccess);

/// <summary>A whole run: per-round reports, the final global parameters and the malicious clients.</summary>
public sealed record FederatedResult(IReadOnlyList<RoundReport> Rounds, float[] GlobalParameters, IReadOnlySet<string> Malicious,
    string RuleLabel, int ParameterCount)
{
    public RoundReport Final => Rounds[^1];

    public double MeanBytesPerRound => Rounds.Average(r => (double)r.BytesUploaded);

    public double MeanDenseBytesPerRound => Rounds.Average(r => (double)r.DenseBytes);
}

/// <summary>
/// The federated-learning simulator: K hospitals in one process, each round (1) sample participants, (2) each trains
/// <see cref="LocalTrainer"/> from the global model (malicious ones poison their data or delta), (3) clip (DP) and
/// compress the delta, (4) the server decompresses, aggregates by the rule (or the DP-FedAvg noisy mean), and steps the
/// global model, (5) the global model is scored: threshold chosen on validation, metrics on test. Single-threaded
/// libtorch while it runs; everything is seeded, so the same options and data give the same numbers.
/// </summary>
public sealed class FederatedSimulation(FederatedOptions options)
{
    public FederatedOptions Options { get; } = options ?? throw new ArgumentNullException(nameof(options));

    public FederatedResult Run(FederatedData data, Action<RoundReport>? onRound = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.Validate();
        var o = Options;
        var clients = data.Clients;
        var k = clients.Count;
        o.Validate(k);
        o.Attack.TriggerFor(data.Inputs).Validate(data.Inputs);
        var threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            return RunSingleThreaded(data, onRound);
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    private FederatedResult RunSingleThreaded(FederatedData data, Action<RoundReport>? onRound)
    {
        var o = Options;
        var clients = data.Clients;
        var k = clients.Count;
        using var model = FederatedMlp.Create(data.Inputs, o.Seed, o.Hidden, o.CompressInputs);
        var global = model.GetParameters();
        var p = global.Length;
        var malicious = o.Attack.ChooseMalicious(clients, o.Seed);
        var poisoned = clients.ToDictionary(c => c.Client, c => malicious.Contains(c.Client) ? o.Attack.PoisonData(c) : c, StringComparer.Ordinal);
        var topK = clients.ToDictionary(c => c.Client, _ => new TopKCompressor(o.Sparsity), StringComparer.Ordinal);
        var quantizers = clients.Select((c, i) => (c.Client, Q: new Quantizer8(unchecked(o.Seed * 31 + i))))
            .ToDictionary(t => t.Client, t => t.Q, StringComparer.Ordinal);
        var sampler = new Random(unchecked(o.Seed * 1_000_003 + 11));
        var noise = new Random(unchecked(o.Seed * 1_000_033 + 29));
        var expected = o.Participants(k);
        var q = (double)expected / k;
        var accountant = o.Dp is { NoiseMultiplier: > 0 } ? new RdpAccountant() : null;
        var proxMu = o.Rule == AggregationKind.FedProx ? o.ProxMu : o.Local.ProxMu;
        var rounds = new List<RoundReport>();
        for (var round = 1; round <= o.Rounds; round++)
        {
            var participants = Sample(sampler, k, expected, o.Dp is not null);
            var maliciousHere = participants.Count(i => malicious.Contains(clients[i].Client));
            var updates = new List<ClientUpdate>();
            long bytes = 0;
            foreach (var i in participants)
            {
                var client = clients[i];
                var isMalicious = malicious.Contains(client.Client);
                var local = o.Local with { Seed = unchecked(o.Seed * 7_919 + round * 131 + i), ProxMu = proxMu };
                var delta = LocalTrainer.Train(model, global, poisoned[client.Client], local);
                if (isMalicious) delta = o.Attack.PoisonDelta(delta, participants.Length, maliciousHere);
                if (o.Dp is not null) delta = o.Dp.Clip(delta);
                (delta, var size) = Compress(delta, topK[client.Client], quantizers[client.Client]);
                bytes += size;
                updates.Add(new ClientUpdate(client.Client, delta, Math.Max(1, client.Count)));
            }
            float[] step;
            if (o.Dp is not null)
                step = o.Dp.Aggregate([.. updates.Select(u => u.Delta)], p, expected, noise);
            else
                step = o.CreateRule(k, updates.Count).Aggregate(updates);
            for (var j = 0; j < p; j++) global[j] += (float)(o.ServerLearningRate * step[j]);
            if (global.Any(v => !float.IsFinite(v)))
                throw new FederatedException($"round {round}: the global model diverged (non-finite parameters)");
            double? epsilon = null;
            if (o.Dp is not null)
            {
                accountant?.Compose(q, o.Dp.NoiseMultiplier);
                epsilon = accountant?.GetPrivacySpent(o.DpDelta).Epsilon ?? double.PositiveInfinity;
            }
            model.SetParameters(global);
            var report = Evaluate(model, data, round, [.. participants.Select(i => clients[i].Client)], maliciousHere, bytes, 4L * p * participants.Length,
                epsilon, o.Attack.TriggerFor(data.Inputs));
            rounds.Add(report);
            onRound?.Invoke(report);
        }
        return new FederatedResult(rounds, global, malicious, o.RuleLabel(k), p);
    }

    /// <summary>The participants of a round: all, a uniform sample of <paramref name="expected"/>, or (DP) each with probability expected/k.</summary>
    private static int[] Sample(Random sampler, int k, int expected, bool poisson)
    {
        if (poisson)
        {
            var q = (double)expected / k;
            return [.. Enumerable.Range(0, k).Where(_ => sampler.NextDouble() < q)];
        }
        if (expected == k) return [.. Enumerable.Range(0, k)];
        var order = Enumerable.Range(0, k).ToArray();
        sampler.Shuffle(order);
        return [.. order.Take(expected).Order()];
    }

    private (float[] Delta, long Bytes) Compress(float[] delta, TopKCompressor topK, Quantizer8 quantizer)
    {
        switch (Options.Compression)
        {
            case CompressionKind.TopK:
            {
                var sparse = topK.Compress(delta);
                return (sparse.ToDense(), sparse.ByteSize);
            }
            case CompressionKind.Quantize8:
            {
                var quantized = quantizer.Quantize(delta);
                return (Quantizer8.Dequantize(quantized), quantized.ByteSize);
            }
            default:
                return (delta, 4L * delta.Length);
        }
    }

    private static RoundReport Evaluate(FederatedMlp model, FederatedData data, int round, string[] participants, int maliciousHere, long bytes,
        long dense, double? epsilon, BackdoorTrigger? trigger)
    {
        var (threshold, f1) = Metrics.BestF1Threshold(data.ValidationLabels, model.Predict(data.ValidationRows));
        var test = Metrics.Binary(data.TestLabels, model.Predict(data.TestRows), threshold);
        double? backdoor = trigger is null ? null : Poisoning.BackdoorSuccess(model, data.TestRows, data.TestLabels, threshold, trigger);
        return new RoundReport(round, participants, maliciousHere, test, f1, bytes, dense, epsilon, backdoor);
    }

    /// <summary>
    /// The centralised baseline: the same MLP (same seed, hidden widths, local optimiser and batch size) trained on all the
    /// clients' rows pooled, for Rounds × Local.Epochs epochs (the same number of passes over the data as FedAvg with
    /// every client every round), scored like a round. Ignores attacks, DP and compression.
    /// </summary>
    public RoundReport Centralised(FederatedData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        data.Validate();
        var o = Options;
        o.Validate(data.Clients.Count);
        var threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            using var model = FederatedMlp.Create(data.Inputs, o.Seed, o.Hidden, o.CompressInputs);
            var pooled = new ClientData("pooled", [.. data.Clients.SelectMany(c => c.Features)], [.. data.Clients.SelectMany(c => c.Labels)]);
            var start = model.GetParameters();
            var local = o.Local with { Epochs = checked(o.Rounds * o.Local.Epochs), Seed = o.Seed };
            var delta = LocalTrainer.Train(model, start, pooled, local);
            for (var j = 0; j < start.Length; j++) start[j] += delta[j];
            model.SetParameters(start);
            return Evaluate(model, data, o.Rounds, ["pooled"], 0, 0, 0, null, o.Attack.TriggerFor(data.Inputs));
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }
}
