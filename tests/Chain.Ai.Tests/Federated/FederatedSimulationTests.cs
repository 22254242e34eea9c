using Chain.Ai.Data;
using Chain.Ai.Federated;
using Chain.Ai.Privacy;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>The federated model, local training, the simulation loop, client-level DP and compression byte counts.</summary>
public sealed class FederatedSimulationTests(ITestOutputHelper output)
{
    private const int Seed = 5;

    private static readonly int[] Small = [8, 4];

    private static readonly int[] Medium = [16, 8];

    private static FederatedOptions Quick(int rounds = 6) => new()
    {
        Rounds = rounds,
        Hidden = Medium,
        Seed = Seed,
        Local = new LocalTrainingOptions(Epochs: 1, BatchSize: 32, LearningRate: 0.5),
    };

    [Fact]
    public void Parameters_round_trip_in_a_fixed_order_and_the_seed_fixes_the_initialisation()
    {
        output.WriteLine($"seed {Seed}");
        using var model = FederatedMlp.Create(FederatedTestData.Width, Seed, Small);
        using var twin = FederatedMlp.Create(FederatedTestData.Width, Seed, Small);
        using var other = FederatedMlp.Create(FederatedTestData.Width, Seed + 1, Small);
        Assert.Equal(6 * 8 + 8 + 8 * 4 + 4 + 4 + 1, model.ParameterCount);
        var p = model.GetParameters();
        Assert.Equal(p, twin.GetParameters());
        Assert.NotEqual(p, other.GetParameters());

        var changed = p.Select((v, i) => v + 0.001f * i).ToArray();
        model.SetParameters(changed);
        Assert.Equal(changed, model.GetParameters());
        var rows = FederatedTestData.Make(10, Seed).Rows;
        Assert.NotEqual(twin.Predict(rows), model.Predict(rows));
        model.SetParameters(p);
        Assert.Equal(twin.Predict(rows), model.Predict(rows));
        Assert.All(model.Predict(rows), v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void Local_training_reduces_the_loss_and_returns_local_minus_global()
    {
        var (rows, labels) = FederatedTestData.Make(300, Seed);
        var data = new ClientData("h1", rows, labels);
        using var model = FederatedMlp.Create(FederatedTestData.Width, Seed, Small);
        var global = model.GetParameters();
        var before = LocalTrainer.Loss(model, data);
        var delta = LocalTrainer.Train(model, global, data, new LocalTrainingOptions(Epochs: 5, BatchSize: 32, LearningRate: 0.5));
        var after = LocalTrainer.Loss(model, data);
        output.WriteLine($"loss {before:F4} -> {after:F4}");
        Assert.True(after < before * 0.6, $"loss {before} -> {after}");
        var local = model.GetParameters();
        for (var i = 0; i < local.Length; i++) Assert.Equal(local[i] - global[i], delta[i], 1e-6f);

        // Deterministic: the same seed gives the same delta.
        Assert.Equal(delta, LocalTrainer.Train(model, global, data, new LocalTrainingOptions(Epochs: 5, BatchSize: 32, LearningRate: 0.5)));
    }

    [Fact]
    public void FedProx_with_a_huge_mu_keeps_the_local_model_near_the_global_one()
    {
        var (rows, labels) = FederatedTestData.Make(300, Seed);
        var data = new ClientData("h1", rows, labels);
        using var model = FederatedMlp.Create(FederatedTestData.Width, Seed, Small);
        var global = model.GetParameters();
        var free = ClientLevelDp.Norm(LocalTrainer.Train(model, global, data, new LocalTrainingOptions(Epochs: 3, BatchSize: 32, LearningRate: 0.05)));
        var prox = ClientLevelDp.Norm(LocalTrainer.Train(model, global, data,
            new LocalTrainingOptions(Epochs: 3, BatchSize: 32, LearningRate: 0.05, ProxMu: 15)));
        output.WriteLine($"|delta| without prox {free:F4}, mu = 15: {prox:F4}");
        Assert.True(prox < free * 0.2, $"{prox} vs {free}");
    }

    [Fact]
    public void FedAvg_on_separable_data_with_five_clients_reaches_high_accuracy()
    {
        var data = FederatedTestData.Data(5, Seed, PartitionScheme.Dirichlet);
        var result = new FederatedSimulation(Quick(8)).Run(data);
        output.WriteLine($"accuracy per round: {string.Join(" ", result.Rounds.Select(r => r.Test.Accuracy.ToString("F3")))}");
        Assert.Equal(8, result.Rounds.Count);
        Assert.True(result.Final.Test.Accuracy > 0.95, $"accuracy {result.Final.Test.Accuracy}");
        Assert.True(result.Final.Test.Auroc > 0.98, $"auroc {result.Final.Test.Auroc}");
        Assert.All(result.Rounds, r => Assert.Equal(5, r.Participants.Count));
        Assert.All(result.Rounds, r => Assert.Null(r.Epsilon));

        var central = new FederatedSimulation(Quick(8)).Centralised(data);
        Assert.True(central.Test.Accuracy > 0.95, $"centralised accuracy {central.Test.Accuracy}");
    }

    [Fact]
    public void The_same_seed_gives_the_same_run_and_another_seed_another()
    {
        var data = FederatedTestData.Data(4, Seed);
        var options = Quick(3) with { ClientsPerRound = 2, Compression = CompressionKind.Quantize8 };
        var a = new FederatedSimulation(options).Run(data);
        var b = new FederatedSimulation(options).Run(data);
        var c = new FederatedSimulation(options with { Seed = Seed + 1 }).Run(data);
        Assert.Equal(a.GlobalParameters, b.GlobalParameters);
        Assert.Equal(a.Rounds.Select(r => r.Test), b.Rounds.Select(r => r.Test));
        Assert.Equal(a.Rounds.Select(r => string.Join(",", r.Participants)), b.Rounds.Select(r => string.Join(",", r.Participants)));
        Assert.NotEqual(a.GlobalParameters, c.GlobalParameters);
    }

    [Fact]
    public void Local_noise_clips_then_adds_seeded_noise_of_std_sigma_c()
    {
        var delta = Enumerable.Range(0, 20_000).Select(i => (float)Math.Sin(i)).ToArray();
        Assert.Equal(new ClientLevelDp(2, 0).Clip(delta), new ClientLevelDp(2, 0).Privatise(delta, new Random(3)));
        var dp = new ClientLevelDp(2, 0.5);
        var noisy = dp.Privatise(delta, new Random(3));
        Assert.Equal(noisy, dp.Privatise(delta, new Random(3)));
        var clipped = dp.Clip(delta);
        var noise = noisy.Zip(clipped, (a, b) => (double)a - b).ToArray();
        var sd = Math.Sqrt(noise.Average(x => x * x));
        Assert.InRange(sd, 0.97, 1.03); // sigma·C = 1
    }

    [Fact]
    public void Clipping_bounds_the_norm_and_leaves_small_deltas_alone()
    {
        var dp = new ClientLevelDp(0.5, 1.0);
        var random = new Random(Seed);
        for (var t = 0; t < 50; t++)
        {
            var delta = Enumerable.Range(0, 100).Select(_ => (float)(FederatedTestData.Gaussian(random) * random.NextDouble() * 3)).ToArray();
            var clipped = dp.Clip(delta);
            Assert.True(ClientLevelDp.Norm(clipped) <= 0.5, $"norm {ClientLevelDp.Norm(clipped)}");
            if (ClientLevelDp.Norm(delta) <= 0.5) Assert.Equal(delta, clipped);
            else Assert.Equal(0.5, ClientLevelDp.Norm(clipped), 4);
        }
        // Without noise the private mean is the sum over the expected count.
        var sum = new ClientLevelDp(0.5, 0);
        var mean = sum.Aggregate([[0.1f, 0.2f], [0.3f, -0.2f]], 2, 4, new Random(1));
        Assert.Equal(0.1f, mean[0], 1e-6f);
        Assert.Equal(0f, mean[1], 1e-6f);
        Assert.Throws<ArgumentException>(() => dp.Aggregate([[1f, 1f]], 2, 1, new Random(1))); // norm 1.41 > C: not clipped
    }

    [Fact]
    public void DP_FedAvg_reports_the_accountants_epsilon_after_every_round()
    {
        var data = FederatedTestData.Data(8, Seed, rowsPerClient: 100);
        var dp = new ClientLevelDp(0.5, 1.2);
        var options = Quick(4) with { ClientsPerRound = 4, Dp = dp, DpDelta = 1e-4 };
        var result = new FederatedSimulation(options).Run(data);
        for (var r = 1; r <= 4; r++)
        {
            var expected = RdpAccountant.Epsilon(0.5, 1.2, r, 1e-4).Epsilon;
            Assert.Equal(expected, result.Rounds[r - 1].Epsilon!.Value, 9);
            Assert.Equal(expected, dp.Epsilon(0.5, r, 1e-4).Epsilon, 9);
        }
        Assert.True(result.Rounds[3].Epsilon > result.Rounds[0].Epsilon);
        // Poisson sampling: the participant count varies around the expected 4.
        Assert.True(result.Rounds.Select(r => r.Participants.Count).Distinct().Count() > 1 || result.Rounds.All(r => r.Participants.Count == 4));
        // Clipping only: epsilon is infinite.
        var clipOnly = new FederatedSimulation(options with { Dp = new ClientLevelDp(0.5, 0) }).Run(data);
        Assert.True(double.IsPositiveInfinity(clipOnly.Final.Epsilon!.Value));
    }

    [Fact]
    public void Compression_byte_counts_per_round_match_the_wire_formats()
    {
        var data = FederatedTestData.Data(3, Seed, rowsPerClient: 100);
        var dense = new FederatedSimulation(Quick(2)).Run(data);
        var p = dense.ParameterCount;
        Assert.All(dense.Rounds, r => Assert.Equal(3L * 4 * p, r.BytesUploaded));
        Assert.All(dense.Rounds, r => Assert.Equal(3L * 4 * p, r.DenseBytes));
        foreach (var sparsity in new[] { 0.9, 0.99 })
        {
            var k = new TopKCompressor(sparsity).Kept(p);
            var run = new FederatedSimulation(Quick(2) with { Compression = CompressionKind.TopK, Sparsity = sparsity }).Run(data);
            Assert.All(run.Rounds, r => Assert.Equal(3L * (8 + 8L * k), r.BytesUploaded));
            Assert.True(run.MeanBytesPerRound < dense.MeanBytesPerRound * (1 - sparsity) * 2 + 50);
        }
        var q8 = new FederatedSimulation(Quick(2) with { Compression = CompressionKind.Quantize8 }).Run(data);
        Assert.All(q8.Rounds, r => Assert.Equal(3L * (12 + p), r.BytesUploaded));
    }

    [Fact]
    public void Bad_arguments_give_typed_exceptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FederatedMlp.Create(0, 1));
        Assert.Throws<ArgumentException>(() => FederatedMlp.Create(3, 1, [0]));
        using var model = FederatedMlp.Create(3, 1, [4]);
        Assert.Throws<ArgumentException>(() => model.SetParameters(new float[model.ParameterCount + 1]));
        Assert.Throws<ArgumentException>(() => model.SetParameters(Enumerable.Repeat(float.NaN, model.ParameterCount).ToArray()));
        var client = new ClientData("h", [[1f, 2f, 3f]], [1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => LocalTrainer.Train(model, model.GetParameters(), client, new LocalTrainingOptions(Epochs: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => LocalTrainer.Train(model, model.GetParameters(), client, new LocalTrainingOptions(LearningRate: -1)));
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(model, model.GetParameters(), client with { Labels = [2] }, new LocalTrainingOptions()));
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(model, model.GetParameters(), new ClientData("h", [[1f]], [1]), new LocalTrainingOptions()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClientLevelDp(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClientLevelDp(1, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Poisoning(PoisoningKind.SignFlip, 1.0).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new Poisoning(PoisoningKind.SignFlip, 0).Validate());

        var data = FederatedTestData.Data(4, Seed, rowsPerClient: 50);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FederatedSimulation(Quick() with { Rule = AggregationKind.Krum, AssumedMalicious = 1 }).Run(data));
        Assert.Throws<ArgumentException>(() => new FederatedSimulation(Quick() with { Rule = AggregationKind.Median, Dp = new ClientLevelDp(1, 1) }).Run(data));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FederatedSimulation(Quick() with { ClientsPerRound = 5 }).Run(data));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FederatedSimulation(Quick() with { Rounds = 0 }).Run(data));
        Assert.Throws<FederatedException>(() => new FederatedSimulation(Quick()).Run(data with { TestLabels = [.. data.TestLabels.Select(_ => 0)] }));
        Assert.Throws<ArgumentNullException>(() => new FederatedSimulation(null!));
    }

    [Fact]
    public void The_shared_WUSTL_file_partitions_and_scales_federatedly_when_present()
    {
        const string path = "/work/shared/data/wustl-ehms-2020/wustl-ehms-2020_with_attacks_categories.csv";
        if (!File.Exists(path))
        {
            output.WriteLine($"skipped: {path} is not here");
            return;
        }
        var data = TabularDataset.Load(path, DatasetOptions.WustlEhms2020);
        var split = Splits.Chronological(data.Count);
        var prepared = FederatedData.Prepare(data, split, new PartitionOptions(10, PartitionScheme.Dirichlet, 1.0, 1));
        Assert.Equal(split.Train.Count, prepared.Clients.Sum(c => c.Count));
        var pooled = StandardScaler.Fit(data.Subset(split.Train).Rows);
        for (var j = 0; j < pooled.Mean.Count; j++)
        {
            Assert.Equal(pooled.Mean[j], prepared.Scaler.Mean[j], Math.Abs(pooled.Mean[j]) * 1e-4 + 1e-4);
            Assert.Equal(pooled.Scale[j], prepared.Scaler.Scale[j], Math.Abs(pooled.Scale[j]) * 1e-3 + 1e-6);
        }
    }
}
