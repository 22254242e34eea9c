using Chain.Ai.Cli;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Detection;

/// <summary>A brief training run on the shared WUSTL-EHMS-2020 file, when it exists (it lives outside the repository).</summary>
public sealed class WustlDetectorTests(ITestOutputHelper output)
{
    [Fact]
    public void A_short_run_on_the_shared_wustl_file_separates_attacks_on_the_chronological_test_part()
    {
        var path = DataArguments.FindDefaultData(AppContext.BaseDirectory);
        if (path is null)
        {
            output.WriteLine($"skipping: {DataArguments.DefaultDataRelativePath} not found above {AppContext.BaseDirectory}");
            return;
        }
        const int seed = 1;
        output.WriteLine($"seed {seed}, data {path}");
        var data = TabularDataset.Load(path, DatasetOptions.WustlEhms2020);
        var chosen = DetectionSplit.Choose(data, seed);
        Assert.StartsWith("chronological", chosen.Description, StringComparison.Ordinal);
        var options = new DetectorOptions { Epochs = 6, BatchSize = 256, LearningRate = 3e-3, Seed = seed, Patience = 0 };
        using var detector = Detector.Train(data.Subset(chosen.Split.Train), data.Subset(chosen.Split.Validation), options);
        var test = data.Subset(chosen.Split.Test);
        var report = Metrics.Binary(test.Labels, detector.AttackProbability(test.Rows), detector.Threshold);
        output.WriteLine($"test AUROC {report.Auroc:F4}, F1 {report.F1:F4}, accuracy {report.Accuracy:F4}");
        Assert.True(report.Auroc > 0.85, $"AUROC {report.Auroc}");
    }
}
