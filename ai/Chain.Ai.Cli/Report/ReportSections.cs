using System.Globalization;
using System.Diagnostics;
using Chain.Ai.Data;
using Chain.Ai.Defense;
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
        Responder(report, detector, chosen);
        Privacy(report, detector, chosen);
    }

    /// <summary>The DQN responder against the static baseline, with every family and per unseen family.</summary>
    private static void Responder(EvaluationReport report, Detector detector, ChosenSplit chosen)
    {
        var md = report.Markdown;
        var data = report.Data;
        var scale = report.Scale;
        var group = detector.FeatureGroup;
        var train = data.Subset(chosen.Split.Train).Select(group);
        var test = data.Subset(chosen.Split.Test).Select(group);
        var options = new DefenseOptions();
        var dqn = new DqnOptions
        {
            Seed = report.Seed, TrainEvery = 2, EpsilonDecaySteps = Math.Max(2_000, scale.ResponderEpisodes * options.EpisodeSteps / 2),
        };
        var curves = new List<(string, double[], double[])>();
        md.AppendLine("## RL responder against the static baseline").AppendLine();
        md.AppendLine(string.Create(Inv,
            $"The environment replays the data's events on {options.Devices} invented devices ({options.ClinicalDevices} clinical; the data has no device column, so benign rows are dealt to devices in contiguous stretches) ") +
            string.Create(Inv, $"with {options.CampaignsPerEpisode} attack campaigns per {options.EpisodeSteps}-step episode, each a natural run of one family's attack rows aimed at one device. ") +
            "The state is the detector's attack probability plus device context and recent actions; the actions are allow, rate-limit, quarantine, re-authenticate, " +
            "rotate keys (ends credential-style campaigns and requests a custody share refresh) and escalate. The reward counts attack events stopped against " +
            "attack events let through and, heavier, clinical benign events blocked or delayed. DQN: Double-DQN targets, target network, replay buffer, " +
            string.Create(Inv, $"{scale.ResponderEpisodes} training episodes on the train rows; evaluation: {scale.EvaluationEpisodes} episodes on the test rows. ") +
            "Static baseline: one threshold on the detector's score fitted on the known families' train rows; on an alert it quarantines a non-clinical device and escalates a clinical one.").AppendLine();

        report.Step($"responder: training the DQN agent ({scale.ResponderEpisodes} episodes, all families)");
        var scorer = new DetectorScorer(detector);
        var testEnv = new DefenseEnvironment(test, scorer, options);
        ResponderReport agentReport, baselineReport, allowReport;
        var trainEnv = new DefenseEnvironment(train, scorer, options);
        using (var agent = new DqnAgent(trainEnv.StateWidth, dqn))
        {
            var curve = agent.Train(trainEnv, scale.ResponderEpisodes, Episodes(report));
            curves.Add(("every family", [.. Enumerable.Range(1, curve.Count).Select(i => (double)i)], [.. curve.Select(v => (double)v)]));
            agentReport = ResponderEvaluation.Run(agent, testEnv, scale.EvaluationEpisodes);
        }
        var baseline = StaticBaseline.Fit(train, scorer);
        baselineReport = ResponderEvaluation.Run(baseline, testEnv, scale.EvaluationEpisodes);
        allowReport = ResponderEvaluation.Run(AllowAllPolicy.Instance, testEnv, scale.EvaluationEpisodes);
        var (scoreMean, scoreP99) = ScoringLatency(detector, test);

        md.AppendLine("| policy | attacks stopped | per family | benign events blocked (FPR) | clinical disruption | return per episode | policy decision mean / p99 (µs) |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var (name, r) in new[] { ("DQN responder", agentReport), ("static baseline", baselineReport), ("allow everything", allowReport) })
            md.AppendLine(Row(name, r));
        md.AppendLine();
        md.AppendLine(string.Create(Inv,
            $"Decision latency per event is the detector's scoring of the event, **{scoreMean:F1} µs mean, {scoreP99:F1} µs p99** (measured over the test rows one at a time), ") +
            "plus the policy's decision in the table: far under the 35 ms clinical bound. Latencies on a 2-core VM shared with other work.").AppendLine();

        md.AppendLine("### Zero-day: responder and baseline on a family neither they nor the detector saw").AppendLine();
        md.AppendLine("For each family: a detector trained and validated without it, the agent trained with campaigns of the other families only, the baseline's threshold fitted without it; evaluated with campaigns of the unseen family only.").AppendLine();
        md.AppendLine("| unseen family | policy | attacks stopped | benign events blocked (FPR) | clinical disruption | return per episode |");
        md.AppendLine("|---|---|---|---|---|---|");
        var families = data.AttackFamilies();
        var agentShare = new double[families.Count];
        var baselineShare = new double[families.Count];
        for (var k = 0; k < families.Count; k++)
        {
            var family = families[k];
            report.Step($"responder zero-day: {family} (detector without it, then {scale.ResponderEpisodes} episodes)");
            var trainBlind = data.Subset([.. chosen.Split.Train.Where(i => data.Families[i] != family)]);
            var validationBlind = data.Subset([.. chosen.Split.Validation.Where(i => data.Families[i] != family)]);
            using var blind = Detector.Train(trainBlind, validationBlind,
                new DetectorOptions { Features = group, Seed = report.Seed, Epochs = scale.ZeroDayEpochs, Patience = Math.Max(2, scale.ZeroDayEpochs / 5) });
            var z = ResponderEvaluation.ZeroDay(train, test, new DetectorScorer(blind), family, options, dqn, scale.ResponderEpisodes, scale.EvaluationEpisodes, progress: Episodes(report));
            curves.Add(($"without {family}", [.. Enumerable.Range(1, z.LearningCurve.Count).Select(i => (double)i)], [.. z.LearningCurve.Select(v => (double)v)]));
            foreach (var (name, r) in new[] { ("DQN responder", z.Agent), ("static baseline", z.Baseline), ("allow everything", z.AllowAll) })
            {
                md.AppendLine(string.Create(Inv,
                    $"| {family} | {name} | **{r.BlockingRate:P1}** | {r.FalsePositiveRate:P2} | {r.ClinicalDisruption:P2} | {r.MeanEpisodeReturn:F1} |"));
            }
            agentShare[k] = z.Agent.BlockingRate;
            baselineShare[k] = z.Baseline.BlockingRate;
        }
        md.AppendLine();
        Charts.Lines(Path.Combine(report.OutDir, "responder-learning.png"), "DQN responder: return per training episode", "episode", "return", curves);
        var detectorShare = families.Select(f => report.ZeroDayDetector?.Unseen.FirstOrDefault(u => u.Family == f)?.BlockedShare ?? double.NaN).ToArray();
        Charts.Bars(Path.Combine(report.OutDir, "zero-day-blocking.png"), "Zero-day: share of an unseen family's attack events stopped", "share stopped",
            families, [("detector at 1% FPR", detectorShare), ("DQN responder", agentShare), ("static baseline", baselineShare)], yMax: 1.05);
        md.AppendLine("![responder learning curves](responder-learning.png) ![zero-day blocking per family](zero-day-blocking.png)").AppendLine();
    }

    /// <summary>A line every 25 training episodes.</summary>
    private static SyncProgress<DqnEpisode> Episodes(EvaluationReport report) => new(e =>
    {
        if (e.Episode % 25 == 0) report.Step(string.Create(Inv, $"  episode {e.Episode}: return {e.Return:F1}, exploration {e.Epsilon:F2}"));
    });

    private static string Row(string name, ResponderReport r) => string.Create(Inv,
        $"| {name} | **{r.BlockingRate:P1}** | {string.Join(", ", r.PerFamily.Select(f => $"{f.Family} {f.Rate:P1}"))} | {r.FalsePositiveRate:P2} | {r.ClinicalDisruption:P2} | {r.MeanEpisodeReturn:F1} | {r.MeanLatencyMicros:F2} / {r.P99LatencyMicros:F2} |");

    /// <summary>The detector's single-event scoring time over (at most 2,000) test rows, after a warm-up.</summary>
    private static (double Mean, double P99) ScoringLatency(Detector detector, TabularDataset test)
    {
        var rows = test.Rows.Take(2_000).ToArray();
        foreach (var r in rows.Take(50)) detector.AttackProbability(r.AsSpan());
        var times = new double[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            detector.AttackProbability(rows[i].AsSpan());
            times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(times);
        return (times.Average(), times[Math.Min(times.Length - 1, (int)Math.Ceiling(times.Length * 0.99) - 1)]);
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
