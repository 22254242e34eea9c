using System.Security.Cryptography;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Detection;

/// <summary>One detector trained once on the synthetic data, shared by the tests that only read it.</summary>
public sealed class TrainedSynthetic : IDisposable
{
    public const int Seed = 11;

    public TrainedSynthetic()
    {
        (Detector, Test) = Train();
    }

    public Detector Detector { get; }

    public TabularDataset Test { get; }

    public static DetectorOptions Small(FeatureGroup features = FeatureGroup.All) => new()
    {
        Hidden = [16, 8],
        Epochs = 12,
        BatchSize = 64,
        LearningRate = 3e-3,
        Seed = Seed,
        Features = features,
        Patience = 0,
    };

    public static (Detector Detector, TabularDataset Test) Train(FeatureGroup features = FeatureGroup.All)
    {
        var data = SyntheticIomt.Load();
        var split = DetectionSplit.Choose(data, Seed).Split;
        var detector = Detector.Train(data.Subset(split.Train), data.Subset(split.Validation), Small(features));
        return (detector, data.Subset(split.Test));
    }

    public void Dispose() => Detector.Dispose();
}

/// <summary>The detector on small synthetic data (seeded; each test prints its seed).</summary>
public sealed class DetectorTests(ITestOutputHelper output, TrainedSynthetic trained) : IDisposable, IClassFixture<TrainedSynthetic>
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-detector-").FullName;

    private static DetectorOptions Small(FeatureGroup features = FeatureGroup.All) => TrainedSynthetic.Small(features);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (Detector Detector, TabularDataset Test) Shared()
    {
        output.WriteLine($"seed {TrainedSynthetic.Seed}, synthetic data seed 7");
        return (trained.Detector, trained.Test);
    }

    [Fact]
    public void Seeded_training_on_separable_data_detects_the_attacks()
    {
        var (detector, test) = Shared();
        var report = Metrics.Binary(test.Labels, detector.AttackProbability(test.Rows), detector.Threshold);
        output.WriteLine($"test accuracy {report.Accuracy:F4}, F1 {report.F1:F4}, AUROC {report.Auroc:F4}");
        Assert.True(report.Auroc > 0.97, $"AUROC {report.Auroc}");
        Assert.True(report.Accuracy > 0.95, $"accuracy {report.Accuracy}");
        Assert.True(report.F1 > 0.8, $"F1 {report.F1}");
        Assert.Equal(["normal", SyntheticIomt.Alteration, SyntheticIomt.Spoofing], detector.Families);
        Assert.Equal(12, detector.History.Count);
        Assert.All(detector.History, h => Assert.True(double.IsFinite(h.TrainLoss) && h.ValidationAuroc is >= 0 and <= 1));
        Assert.True(detector.History[^1].TrainLoss < detector.History[0].TrainLoss);

        // The family head names what it saw: most attack rows get their own family.
        var attacks = Enumerable.Range(0, test.Count).Where(i => test.Labels[i] == 1).ToArray();
        var predicted = detector.PredictFamily([.. attacks.Select(i => test.Rows[i])]);
        var right = attacks.Where((i, k) => detector.Families[predicted[k]] == test.Families[i]).Count();
        Assert.True(right > attacks.Length * 0.8, $"{right} of {attacks.Length} families right");
    }

    [Fact]
    public void The_same_seed_gives_identical_probabilities()
    {
        var (first, test) = Shared();
        var (second, _) = TrainedSynthetic.Train();
        using (second)
        {
            Assert.Equal(first.AttackProbability(test.Rows), second.AttackProbability(test.Rows));
            Assert.Equal(first.Threshold, second.Threshold);
            Assert.Equal(first.ToBytes(), second.ToBytes());
        }
    }

    [Fact]
    public void The_single_event_path_agrees_with_the_batch_path()
    {
        var (detector, test) = Shared();
        var batch = detector.AttackProbability(test.Rows);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(batch[i], detector.AttackProbability(test.Rows[i].AsSpan()), 5);
        }
        Assert.Equal(batch[0] >= detector.Threshold, detector.IsAttack(test.Rows[0]));

        // Latency of one event (printed, not asserted: the machine is shared).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) detector.AttackProbability(test.Rows[i % test.Count].AsSpan());
        output.WriteLine($"single event: {clock.Elapsed.TotalMicroseconds / 1000:F1} us, " +
                         $"{(GC.GetAllocatedBytesForCurrentThread() - allocated) / 1000} managed bytes per call");
    }

    [Fact]
    public void Save_and_load_round_trip_gives_identical_outputs_and_identical_bytes()
    {
        var (detector, test) = Shared();
        var path = Path.Combine(_dir, "model.bin");
        detector.Save(path);
        var bytes = File.ReadAllBytes(path);
        detector.Save(path);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));

        using var loaded = Detector.Load(path);
        Assert.Equal(detector.AttackProbability(test.Rows), loaded.AttackProbability(test.Rows));
        Assert.Equal(detector.Threshold, loaded.Threshold);
        Assert.Equal(detector.FeatureNames, loaded.FeatureNames);
        Assert.Equal(detector.Families, loaded.Families);
        Assert.Equal(detector.FeatureGroup, loaded.FeatureGroup);
        Assert.Equal(detector.Scaler.Mean, loaded.Scaler.Mean);
        Assert.Equal(detector.Scaler.Scale, loaded.Scaler.Scale);
        using var copy = Detector.FromBytes(detector.ToBytes(), "copy");
        Assert.Equal(detector.AttackProbability(test.Rows), copy.AttackProbability(test.Rows));
        Assert.Contains("copy", Assert.Throws<DetectorFormatException>(() => Detector.FromBytes(bytes[..^1], "copy")).Message,
            StringComparison.Ordinal);
        var again = Path.Combine(_dir, "again.bin");
        loaded.Save(again);
        Assert.Equal(SHA256.HashData(bytes), SHA256.HashData(File.ReadAllBytes(again)));
    }

    [Fact]
    public void Corrupt_truncated_foreign_or_missing_model_files_are_refused_with_the_typed_error()
    {
        var (detector, _) = Shared();
        var bytes = detector.ToBytes();
        string Write(string name, byte[] content)
        {
            var p = Path.Combine(_dir, name);
            File.WriteAllBytes(p, content);
            return p;
        }

        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x40;
        var newer = (byte[])bytes.Clone();
        newer[8] = 2;
        var cases = new Dictionary<string, string>
        {
            [Write("flipped.bin", flipped)] = "corrupt or truncated",
            [Write("truncated.bin", bytes[..(bytes.Length - 100)])] = "corrupt or truncated",
            [Write("header-only.bin", bytes[..10])] = "truncated",
            [Write("foreign.bin", "Dir,Flgs,SrcAddr\n1,2,3\n"u8.ToArray())] = "not a Chain detector model",
            [Write("empty.bin", [])] = "not a Chain detector model",
            [Write("newer.bin", newer)] = "version 2",
            [Path.Combine(_dir, "absent.bin")] = "no such model file",
        };
        foreach (var (path, expected) in cases)
        {
            var e = Assert.Throws<DetectorFormatException>(() => Detector.Load(path));
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            Assert.Contains(Path.GetFileName(path), e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_feature_group_restricts_the_input_width()
    {
        output.WriteLine($"seed {TrainedSynthetic.Seed}, synthetic data seed 7");
        var (detector, test) = TrainedSynthetic.Train(FeatureGroup.Vitals);
        using var _ = detector;
        Assert.Equal(["v1", "v2"], detector.FeatureNames);
        Assert.Equal(FeatureGroup.Vitals, detector.FeatureGroup);
        var vitals = test.Select(FeatureGroup.Vitals);
        Assert.Equal(vitals.Count, detector.AttackProbability(vitals.Rows).Length);
        var e = Assert.Throws<ArgumentException>(() => detector.AttackProbability(test.Rows));
        Assert.Contains("6 features", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => detector.AttackProbability(test.Rows[0].AsSpan()));
        var first = detector.Network.parameters().First();
        Assert.Equal(2, first.shape[1]); // the first layer reads 2 inputs
    }

    [Fact]
    public void Bad_options_and_one_class_training_data_are_refused()
    {
        var data = SyntheticIomt.Load(rows: 300);
        Assert.Throws<ArgumentException>(() => Detector.Train(data, data, Small() with { Epochs = 0 }));
        Assert.Throws<ArgumentException>(() => Detector.Train(data, data, Small() with { Dropout = 1 }));
        Assert.Throws<ArgumentException>(() => Detector.Train(data, data, Small() with { Hidden = [] }));
        var benign = data.Subset([.. Enumerable.Range(0, 50)]);
        var e = Assert.Throws<DatasetException>(() => Detector.Train(benign, data, Small()));
        Assert.Contains("both benign and attack rows", e.Message, StringComparison.Ordinal);
    }
}
