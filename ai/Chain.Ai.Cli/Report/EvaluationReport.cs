using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Chain.Ai.Robustness;

namespace Chain.Ai.Cli.Report;

/// <summary>Reports on the caller's thread, in order (<see cref="Progress{T}"/> posts to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>How much work the report does: <see cref="Full"/> for EVALUATION.md, <see cref="Quick"/> for tests and a first look.</summary>
public sealed record ReportScale(int DetectorEpochs, int ZeroDayEpochs, int AdversarialEpochs, int ResponderEpisodes, int EvaluationEpisodes,
    int DpEpochs, IReadOnlyList<double> DpNoise, IReadOnlyList<float> AttackBudgets, int MaxAdversarialRows)
{
    public static ReportScale Full { get; } = new(60, 40, 20, 400, 50, 5, [0.6, 0.8, 1.1, 2.0], [0.1f, 0.3f, 0.5f], 3000);

    public static ReportScale Quick { get; } = new(3, 2, 1, 3, 2, 1, [1.1], [0.3f], 300);
}

/// <summary>
/// <c>chain-ai report</c>: every figure of the defense plugin measured on one dataset and one split, written as
/// EVALUATION.md and PNG charts into one folder. Progress goes to <see cref="_progress"/> (stderr).
/// </summary>
internal sealed class EvaluationReport(string dataPath, DatasetOptions dataOptions, TabularDataset data, int seed, ReportScale scale,
    string outDir, TextWriter progress)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly StringBuilder _md = new();
    private readonly TextWriter _progress = progress;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public string Run()
    {
        Directory.CreateDirectory(outDir);
        var chosen = DetectionSplit.Choose(data, seed);
        Header(chosen);
        var detectors = DetectorSection(chosen);
        try
        {
            ZeroDaySection();
            var all = detectors[FeatureGroup.All];
            AdversarialSection(all, chosen);
            ExtraSections(all, chosen);
        }
        finally
        {
            foreach (var d in detectors.Values) d.Dispose();
        }
        _md.AppendLine("## Federated learning").AppendLine()
            .AppendLine("Rounds, poisoning, compression, client-level DP, split learning and fusion, Paillier and secure aggregation: "
                        + "[FEDERATED.md](FEDERATED.md) (the `chain-ai fl` commands; not re-run by this report).");
        _md.AppendLine().AppendLine(Inv, $"_Written by `chain-ai report` in {_clock.Elapsed.TotalMinutes:F1} minutes._");
        var path = Path.Combine(outDir, "EVALUATION.md");
        File.WriteAllText(path + ".tmp", _md.ToString());
        File.Move(path + ".tmp", path, overwrite: true);
        return path;
    }

    private void ExtraSections(Detector detector, ChosenSplit chosen) => ReportSections.Add(this, detector, chosen);

    internal StringBuilder Markdown => _md;

    internal TabularDataset Data => data;

    internal int Seed => seed;

    internal ReportScale Scale => scale;

    internal string OutDir => outDir;

    internal void Step(string what) => _progress.WriteLine(string.Create(Inv, $"[{_clock.Elapsed:hh\\:mm\\:ss}] {what}"));

    private void Header(ChosenSplit chosen)
    {
        var families = data.AttackFamilies(dataOptions.NormalValue);
        _md.AppendLine("# Evaluation of the IoMT defense plugin").AppendLine();
        _md.AppendLine(Inv, $"- Date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}");
        _md.AppendLine(Inv, $"- Commit: {Commit()}");
        _md.AppendLine(Inv, $"- Machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription.Trim()}, {RuntimeInformation.FrameworkDescription}; TorchSharp on CPU");
        _md.AppendLine(S($"- Data: `{Path.GetFileName(dataPath)}` (sha256 `{Sha256(dataPath)}`), {data.Count:N0} rows, ") +
                            S($"{data.Labels.Count(l => l == 1):N0} attacks ({string.Join(", ", families.Select(f => $"{f} {data.Families.Count(x => x == f):N0}"))}), ") +
                            S($"{data.FeatureNames.Count} features ({data.IsVital.Count(v => v)} vital signs)"));
        _md.AppendLine(S($"- Columns removed before anything is fitted: {(dataOptions.Drop.Count == 0 ? "none" : string.Join(", ", dataOptions.Drop.Select(c => $"`{c}`")))} ") +
                            "(label leaks, identifiers and constant columns; see the dataset's README and `DatasetOptions.WustlEhms2020`), and the label columns");
        _md.AppendLine(S($"- Split: {chosen.Description}: {chosen.Split.Train.Count:N0} train / {chosen.Split.Validation.Count:N0} validation / ") +
                            S($"{chosen.Split.Test.Count:N0} test rows. The scaler is fitted on train rows; epochs and thresholds are chosen on validation rows; test rows are used only for the figures below."));
        _md.AppendLine(Inv, $"- Seed: {seed}. Scale: {(scale == ReportScale.Quick ? "quick (a smoke run: few epochs, figures not meaningful)" : "full")}.");
        _md.AppendLine();
    }

    private Dictionary<FeatureGroup, Detector> DetectorSection(ChosenSplit chosen)
    {
        _md.AppendLine("## Detector: benign vs attack on held-out, later traffic").AppendLine();
        _md.AppendLine("A multi-task MLP (attack logit plus attack-family logits), threshold chosen for best F1 on the validation rows.").AppendLine();
        _md.AppendLine("The last two columns use the other operating point: the threshold that flags at most 1% of the validation benign rows.").AppendLine();
        _md.AppendLine("| features | accuracy | precision | recall | F1 | FPR | AUROC | AUPRC | threshold | F1 at 1% validation FPR | test FPR there |");
        _md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        var train = data.Subset(chosen.Split.Train);
        var validation = data.Subset(chosen.Split.Validation);
        var test = data.Subset(chosen.Split.Test);
        var result = new Dictionary<FeatureGroup, Detector>();
        var curves = new List<(string, double[], double[])>();
        var roc = new List<(string, double[], double[])>();
        foreach (var group in new[] { FeatureGroup.All, FeatureGroup.Network, FeatureGroup.Vitals })
        {
            Step($"detector: training on {Name(group)} features ({scale.DetectorEpochs} epochs at most)");
            var options = new DetectorOptions { Features = group, Seed = seed, Epochs = scale.DetectorEpochs, Patience = Math.Max(2, scale.DetectorEpochs / 5) };
            var detector = Detector.Train(train, validation, options);
            result[group] = detector;
            var scores = detector.AttackProbability(test.Select(group).Rows);
            var r = Metrics.Binary(test.Labels, scores, detector.Threshold);
            var v = validation.Select(group);
            var strict = Metrics.Binary(test.Labels, scores, Metrics.ThresholdAtFpr(v.Labels, detector.AttackProbability(v.Rows), 0.01));
            _md.AppendLine(Inv, $"| {Name(group)} | {r.Accuracy:F4} | {r.Precision:F4} | {r.Recall:F4} | **{r.F1:F4}** | {r.FalsePositiveRate:F4} | **{r.Auroc:F4}** | {r.Auprc:F4} | {r.Threshold:F3} | {strict.F1:F4} | {strict.FalsePositiveRate:F4} |");
            Step($"detector ({Name(group)}): test F1 {r.F1:F4}, AUROC {r.Auroc:F4}");
            curves.Add(($"{Name(group)}: validation AUROC", [.. detector.History.Select(h => (double)h.Epoch)], [.. detector.History.Select(h => h.ValidationAuroc)]));
            var (fpr, tpr) = Metrics.RocCurve(test.Labels, scores);
            roc.Add(($"{Name(group)} (AUROC {r.Auroc:F3})", fpr, tpr));
        }
        Charts.Lines(Path.Combine(outDir, "detector-learning.png"), "Detector: validation AUROC per epoch", "epoch", "validation AUROC", curves);
        var all = result[FeatureGroup.All];
        Charts.Lines(Path.Combine(outDir, "detector-loss.png"), "Detector (all features): loss per epoch", "epoch", "loss",
        [
            ("train", [.. all.History.Select(h => (double)h.Epoch)], [.. all.History.Select(h => h.TrainLoss)]),
            ("validation", [.. all.History.Select(h => (double)h.Epoch)], [.. all.History.Select(h => h.ValidationLoss)]),
        ]);
        Charts.Lines(Path.Combine(outDir, "roc.png"), "Detector ROC on the test rows", "false-positive rate", "true-positive rate", roc, diagonal: true);
        _md.AppendLine().AppendLine("![learning curves](detector-learning.png) ![loss](detector-loss.png) ![ROC](roc.png)").AppendLine();
        return result;
    }

    private void ZeroDaySection()
    {
        Step($"zero-day: one detector per held-out family ({scale.ZeroDayEpochs} epochs at most)");
        var report = ZeroDay.Evaluate(data, new DetectorOptions { Seed = seed, Epochs = scale.ZeroDayEpochs, Patience = Math.Max(2, scale.ZeroDayEpochs / 5) },
            maxFpr: 0.01, progress: new SyncProgress<string>(Step));
        _md.AppendLine("## Zero-day: blocking a family the detector never saw").AppendLine();
        _md.AppendLine(S($"Each family is removed from training and validation in turn; the threshold is set on validation benign rows for FPR <= {report.MaxFpr:P0}. ") +
                            S($"Delay: events of a campaign (a run of the family's events, gaps of at most {report.Gap} rows) before the first blocked one. Split: {report.Split}.")).AppendLine();
        _md.AppendLine("| family | detector | scope | events | blocked | benign FPR (test) | campaigns | missed | mean delay | median delay |");
        _md.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var f in report.Unseen.Concat(report.Known))
        {
            _md.AppendLine(Inv, $"| {f.Family} | {(f.Unseen ? "**never saw it**" : "knew every family")} | {f.Scope} | {f.Events} | **{f.BlockedShare:P1}** | {f.BenignFpr:P2} | {f.Campaigns} | {f.MissedCampaigns} | {f.MeanDelay:F2} | {f.MedianDelay:F1} |");
        }
        _md.AppendLine();
        ZeroDayDetector = report;
    }

    internal ZeroDayReport? ZeroDayDetector { get; private set; }

    private void AdversarialSection(Detector plain, ChosenSplit chosen)
    {
        _md.AppendLine("## Adversarial robustness (FGSM, PGD)").AppendLine();
        _md.AppendLine("An evasion attack: only attack rows are perturbed (towards \"benign\"); benign rows are left as they are. Perturbations in scaled units (standard deviations of the training data), L-infinity, every feature kept within the range seen in training " +
                       "(a row already outside keeps its own value as the bound). PGD: 10 steps of 2.5 eps / 10 from a random start. " +
                       $"Robust model: the all-features detector fine-tuned for {scale.AdversarialEpochs} epochs on half clean, half PGD (5 steps) loss, " +
                       "its threshold re-chosen on validation. Accuracy over attack and benign rows, on at most " + scale.MaxAdversarialRows.ToString(Inv) + " test rows (the attack rows, at most half, then benign rows, each in time order).").AppendLine();
        var features = plain.FeatureGroup;
        var trainRows = plain.Scaler.Transform(data.Subset(chosen.Split.Train).Select(features).Rows);
        var trainLabels = data.Subset(chosen.Split.Train).Labels.ToArray();
        var bounds = FeatureBounds.FromRows(trainRows);
        var attackRows = chosen.Split.Test.Where(i => data.Labels[i] == 1).Take(scale.MaxAdversarialRows / 2).ToList();
        var testIdx = attackRows.Concat(chosen.Split.Test.Where(i => data.Labels[i] == 0).Take(scale.MaxAdversarialRows - attackRows.Count))
            .Order().ToArray();
        var testRows = plain.Scaler.Transform(data.Subset(testIdx).Select(features).Rows);
        var testLabels = testIdx.Select(i => data.Labels[i]).ToArray();

        using var robust = Detector.FromBytes(plain.ToBytes(), "copy of the detector");
        Step($"adversarial training: {scale.AdversarialEpochs} epochs");
        AdversarialTraining.Train(robust.Network, trainRows, trainLabels, bounds,
            new AdversarialTrainingOptions
            {
                Epochs = scale.AdversarialEpochs, Seed = seed, Attack = new AttackOptions { Epsilon = scale.AttackBudgets.Max(), Steps = 5 },
                PositiveWeight = (float)trainLabels.Count(l => l == 0) / Math.Max(1, trainLabels.Count(l => l == 1)),
            }, new SyncProgress<string>(Step));
        var validation = data.Subset(chosen.Split.Validation).Select(features);
        var robustThreshold = Metrics.BestF1Threshold(validation.Labels, robust.AttackProbability(validation.Rows)).Threshold;

        _md.AppendLine("| model | eps | clean accuracy | FGSM accuracy | PGD accuracy | attacks caught, clean | attacks caught, PGD |");
        _md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var eps in scale.AttackBudgets)
        {
            Step($"adversarial evaluation at eps {eps}");
            var attack = new AttackOptions { Epsilon = eps, Steps = 10 };
            foreach (var (name, model, threshold) in new[] { ("standard", plain, plain.Threshold), ("adversarially trained", robust, robustThreshold) })
            {
                var r = AdversarialTraining.Evaluate(model.Network, testRows, testLabels, threshold, bounds, attack, seed);
                _md.AppendLine(Inv, $"| {name} | {eps:F1} | {r.Clean:F4} | {r.Fgsm:F4} | **{r.Pgd:F4}** | {r.CleanAttackRecall:P1} | {r.PgdAttackRecall:P1} |");
            }
        }
        _md.AppendLine();
    }

    private static string S(FormattableString s) => s.ToString(Inv);

    internal static string Name(FeatureGroup group) => group switch
    {
        FeatureGroup.Network => "network flow",
        FeatureGroup.Vitals => "vital signs",
        _ => "all",
    };

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string Commit()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (git is null) return "unknown";
            var text = git.StandardOutput.ReadToEnd().Trim();
            return git.WaitForExit(5000) && git.ExitCode == 0 && text.Length > 0 ? text : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown (git not found)";
        }
    }
}
