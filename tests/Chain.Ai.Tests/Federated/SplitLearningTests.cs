using System.Globalization;
using System.Text;
using Chain.Ai.Data;
using Chain.Ai.Federated;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// Split learning and multimodal fusion on small synthetic data made here: the cut is exact (one client = central
/// training), the server sees only cut activations of the declared width, learning works, the contrastive term aligns
/// the modalities, fusion beats either modality when each holds half the signal, bad arguments are typed errors, and
/// <c>chain-ai fl split</c> runs. Every test prints its seed.
/// </summary>
public sealed class SplitLearningTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-split-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Where the label comes from.</summary>
    private enum Signal
    {
        /// <summary>Only the vital v1 carries the label.</summary>
        Vitals,

        /// <summary>The label needs both: n1 (network) + v1 (vitals) above a threshold.</summary>
        Half,
    }

    private static readonly DatasetOptions Options = new()
    {
        LabelColumn = "Label",
        FamilyColumn = "Category",
        NormalValue = "normal",
        Drop = ["Id"],
        VitalColumns = ["v1", "v2", "v3"],
    };

    /// <summary>
    /// Independent rows: network n1..n3, vitals v1..v3 (temperature-, SpO2- and pulse-like scales). n2 and v2 share a
    /// latent that has nothing to do with the label (what the contrastive term can align on); n3 and v3 are noise.
    /// </summary>
    private static string Csv(int rows, int seed, Signal signal)
    {
        var random = new Random(seed);
        var text = new StringBuilder("Id,n1,n2,n3,v1,v2,v3,Category,Label\n");
        for (var i = 0; i < rows; i++)
        {
            double a = Gaussian(random), b = Gaussian(random), noise = 0.3 * Gaussian(random), shared = Gaussian(random);
            var attack = signal == Signal.Vitals ? b + noise > 1.0 : a + b + noise > 1.2;
            text.Append(CultureInfo.InvariantCulture,
                $"{i},{a:F4},{shared + 0.3 * Gaussian(random):F4},{10 * Gaussian(random):F4},{37 + 0.5 * b:F4}," +
                $"{95 + 2 * (shared + 0.3 * Gaussian(random)):F3}," +
                $"{70 + 10 * Gaussian(random):F3},{(attack ? "attack" : "normal")},{(attack ? 1 : 0)}\n");
        }
        return text.ToString();
    }

    private static TabularDataset Data(int rows, int seed, Signal signal) =>
        TabularDataset.Load(new StringReader(Csv(rows, seed, signal)), Options, "synthetic");

    private static double Gaussian(Random random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static (ModalityRows Train, ModalityRows Validation, ModalityRows Test) Parts(TabularDataset data, FeatureGroup group)
    {
        var split = Splits.Chronological(data.Count);
        return (ModalityRows.Of(data, split.Train, group), ModalityRows.Of(data, split.Validation, group), ModalityRows.Of(data, split.Test, group));
    }

    [Fact]
    public void One_client_split_learning_equals_central_training_the_cut_is_exact()
    {
        const int Seed = 11;
        output.WriteLine($"seed {Seed}");
        var (train, validation, _) = Parts(Data(600, Seed, Signal.Vitals), FeatureGroup.Vitals);
        var options = new SplitLearningOptions { Clients = 1, Epochs = 3, Patience = 0, BatchSize = 32, Seed = Seed, CutWidth = 4, EncoderHidden = 16 };

        using var central = SplitLearning.TrainCentral(train, validation, options);
        using var server = SplitHeadServer.Create(options, options.PositiveWeightFor(train.Labels));
        using var split = SplitLearning.Train(train, validation, server, options);

        var expected = central.AttackProbability(validation);
        var actual = split.AttackProbability(validation);
        var diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"max |central - split| probability: {diff:G3}");
        Assert.True(diff <= 1e-5, $"split differs from central by {diff}");
        AssertClose(central.EncoderWeights(), split.EncoderWeights());
        AssertClose(central.HeadWeights(), server.HeadWeights());
        Assert.Equal(central.History.Select(h => h.TrainLoss), split.History.Select(h => h.TrainLoss), (x, y) => Math.Abs(x - y) <= 1e-5);
        // Training moved the weights (so the equality above is not two untouched initialisations).
        Assert.True(central.History[^1].TrainLoss < central.History[0].TrainLoss);
    }

    private static void AssertClose(List<float[]> expected, List<float[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var k = 0; k < expected.Count; k++)
        {
            Assert.Equal(expected[k].Length, actual[k].Length);
            for (var j = 0; j < expected[k].Length; j++)
                Assert.True(Math.Abs(expected[k][j] - actual[k][j]) <= 1e-5, $"parameter {k}[{j}]: {expected[k][j]} vs {actual[k][j]}");
        }
    }

    [Fact]
    public void The_server_receives_only_cut_activations_of_the_declared_width_and_the_bytes_are_counted()
    {
        const int Seed = 5;
        output.WriteLine($"seed {Seed}");
        var data = TabularDataset.Load(new StringReader(Csv(300, Seed, Signal.Vitals)), Options with { VitalColumns = ["v1", "v2", "v3", "n2", "n3"] });
        var (train, validation, _) = Parts(data, FeatureGroup.Vitals);
        Assert.Equal(5, train.Width);
        var options = new SplitLearningOptions { Clients = 2, Epochs = 2, Patience = 0, BatchSize = 16, Seed = Seed, CutWidth = 3, EncoderHidden = 16 };
        using var inner = SplitHeadServer.Create(options, options.PositiveWeightFor(train.Labels));
        var server = new RecordingServer(inner);
        using var model = SplitLearning.Train(train, validation, server, options);

        // The message type has no place for features: ids, activations, labels (and derived sizes) only.
        Assert.Equal(["Activations", "Bytes", "Count", "Labels", "RowIds"], typeof(CutBatch).GetProperties().Select(p => p.Name).Order());
        Assert.NotEmpty(server.Training);
        var raw = new HashSet<float>(train.Rows.Concat(validation.Rows).SelectMany(r => r));
        var scaled = new HashSet<float>(model.Scaler.Transform(train.Rows).SelectMany(r => r));
        foreach (var batch in server.Training.Concat(server.Inference))
        {
            Assert.Equal(batch.Count * 3, batch.Activations.Length);
            Assert.DoesNotContain(batch.Activations, v => raw.Contains(v) || scaled.Contains(v));
        }
        Assert.All(server.Training, b => Assert.Equal(b.Count, b.Labels!.Length));
        Assert.Equal(2 * train.Count, server.Training.Sum(b => b.Count)); // two epochs, every training row once each

        // Upload per row: 3 activations + 1 label (4 bytes each) + an 8-byte id = 24; download: 3 gradients (12) + 8 per batch.
        var first = model.History[0].Traffic;
        Assert.Equal(24L * train.Count, first.Upload);
        Assert.Equal(12L * train.Count + 8L * server.Training.Count / 2, first.Download);
        var encoderBytes = 4L * (5 * 16 + 16 + 16 * 3 + 3);
        Assert.Equal(encoderBytes, first.Handoff); // epoch 1: client 0 -> client 1
        Assert.Equal(2 * encoderBytes, model.History[1].Traffic.Handoff); // then 1 -> 0 and 0 -> 1
        Assert.Equal(validation.Count * (12L + 8 + 4), first.Inference);
    }

    [Fact]
    public void Split_learning_over_three_clients_learns_when_the_vitals_carry_the_signal()
    {
        const int Seed = 3;
        output.WriteLine($"seed {Seed}");
        var (train, validation, test) = Parts(Data(1500, Seed, Signal.Vitals), FeatureGroup.Vitals);
        var options = new SplitLearningOptions { Clients = 3, Epochs = 12, BatchSize = 64, Seed = Seed };
        using var server = SplitHeadServer.Create(options, options.PositiveWeightFor(train.Labels));
        using var model = SplitLearning.Train(train, validation, server, options);
        var auroc = Chain.Ai.Detection.Metrics.Auroc(test.Labels, model.AttackProbability(test));
        output.WriteLine($"test AUROC {auroc:F4} after {model.History.Count} epochs (kept {model.BestEpoch})");
        Assert.True(auroc > 0.95, $"AUROC {auroc}");
    }

    [Fact]
    public void The_contrastive_term_pulls_paired_embeddings_together()
    {
        const int Seed = 7;
        output.WriteLine($"seed {Seed}");
        var result = Compare(Data(1500, Seed, Signal.Half), Seed, lambda: 1);
        output.WriteLine(result.ToMarkdown());
        var plain = result.Rows[2].TestPairCosine!.Value;
        var aligned = result.Rows[3].TestPairCosine!.Value;
        output.WriteLine($"mean test pair cosine: lambda 0 {plain:F3}, lambda 1 {aligned:F3}");
        Assert.True(aligned > plain + 0.2, $"lambda 1 {aligned} vs lambda 0 {plain}");
        Assert.True(aligned > 0.5);
    }

    [Fact]
    public void Fusion_beats_either_modality_when_each_carries_half_the_signal()
    {
        const int Seed = 9;
        output.WriteLine($"seed {Seed}");
        var result = Compare(Data(3000, Seed, Signal.Half), Seed, lambda: 0.2);
        output.WriteLine(result.ToMarkdown());
        var network = result.Rows[0].Test.Auroc;
        var vitals = result.Rows[1].Test.Auroc;
        foreach (var fused in result.Rows.Skip(2))
        {
            Assert.True(fused.Test.Auroc > Math.Max(network, vitals) + 0.05,
                $"{fused.Model}: AUROC {fused.Test.Auroc} vs network {network}, vitals {vitals}");
        }
        Assert.True(network is > 0.6 and < 0.95 && vitals is > 0.6 and < 0.95, $"each modality alone is partial: {network}, {vitals}");
        Assert.Contains("| vitals-only |", result.ToMarkdown(), StringComparison.Ordinal);
    }

    private static ComparisonResult Compare(TabularDataset data, int seed, double lambda) =>
        MultimodalComparison.Run(data, new MultimodalOptions
        {
            Learning = new SplitLearningOptions { Clients = 2, Epochs = 15, BatchSize = 64, Seed = seed, Patience = 6 },
            Fusion = new FusionOptions { Lambda = lambda, Tau = 0.2 },
        });

    [Fact]
    public void Bad_arguments_give_typed_exceptions()
    {
        output.WriteLine("seed 1 (no training)");
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => new FusionOptions { Lambda = -0.1 }.Validate());
        Assert.Equal("Lambda", negative.ParamName);
        Assert.Equal("Tau", Assert.Throws<ArgumentOutOfRangeException>(() => new FusionOptions { Tau = 0 }.Validate()).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FusionOptions { Tau = -1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new FusionOptions { Lambda = double.NaN }.Validate());
        Assert.Equal("Clients", Assert.Throws<ArgumentOutOfRangeException>(() => new SplitLearningOptions { Clients = 0 }.Validate()).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SplitLearningOptions { CutWidth = 0 }.Validate());

        var data = Data(200, 1, Signal.Half);
        Assert.Throws<ArgumentOutOfRangeException>(() => MultimodalComparison.Run(data, new MultimodalOptions { Fusion = new() { Lambda = -1 } }));
        var noVitals = TabularDataset.Load(new StringReader(Csv(200, 1, Signal.Half)), Options with { VitalColumns = [] });
        Assert.Throws<DatasetException>(() => MultimodalComparison.Run(noVitals, new MultimodalOptions()));
        var allVitals = TabularDataset.Load(new StringReader(Csv(200, 1, Signal.Half)), Options with { VitalColumns = ["n1", "n2", "n3", "v1", "v2", "v3"] });
        Assert.Throws<DatasetException>(() => MultimodalComparison.Run(allVitals, new MultimodalOptions()));

        var options = new SplitLearningOptions { Epochs = 1 };
        var empty = new ModalityRows([[], []], [0, 1], [0, 1]);
        using var server = SplitHeadServer.Create(options, 1);
        Assert.Throws<DatasetException>(() => SplitLearning.Train(empty, empty, server, options));
        // A message of the wrong width is refused by the server.
        Assert.Throws<ArgumentException>(() => server.Train(new CutBatch([0, 1], new float[3], [0, 1])));
        Assert.Throws<ArgumentException>(() => server.Train(new CutBatch([0], new float[options.CutWidth], null)));
    }

    [Fact]
    public async Task The_cli_compares_the_modalities_on_a_synthetic_file()
    {
        output.WriteLine("seed 3");
        var csv = Path.Combine(_dir, "half.csv");
        await File.WriteAllTextAsync(csv, Csv(800, 3, Signal.Half));
        var md = Path.Combine(_dir, "split.md");
        string[] data = ["--data", csv, "--label", "Label", "--family", "Category", "--drop", "Id", "--vitals", "v1,v2,v3"];
        var (code, stdout, stderr) = await CliRun.Run(["fl", "split", .. data, "--epochs", "3", "--clients", "2", "--seed", "3", "--out", md]);
        Assert.True(code == 0, stderr);
        foreach (var model in new[] { "| network-only |", "| vitals-only |", "| fused, lambda 0 |", "| fused + contrastive, lambda 0.5 |" })
            Assert.Contains(model, stdout, StringComparison.Ordinal);
        Assert.Equal(stdout, await File.ReadAllTextAsync(md));
        Assert.Contains("epoch   1", stderr, StringComparison.Ordinal);

        var (twoCode, twoOut, twoErr) = await CliRun.Run(["fl", "split", .. data, "--epochs", "2", "--seeds", "2", "--seed", "4"]);
        Assert.True(twoCode == 0, twoErr);
        Assert.Contains("over 2 seeds (4, 5)", twoOut, StringComparison.Ordinal);
        Assert.Contains("### Seed 5", twoOut, StringComparison.Ordinal);
        Assert.Contains(" ± ", twoOut, StringComparison.Ordinal);

        var (badTau, _, tauErr) = await CliRun.Run(["fl", "split", .. data, "--tau", "0"]);
        Assert.Equal(Cli.Program.Error, badTau);
        Assert.Contains("tau", tauErr, StringComparison.OrdinalIgnoreCase);
        var (badLambda, _, lambdaErr) = await CliRun.Run(["fl", "split", .. data, "--lambda", "-1"]);
        Assert.Equal(Cli.Program.Error, badLambda);
        Assert.Contains("lambda", lambdaErr, StringComparison.OrdinalIgnoreCase);
        var (noVitals, _, vitalsErr) = await CliRun.Run(["fl", "split", "--data", csv, "--label", "Label", "--family", "Category", "--drop", "Id",
            "--vitals", "none", "--epochs", "1"]);
        Assert.Equal(Cli.Program.Error, noVitals);
        Assert.Contains("vital", vitalsErr, StringComparison.Ordinal);
        Assert.Single(vitalsErr.Trim().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
    }

    /// <summary>Passes everything to a real server and keeps a copy of every message it received.</summary>
    private sealed class RecordingServer(ISplitServer inner) : ISplitServer
    {
        public List<CutBatch> Training { get; } = [];

        public List<CutBatch> Inference { get; } = [];

        public int CutWidth => inner.CutWidth;

        public CutReply Train(CutBatch batch)
        {
            Training.Add(batch with { Activations = (float[])batch.Activations.Clone() });
            return inner.Train(batch);
        }

        public float[] Logits(CutBatch batch)
        {
            Inference.Add(batch);
            return inner.Logits(batch);
        }

        public void KeepBest() => inner.KeepBest();

        public void RestoreBest() => inner.RestoreBest();
    }
}
