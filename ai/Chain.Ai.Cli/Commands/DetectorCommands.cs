using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Chain.Ai.Data;
using Chain.Ai.Detection;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai train</c>, <c>evaluate</c> and <c>zero-day</c>: the intrusion detector on a tabular IoMT dataset (the
/// shared options in <see cref="DataArguments"/>). Every command uses <see cref="DetectionSplit"/>, so they agree on the
/// test rows; nothing is fitted or chosen on them. Exit codes: 0 done, 1 a --min-* check failed, 2 bad arguments, data
/// or model file (one line on stderr).
/// </summary>
public static class DetectorCommands
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Add(RootCommand root, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Add(TrainCommand(stdout, stderr));
        root.Add(EvaluateCommand(stdout, stderr));
        root.Add(ZeroDayCommand(stdout, stderr));
    }

    private static Command TrainCommand(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("train", "Trains the detector on the train part, selects epoch and threshold on the validation " +
                                           "part, prints the test metrics and writes the model file.");
        DataArguments.AddTo(command);
        AddTrainingOptions(command);
        var output = new Option<string>("--out") { Description = "Where to write the model file.", Required = true };
        command.Add(output);
        AddChecks(command);
        command.SetAction(result => Guard(stderr, () =>
        {
            var (path, data) = DataArguments.Load(result);
            var options = TrainingOptions(result);
            var chosen = DetectionSplit.Choose(data, options.Seed);
            Describe(stdout, path, data, chosen, options.Features);
            using var detector = Detector.Train(data.Subset(chosen.Split.Train), data.Subset(chosen.Split.Validation), options,
                EpochPrinter(stderr));
            var best = detector.History.MaxBy(h => options.Monitor == StopMetric.F1 ? h.ValidationF1 : h.ValidationAuroc);
            stdout.WriteLine($"epochs run:      {detector.History.Count} (kept epoch {best?.Epoch}, validation AUROC " +
                             $"{F(best?.ValidationAuroc)}, F1 {F(best?.ValidationF1)})");
            var report = Report(detector, data.Subset(chosen.Split.Test));
            Print(stdout, "test", report);
            PrintLowFprPoint(stdout, detector, data, chosen.Split);
            var file = result.GetValue(output)!;
            detector.Save(file);
            stdout.WriteLine($"model:           {file} (sha256 {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)))})");
            return Check(result, report, stderr);
        }));
        return command;
    }

    private static Command EvaluateCommand(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("evaluate", "Scores a saved model on the test part of the data (the split 'train' uses).");
        DataArguments.AddTo(command);
        var model = new Option<string>("--model") { Description = "The model file 'train' wrote.", Required = true };
        command.Add(model);
        AddChecks(command);
        command.SetAction(result => Guard(stderr, () =>
        {
            using var detector = Detector.Load(result.GetValue(model)!);
            var (path, data) = DataArguments.Load(result);
            var selected = data.Select(detector.FeatureGroup);
            if (!selected.FeatureNames.SequenceEqual(detector.FeatureNames, StringComparer.Ordinal))
            {
                throw new DatasetException($"{path}: its {detector.FeatureGroup.ToString().ToLowerInvariant()} features " +
                                           $"({string.Join(",", selected.FeatureNames)}) are not the model's " +
                                           $"({string.Join(",", detector.FeatureNames)}); pass the same data options as for train");
            }
            var chosen = DetectionSplit.Choose(data, DataArguments.Seed(result));
            Describe(stdout, path, data, chosen, detector.FeatureGroup);
            stdout.WriteLine($"threshold:       {detector.Threshold.ToString("R", Inv)} (chosen on validation at training)");
            var report = Report(detector, data.Subset(chosen.Split.Test));
            Print(stdout, "test", report);
            PrintLowFprPoint(stdout, detector, data, chosen.Split);
            return Check(result, report, stderr);
        }));
        return command;
    }

    /// <summary>
    /// A second operating point, also chosen on validation only: the lowest threshold flagging at most 1% of the
    /// validation benign rows (what blocking needs), and the test metrics there.
    /// </summary>
    private static void PrintLowFprPoint(TextWriter stdout, Detector detector, TabularDataset data, Split split)
    {
        const double MaxFpr = 0.01;
        var validation = data.Subset(split.Validation).Select(detector.FeatureGroup);
        var threshold = Metrics.ThresholdAtFpr(validation.Labels, detector.AttackProbability(validation.Rows), MaxFpr);
        var test = data.Subset(split.Test).Select(detector.FeatureGroup);
        var r = Metrics.Binary(test.Labels, detector.AttackProbability(test.Rows), threshold);
        stdout.WriteLine($"at validation FPR <= {F(MaxFpr, 2)}: threshold {threshold.ToString("G6", Inv)}, test accuracy {F(r.Accuracy)}, " +
                         $"precision {F(r.Precision)}, recall {F(r.Recall)}, f1 {F(r.F1)}, fpr {F(r.FalsePositiveRate)}");
    }

    private static Command ZeroDayCommand(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("zero-day", "Per attack family: train without it, then measure how much of it is blocked, " +
                                              "the false-positive rate and the detection delay; and the same with every family known.");
        DataArguments.AddTo(command);
        AddTrainingOptions(command);
        var maxFpr = new Option<double>("--max-fpr")
        {
            Description = "Target false-positive rate on the validation benign rows (sets each threshold).",
            DefaultValueFactory = _ => 0.01,
        };
        var gap = new Option<int>("--gap")
        {
            Description = "Rows of other kinds allowed inside one campaign of a family.",
            DefaultValueFactory = _ => 5,
        };
        command.Add(maxFpr);
        command.Add(gap);
        command.SetAction(result => Guard(stderr, () =>
        {
            var (path, data) = DataArguments.Load(result);
            var options = TrainingOptions(result);
            var fpr = result.GetValue(maxFpr);
            if (!(fpr >= 0 && fpr < 1)) throw new ArgumentException("--max-fpr must be in [0, 1)");
            if (result.GetValue(gap) < 0) throw new ArgumentException("--gap must be >= 0");
            stdout.WriteLine($"data:            {path} ({data.Count} rows, features {options.Features.ToString().ToLowerInvariant()})");
            var report = ZeroDay.Evaluate(data, options, fpr, result.GetValue(gap),
                progress: new LineProgress<string>(stderr.WriteLine), epochs: EpochPrinter(stderr));
            PrintZeroDay(stdout, report);
            return Program.Ok;
        }));
        return command;
    }

    private static void AddTrainingOptions(Command command)
    {
        var d = new DetectorOptions();
        command.Add(new Option<string>("--hidden") { Description = "Hidden layer widths.", DefaultValueFactory = _ => string.Join(",", d.Hidden) });
        command.Add(new Option<int>("--epochs") { Description = "Maximum epochs.", DefaultValueFactory = _ => d.Epochs });
        command.Add(new Option<int>("--batch-size") { Description = "Rows per step.", DefaultValueFactory = _ => d.BatchSize });
        command.Add(new Option<double>("--learning-rate") { Description = "AdamW learning rate.", DefaultValueFactory = _ => d.LearningRate });
        command.Add(new Option<double>("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => d.WeightDecay });
        command.Add(new Option<double>("--dropout") { Description = "Dropout after each hidden layer.", DefaultValueFactory = _ => d.Dropout });
        command.Add(new Option<double?>("--positive-weight")
        {
            Description = "Weight of the attack class in the loss (default: benign/attack ratio of the training rows).",
        });
        command.Add(new Option<double>("--family-weight")
        {
            Description = "Weight of the attack-family loss (0 = binary only).",
            DefaultValueFactory = _ => d.FamilyLossWeight,
        });
        command.Add(new Option<int>("--patience")
        {
            Description = "Stop after this many epochs without a better validation score (0 = never).",
            DefaultValueFactory = _ => d.Patience,
        });
        command.Add(new Option<string>("--monitor")
        {
            Description = "Validation score for early stopping: auroc or f1.",
            DefaultValueFactory = _ => "auroc",
        }.AcceptOnlyFromAmong("auroc", "f1"));
        command.Add(new Option<bool>("--no-compress") { Description = "Do not pass the scaled features through asinh." });
    }

    private static DetectorOptions TrainingOptions(ParseResult r)
    {
        var hidden = (r.GetValue<string>("--hidden") ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(h => int.TryParse(h, NumberStyles.None, Inv, out var v) ? v : throw new ArgumentException($"--hidden: '{h}' is not a width"))
            .ToArray();
        var options = new DetectorOptions
        {
            Hidden = hidden,
            Epochs = r.GetValue<int>("--epochs"),
            BatchSize = r.GetValue<int>("--batch-size"),
            LearningRate = r.GetValue<double>("--learning-rate"),
            WeightDecay = r.GetValue<double>("--weight-decay"),
            Dropout = r.GetValue<double>("--dropout"),
            PositiveWeight = r.GetValue<double?>("--positive-weight"),
            FamilyLossWeight = r.GetValue<double>("--family-weight"),
            Patience = r.GetValue<int>("--patience"),
            Monitor = r.GetValue<string>("--monitor") == "f1" ? StopMetric.F1 : StopMetric.Auroc,
            CompressInputs = !r.GetValue<bool>("--no-compress"),
            Seed = DataArguments.Seed(r),
            Features = DataArguments.Features(r),
        };
        options.Validate();
        return options;
    }

    private static void AddChecks(Command command)
    {
        command.Add(new Option<double?>("--min-auroc") { Description = "Exit 1 when the test AUROC is below this." });
        command.Add(new Option<double?>("--min-f1") { Description = "Exit 1 when the test F1 is below this." });
    }

    private static int Check(ParseResult result, BinaryReport report, TextWriter stderr)
    {
        var ok = true;
        if (result.GetValue<double?>("--min-auroc") is { } auroc && report.Auroc < auroc)
        {
            stderr.WriteLine($"check failed: test AUROC {F(report.Auroc)} < {F(auroc)}");
            ok = false;
        }
        if (result.GetValue<double?>("--min-f1") is { } f1 && report.F1 < f1)
        {
            stderr.WriteLine($"check failed: test F1 {F(report.F1)} < {F(f1)}");
            ok = false;
        }
        return ok ? Program.Ok : Program.CheckFailed;
    }

    private static BinaryReport Report(Detector detector, TabularDataset test)
    {
        var selected = test.Select(detector.FeatureGroup);
        return Metrics.Binary(selected.Labels, detector.AttackProbability(selected.Rows), detector.Threshold);
    }

    private static void Describe(TextWriter stdout, string path, TabularDataset data, ChosenSplit chosen, FeatureGroup group)
    {
        int Attacks(IReadOnlyList<int> rows) => rows.Count(i => data.Labels[i] == 1);
        var s = chosen.Split;
        stdout.WriteLine($"data:            {path} ({data.Count} rows, {Attacks(Enumerable.Range(0, data.Count).ToArray())} attacks, " +
                         $"features {group.ToString().ToLowerInvariant()}: {data.Select(group).FeatureNames.Count})");
        stdout.WriteLine($"split:           {chosen.Description}; train {s.Train.Count} ({Attacks(s.Train)} attacks), " +
                         $"validation {s.Validation.Count} ({Attacks(s.Validation)}), test {s.Test.Count} ({Attacks(s.Test)})");
    }

    private static void Print(TextWriter stdout, string part, BinaryReport r)
    {
        stdout.WriteLine($"{part} rows:       {r.Count} ({r.Positives} attacks), threshold {r.Threshold.ToString("G6", Inv)}");
        stdout.WriteLine($"accuracy:        {F(r.Accuracy)}");
        stdout.WriteLine($"precision:       {F(r.Precision)}");
        stdout.WriteLine($"recall:          {F(r.Recall)}");
        stdout.WriteLine($"f1:              {F(r.F1)}");
        stdout.WriteLine($"fpr:             {F(r.FalsePositiveRate)}");
        stdout.WriteLine($"auroc:           {F(r.Auroc)}");
        stdout.WriteLine($"auprc:           {F(r.Auprc)}");
    }

    private static void PrintZeroDay(TextWriter stdout, ZeroDayReport report)
    {
        stdout.WriteLine($"split:           {report.Split}");
        stdout.WriteLine($"threshold rule:  lowest with FPR <= {F(report.MaxFpr)} on the validation benign rows; campaign gap {report.Gap}");
        stdout.WriteLine();
        stdout.WriteLine("detector        family             scope  events  blocked  test share (n)    all share (n)     " +
                         "test FPR  campaigns  missed  delay mean  median");
        foreach (var row in report.Unseen.Concat(report.Known))
        {
            var who = row.Unseen ? "without family" : "all known";
            var all = row.Unseen ? $"{F(row.AllBlockedShare)} ({row.AllEvents})" : "n/a (trained)";
            var test = $"{F(row.TestBlockedShare)} ({row.TestEvents})";
            stdout.WriteLine(string.Create(Inv,
                $"{who,-15} {row.Family,-18} {row.Scope,-5}  {row.Events,6}  {F(row.BlockedShare),7}  {test,-16}  {all,-16}  " +
                $"{F(row.BenignFpr),8}  {row.Campaigns,9}  {row.MissedCampaigns,6}  {F(row.MeanDelay, 2),10}  {F(row.MedianDelay, 1),6}"));
        }
        stdout.WriteLine();
        stdout.WriteLine("blocked = share of the family's events in the scope scored >= threshold; scope 'test' = its events in the " +
                         "test part, 'all' = all its events (used when the test part holds fewer than 50); delay = events of a " +
                         "campaign before its first blocked one, over detected campaigns.");
    }

    private static LineProgress<EpochReport> EpochPrinter(TextWriter stderr) => new(e => stderr.WriteLine(string.Create(Inv,
        $"epoch {e.Epoch,3}: train loss {e.TrainLoss:F4}, validation loss {e.ValidationLoss:F4}, AUROC {e.ValidationAuroc:F4}, F1 {e.ValidationF1:F4}")));

    /// <summary>Runs a command body; data, model-file and argument errors become one line on stderr and exit 2.</summary>
    private static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is DatasetException or DetectorFormatException or ArgumentException or IOException
                                      or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {e.Message.Split('\n')[0]}");
            return Program.Error;
        }
    }

    private static string F(double? v, int digits = 4) =>
        v is not { } x || double.IsNaN(x) ? "-" : x.ToString("F" + digits.ToString(Inv), Inv);

    /// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread, in order (unlike Progress&lt;T&gt;).</summary>
    private sealed class LineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
