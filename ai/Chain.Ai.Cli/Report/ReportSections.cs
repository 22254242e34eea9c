using System.Globalization;
using Chain.Ai.Detection;
using Chain.Ai.Privacy;
using static TorchSharp.torch;

namespace Chain.Ai.Cli.Report;

/// <summary>The report's responder and privacy sections.</summary>
internal static class ReportSections
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Add(EvaluationReport report, Detector detector, ChosenSplit chosen)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(detector);
        ArgumentNullException.ThrowIfNull(chosen);
        Privacy(report, detector, chosen);
    }

    /// <summary>DP-SGD on the detector's features: one model per noise multiplier, epsilon from the RDP accountant.</summary>
    private static void Privacy(EvaluationReport report, Detector detector, ChosenSplit chosen)
    {
        var md = report.Markdown;
        var scale = report.Scale;
        var data = report.Data;
        const int batch = 256;
        const double delta = 1e-5;
        var train = data.Subset(chosen.Split.Train).Select(detector.FeatureGroup);
        var test = data.Subset(chosen.Split.Test).Select(detector.FeatureGroup);
        var width = train.FeatureNames.Count;
        using var scope = NewDisposeScope();
        // The detector's own input transform: the scaler fitted on train rows, then asinh.
        var xTrain = tensor(detector.Scaler.Transform(train.Rows).SelectMany(r => r).ToArray(), [train.Count, width]).asinh();
        var yTrain = tensor(train.Labels.Select(l => (float)l).ToArray());
        var xTest = tensor(detector.Scaler.Transform(test.Rows).SelectMany(r => r).ToArray(), [test.Count, width]).asinh();
        var yTest = tensor(test.Labels.Select(l => (float)l).ToArray());
        var options = new DpSgdOptions
        {
            ExpectedBatchSize = batch, Epochs = scale.DpEpochs, MaxGradNorm = 1.0, LearningRate = 5e-3, Optimizer = DpOptimizer.Adam,
            Seed = report.Seed, Delta = delta,
        };
        var noise = new List<double> { 0 };
        noise.AddRange(scale.DpNoise);
        report.Step($"DP-SGD: {noise.Count} models (per-example gradients, about a minute each on 2 cores)");
        var rows = PrivacyUtility.Measure(() => nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)),
            DpSgd.BinaryCrossEntropyWithLogits, xTrain, yTrain, xTest, yTest, noise, options,
            row => report.Step($"DP-SGD sigma {row.NoiseMultiplier}: epsilon {row.Epsilon:F3}, test accuracy {row.TestAccuracy:F4}, AUROC {row.TestAuroc:F4}"));

        md.AppendLine("## Differential privacy (DP-SGD): utility against epsilon").AppendLine();
        md.AppendLine(string.Create(Inv,
            $"An MLP {width}-64-32-1 on the detector's scaled inputs, {scale.DpEpochs} epochs of DP-SGD: Poisson batches of expected size {batch} " +
            $"(q = {(double)batch / train.Count:F4}), each example's gradient clipped to L2 norm 1, Gaussian noise sigma x 1 per coordinate, Adam. ")
            + "Epsilon at delta = 1e-5 from the RDP accountant of the sampled Gaussian mechanism (improved RDP-to-DP conversion; the accountant's " +
            "tests check it against published TensorFlow Privacy and Opacus values). Sigma 0 is the non-private run on the same batches. " +
            "Binary task; AUROC on the test rows (threshold-free), accuracy at 0.5.").AppendLine();
        md.AppendLine("| noise multiplier | epsilon (delta 1e-5) | best RDP order | test accuracy | test AUROC | steps | training seconds |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            md.AppendLine(string.Create(Inv,
                $"| {r.NoiseMultiplier:F1} | {(double.IsPositiveInfinity(r.Epsilon) ? "∞ (not private)" : r.Epsilon.ToString("F3", Inv))} | {r.OptimalOrder:G4} | {r.TestAccuracy:F4} | {r.TestAuroc:F4} | {r.Steps} | {r.TrainSeconds:F0} |"));
        }
        md.AppendLine();
        var finite = rows.Where(r => double.IsFinite(r.Epsilon)).OrderBy(r => r.Epsilon).ToList();
        if (finite.Count > 0)
        {
            Charts.Lines(Path.Combine(report.OutDir, "privacy-utility.png"), "DP-SGD: test AUROC against epsilon (delta 1e-5)", "epsilon", "test AUROC",
                [("DP-SGD", [.. finite.Select(r => r.Epsilon)], [.. finite.Select(r => r.TestAuroc)]),
                 ("non-private", [finite[0].Epsilon, finite[^1].Epsilon], [rows[0].TestAuroc, rows[0].TestAuroc])]);
            md.AppendLine("![utility against epsilon](privacy-utility.png)").AppendLine();
        }
    }
}
