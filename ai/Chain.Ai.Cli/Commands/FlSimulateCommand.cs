using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Chain.Ai.Data;
using Chain.Ai.Detection;
using Chain.Ai.Federated;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai fl simulate | poison | compress | dp</c>: the in-process federated simulation (<see cref="FederatedSimulation"/>)
/// on a tabular IoMT dataset (the shared options of <see cref="DataArguments"/>; the training part of
/// <see cref="DetectionSplit"/> is partitioned among the clients, validation chooses thresholds, test is reported).
/// Exit codes: 0 done, 2 bad arguments or data (one line on stderr).
/// </summary>
public static class FlSimulateCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary><c>fl simulate</c>: one configurable run, a line per round.</summary>
    public static Command Simulate(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("simulate", "One federated run: per-round test accuracy, F1 and AUROC (threshold chosen on validation), "
                                              + "bytes uploaded and, with DP, epsilon.");
        AddCommon(command);
        command.Add(new Option<string>("--rule") { Description = "fedavg, fedprox, median, trimmed-mean, krum or multi-krum.", DefaultValueFactory = _ => "fedavg" });
        command.Add(new Option<string>("--attack") { Description = "none, label-flip, sign-flip, scaled or backdoor.", DefaultValueFactory = _ => "none" });
        command.Add(new Option<double>("--malicious") { Description = "Fraction of the clients that are malicious, in [0, 1).", DefaultValueFactory = _ => 0 });
        command.Add(new Option<double>("--attack-factor") { Description = "k for sign-flip (-k, default 4), scaled (default 10), backdoor boost (default participants/malicious); 0 = default." });
        command.Add(new Option<int?>("--assumed-malicious") { Description = "f for krum/multi-krum/trimmed-mean (default: the attack's malicious count, at least 1)." });
        command.Add(new Option<double?>("--dp-clip") { Description = "Client-level DP: clip each delta to this L2 norm (turns DP-FedAvg on)." });
        command.Add(new Option<double>("--dp-noise") { Description = "Client-level DP noise multiplier sigma (noise sigma*C on the sum, server-side).", DefaultValueFactory = _ => 1.0 });
        command.Add(new Option<double>("--dp-delta") { Description = "Delta of the reported (epsilon, delta).", DefaultValueFactory = _ => 1e-5 });
        command.Add(new Option<string>("--compress") { Description = "none, topk or q8.", DefaultValueFactory = _ => "none" });
        command.Add(new Option<double>("--sparsity") { Description = "Top-k sparsity in [0, 1).", DefaultValueFactory = _ => 0.9 });
        command.Add(new Option<bool>("--central") { Description = "Also train the same MLP centrally on the pooled rows (same epoch budget)." });
        command.SetAction(result => Guard(stderr, () =>
        {
            var (data, description) = Prepare(result);
            var options = Options(result) with
            {
                Rule = ParseRule(result.GetValue<string>("--rule")),
                Attack = new Poisoning(ParseAttack(result.GetValue<string>("--attack")), result.GetValue<double>("--malicious"),
                    result.GetValue<double>("--attack-factor")),
                AssumedMalicious = result.GetValue<int?>("--assumed-malicious"),
                Dp = result.GetValue<double?>("--dp-clip") is { } clip ? new ClientLevelDp(clip, result.GetValue<double>("--dp-noise")) : null,
                DpDelta = result.GetValue<double>("--dp-delta"),
                Compression = ParseCompression(result.GetValue<string>("--compress")),
                Sparsity = result.GetValue<double>("--sparsity"),
            };
            stdout.WriteLine(description);
            var k = data.Clients.Count;
            stdout.WriteLine($"rule:            {options.RuleLabel(k)}; attack {options.Attack.Kind} on {options.Attack.MaliciousCount(k)} of {k} clients; " +
                             $"DP {(options.Dp is null ? "off" : $"clip {F(options.Dp.ClipNorm)} sigma {F(options.Dp.NoiseMultiplier)} (server-side noise, Poisson client sampling)")}; " +
                             $"compression {Describe(options)}");
            stdout.WriteLine("round  clients  malicious  accuracy  f1      auroc   bytes up   dense bytes  epsilon   backdoor");
            var watch = Stopwatch.StartNew();
            var run = new FederatedSimulation(options).Run(data, r => stdout.WriteLine(string.Create(Inv,
                $"{r.Round,5}  {r.Participants.Count,7}  {r.MaliciousParticipants,9}  {F(r.Test.Accuracy),8}  {F(r.Test.F1)}  {F(r.Test.Auroc)}  " +
                $"{r.BytesUploaded,9}  {r.DenseBytes,11}  {E(r.Epsilon),8}  {(r.BackdoorSuccess is { } b ? F(b) : "-")}")));
            stdout.WriteLine($"malicious:       {(run.Malicious.Count == 0 ? "none" : string.Join(", ", run.Malicious.Order(StringComparer.Ordinal)))}");
            stdout.WriteLine($"parameters:      {run.ParameterCount}; mean bytes uploaded per round {run.MeanBytesPerRound:F0} " +
                             $"(dense float32 {run.MeanDenseBytesPerRound:F0}); {watch.Elapsed.TotalSeconds:F1} s");
            PrintFinal(stdout, "federated final", run.Final.Test);
            if (result.GetValue<bool>("--central"))
            {
                var central = new FederatedSimulation(options).Centralised(data);
                PrintFinal(stdout, "centralised", central.Test);
            }
            return Program.Ok;
        }));
        return command;
    }

    /// <summary><c>fl poison</c>: rules × attacks × malicious fractions, accuracy / F1 / AUROC and backdoor success.</summary>
    public static Command Poison(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("poison", "The poisoning table: rows = aggregation rule, columns = attack x malicious fraction (plus the "
                                            + "clean run); test accuracy, F1, AUROC and backdoor success; Markdown.");
        AddCommon(command);
        command.Add(new Option<bool>("--quick") { Description = "A small version: 3 rounds, fractions 0.3 only, rules fedavg, median, krum." });
        command.Add(new Option<string>("--fractions") { Description = "Malicious fractions.", DefaultValueFactory = _ => "0.1,0.2,0.3" });
        command.Add(new Option<string>("--rules") { Description = "Rules to compare.", DefaultValueFactory = _ => "fedavg,fedprox,median,trimmed-mean,krum,multi-krum" });
        command.Add(new Option<string>("--attacks") { Description = "Attacks to run.", DefaultValueFactory = _ => "label-flip,sign-flip,scaled,backdoor" });
        command.Add(new Option<int?>("--assumed-malicious") { Description = "f for krum/multi-krum/trimmed-mean (default: round(max fraction x clients), at least 1)." });
        command.Add(new Option<string?>("--out") { Description = "Also write the Markdown to this file." });
        command.SetAction(result => Guard(stderr, () =>
        {
            var quick = result.GetValue<bool>("--quick");
            var (data, description) = Prepare(result);
            var baseOptions = Options(result);
            if (quick) baseOptions = baseOptions with { Rounds = Math.Min(baseOptions.Rounds, 3) };
            var fractions = quick ? [0.3] : Numbers(result.GetValue<string>("--fractions"), "--fractions");
            var rules = quick ? [AggregationKind.FedAvg, AggregationKind.Median, AggregationKind.Krum]
                : Names(result.GetValue<string>("--rules")).Select(ParseRule).ToArray();
            var attacks = Names(result.GetValue<string>("--attacks")).Select(ParseAttack).ToArray();
            var k = data.Clients.Count;
            var f = result.GetValue<int?>("--assumed-malicious")
                    ?? Math.Max(1, fractions.Max(x => new Poisoning(PoisoningKind.LabelFlip, x).MaliciousCount(k)));
            var columns = new List<(PoisoningKind Kind, double Fraction)> { (PoisoningKind.None, 0) };
            foreach (var a in attacks) columns.AddRange(fractions.Select(x => (a, x)));
            var cells = new Dictionary<(AggregationKind, PoisoningKind, double), RoundReport>();
            var labels = new Dictionary<AggregationKind, string>();
            var watch = Stopwatch.StartNew();
            foreach (var rule in rules)
            {
                foreach (var (kind, fraction) in columns)
                {
                    var options = baseOptions with { Rule = rule, AssumedMalicious = f, Attack = new Poisoning(kind, fraction) };
                    labels[rule] = options.RuleLabel(k);
                    FederatedResult run;
                    try
                    {
                        run = new FederatedSimulation(options).Run(data);
                    }
                    catch (FederatedException e)
                    {
                        // A poisoned run may blow the global model up: that is a result (the rule failed), not an error.
                        stderr.WriteLine($"[{watch.Elapsed.TotalSeconds,6:F0} s] {labels[rule]}, {Name(kind)} {fraction:P0}: {e.Message}");
                        continue;
                    }
                    cells[(rule, kind, fraction)] = run.Final;
                    stderr.WriteLine(string.Create(Inv, $"[{watch.Elapsed.TotalSeconds,6:F0} s] {labels[rule]}, {Name(kind)} {fraction:P0}: " +
                                                        $"accuracy {F(run.Final.Test.Accuracy)}, f1 {F(run.Final.Test.F1)}, auroc {F(run.Final.Test.Auroc)}" +
                                                        $"{(run.Final.BackdoorSuccess is { } b ? ", backdoor " + F(b) : "")}"));
                }
            }
            var central = new FederatedSimulation(baseOptions).Centralised(data);
            var markdown = PoisonMarkdown(description, baseOptions, k, f, rules, labels, columns, cells, central, watch.Elapsed);
            stdout.Write(markdown);
            WriteOut(result, markdown);
            return Program.Ok;
        }));
        return command;
    }

    /// <summary><c>fl compress</c>: dense vs top-k 90% / 99% (error feedback) vs 8-bit: accuracy and bytes per round.</summary>
    public static Command Compress(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("compress", "FedAvg with dense float32, top-k (error feedback) at 90% and 99% sparsity and 8-bit quantisation: "
                                              + "test accuracy, F1, AUROC and bytes uploaded per round; Markdown.");
        AddCommon(command);
        command.Add(new Option<string?>("--out") { Description = "Also write the Markdown to this file." });
        command.SetAction(result => Guard(stderr, () =>
        {
            var (data, description) = Prepare(result);
            var baseOptions = Options(result);
            var variants = new (string Name, FederatedOptions Options)[]
            {
                ("dense float32", baseOptions),
                ("top-k 90% sparsity + error feedback", baseOptions with { Compression = CompressionKind.TopK, Sparsity = 0.9 }),
                ("top-k 99% sparsity + error feedback", baseOptions with { Compression = CompressionKind.TopK, Sparsity = 0.99 }),
                ("8-bit stochastic quantisation", baseOptions with { Compression = CompressionKind.Quantize8 }),
            };
            var text = new StringBuilder();
            text.AppendLine("# Federated learning: update compression").AppendLine();
            text.AppendLine(description).AppendLine();
            text.AppendLine(string.Create(Inv, $"FedAvg, {data.Clients.Count} clients, {baseOptions.Rounds} rounds, every client every round; final-round test metrics at the validation's best-F1 threshold.")).AppendLine();
            text.AppendLine("| update encoding | test accuracy | F1 | AUROC | bytes per client per round | bytes per round | vs dense |");
            text.AppendLine("|---|---|---|---|---|---|---|");
            double? dense = null;
            foreach (var (name, options) in variants)
            {
                var run = new FederatedSimulation(options).Run(data);
                dense ??= run.MeanBytesPerRound;
                var perClient = run.MeanBytesPerRound / Math.Max(1, run.Rounds.Average(r => r.Participants.Count));
                text.AppendLine(string.Create(Inv, $"| {name} | {F(run.Final.Test.Accuracy)} | {F(run.Final.Test.F1)} | {F(run.Final.Test.Auroc)} | " +
                                                   $"{perClient:F0} | {run.MeanBytesPerRound:F0} | {run.MeanBytesPerRound / dense.Value:P1} |"));
                stderr.WriteLine($"{name}: accuracy {F(run.Final.Test.Accuracy)}");
            }
            text.AppendLine().AppendLine("Wire sizes: dense 4 bytes per parameter; top-k 8 + 8k bytes (int index + float value per kept coordinate); " +
                                         "8-bit 12 + 1 byte per parameter (length, min, step, codes). The server decompresses and averages densely.");
            var markdown = text.ToString();
            stdout.Write(markdown);
            WriteOut(result, markdown);
            return Program.Ok;
        }));
        return command;
    }

    /// <summary><c>fl dp</c>: DP-FedAvg for a few noise multipliers: epsilon after each round and the accuracy.</summary>
    public static Command Dp(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("dp", "Client-level DP (DP-FedAvg, server-side noise): epsilon after each round and test accuracy for a few noise multipliers; Markdown.");
        AddCommon(command);
        command.Add(new Option<string>("--noise") { Description = "Noise multipliers (0 = clipping only).", DefaultValueFactory = _ => "0,0.5,1,2" });
        command.Add(new Option<double>("--dp-clip") { Description = "Clipping norm C of each client's delta.", DefaultValueFactory = _ => 0.5 });
        command.Add(new Option<double>("--dp-delta") { Description = "Delta of the reported (epsilon, delta).", DefaultValueFactory = _ => 1e-5 });
        command.Add(new Option<string?>("--out") { Description = "Also write the Markdown to this file." });
        command.SetAction(result => Guard(stderr, () =>
        {
            var (data, description) = Prepare(result);
            var baseOptions = Options(result);
            var k = data.Clients.Count;
            var clip = result.GetValue<double>("--dp-clip");
            var delta = result.GetValue<double>("--dp-delta");
            var sigmas = Numbers(result.GetValue<string>("--noise"), "--noise");
            var expected = baseOptions.Participants(k);
            var q = (double)expected / k;
            var plain = new FederatedSimulation(baseOptions).Run(data);
            var runs = sigmas.Select(s =>
            {
                var run = new FederatedSimulation(baseOptions with { Dp = new ClientLevelDp(clip, s), DpDelta = delta }).Run(data);
                stderr.WriteLine($"sigma {F(s)}: accuracy {F(run.Final.Test.Accuracy)}, epsilon {E(run.Final.Epsilon)}");
                return (Sigma: s, Run: run);
            }).ToArray();
            var text = new StringBuilder();
            text.AppendLine("# Federated learning: client-level differential privacy (DP-FedAvg)").AppendLine();
            text.AppendLine(description).AppendLine();
            text.AppendLine(string.Create(Inv, $"{k} clients, each round each client takes part with probability q = {expected}/{k} = {q:G4} (Poisson sampling, " +
                                               $"as the accountant assumes); each delta clipped to L2 norm C = {clip:G4}; Gaussian noise sigma*C added by the server to the sum; " +
                                               $"the sum divided by the expected count {expected}. Epsilon from the RDP accountant (q, sigma, steps = rounds) at delta = {delta:G3}; " +
                                               $"one client = all of a hospital's rows (client-level, not record-level DP).")).AppendLine();
            text.AppendLine("| noise multiplier | final test accuracy | F1 | AUROC | final epsilon |");
            text.AppendLine("|---|---|---|---|---|");
            text.AppendLine(string.Create(Inv, $"| no DP ({(expected == k ? "all clients" : $"{expected} clients uniformly sampled")} per round, no clipping) | {F(plain.Final.Test.Accuracy)} | {F(plain.Final.Test.F1)} | {F(plain.Final.Test.Auroc)} | - |"));
            foreach (var (s, run) in runs)
                text.AppendLine(string.Create(Inv, $"| {s:G4}{(s == 0 ? " (clipping only)" : "")} | {F(run.Final.Test.Accuracy)} | {F(run.Final.Test.F1)} | {F(run.Final.Test.Auroc)} | {E(run.Final.Epsilon)} |"));
            text.AppendLine().AppendLine("Epsilon after each round (what the ledger records per round) and that round's test accuracy / AUROC:").AppendLine();
            text.AppendLine("| round | " + string.Join(" | ", runs.Select(r => string.Create(Inv, $"sigma {r.Sigma:G4}: epsilon / accuracy / AUROC"))) + " |");
            text.AppendLine("|---|" + string.Concat(runs.Select(_ => "---|")));
            for (var i = 0; i < baseOptions.Rounds; i++)
                text.AppendLine($"| {i + 1} | " + string.Join(" | ", runs.Select(r => $"{E(r.Run.Rounds[i].Epsilon)} / {F(r.Run.Rounds[i].Test.Accuracy)} / {F(r.Run.Rounds[i].Test.Auroc)}")) + " |");
            var markdown = text.ToString();
            stdout.Write(markdown);
            WriteOut(result, markdown);
            return Program.Ok;
        }));
        return command;
    }

    private static void AddCommon(Command command)
    {
        DataArguments.AddTo(command);
        command.Add(new Option<int>("--clients") { Description = "Number of clients (hospitals).", DefaultValueFactory = _ => 10 });
        command.Add(new Option<int>("--rounds") { Description = "Federated rounds.", DefaultValueFactory = _ => 30 });
        command.Add(new Option<int>("--clients-per-round") { Description = "Clients per round (0 = all; with DP the expected number, Poisson-sampled).", DefaultValueFactory = _ => 0 });
        command.Add(new Option<string>("--partition") { Description = "iid, time (contiguous time blocks) or dirichlet (time blocks + Dirichlet label skew).", DefaultValueFactory = _ => "dirichlet" });
        command.Add(new Option<double>("--alpha") { Description = "Dirichlet concentration (smaller = more label skew).", DefaultValueFactory = _ => 1.0 });
        command.Add(new Option<int>("--local-epochs") { Description = "Local epochs per round.", DefaultValueFactory = _ => 1 });
        command.Add(new Option<int>("--batch-size") { Description = "Local minibatch size.", DefaultValueFactory = _ => 64 });
        command.Add(new Option<double>("--learning-rate") { Description = "Local SGD learning rate.", DefaultValueFactory = _ => 0.05 });
        command.Add(new Option<double>("--momentum") { Description = "Local SGD momentum (reset each round).", DefaultValueFactory = _ => 0 });
        command.Add(new Option<double>("--prox-mu") { Description = "FedProx mu (for the fedprox rule).", DefaultValueFactory = _ => 0.01 });
        command.Add(new Option<double>("--server-lr") { Description = "Server learning rate (global += lr * aggregate).", DefaultValueFactory = _ => 1.0 });
        command.Add(new Option<string>("--hidden") { Description = "Hidden layer widths.", DefaultValueFactory = _ => "64,32" });
    }

    private static (FederatedData Data, string Description) Prepare(ParseResult result)
    {
        var (path, data) = DataArguments.Load(result);
        var seed = DataArguments.Seed(result);
        var chosen = DetectionSplit.Choose(data, seed);
        var scheme = ParseScheme(result.GetValue<string>("--partition"));
        var partition = new PartitionOptions(result.GetValue<int>("--clients"), scheme, result.GetValue<double>("--alpha"), seed);
        var prepared = FederatedData.Prepare(data, chosen.Split, partition, DataArguments.Features(result));
        var sizes = string.Join(" ", prepared.Clients.Select(c => string.Create(Inv, $"{c.Count}/{c.Attacks}")));
        var description = string.Create(Inv,
            $"data: {path} ({data.Count} rows, {prepared.Inputs} features); split: {chosen.Description}; train {chosen.Split.Train.Count} rows " +
            $"partitioned {scheme}{(scheme == PartitionScheme.Dirichlet ? $" alpha {partition.Alpha:G4}" : "")} seed {seed} among {prepared.Clients.Count} clients " +
            $"(rows/attacks: {sizes}; label skew {Partitioner.LabelSkew(prepared.Clients):F3}); validation {prepared.ValidationLabels.Length} rows choose the " +
            $"threshold, test {prepared.TestLabels.Length} rows ({prepared.TestLabels.Count(l => l == 1)} attacks) are reported; features standardised " +
            $"federatedly (client count/sum/sum-of-squares only).");
        return (prepared, description);
    }

    /// <summary>The <c>--partition</c> value: iid, time or dirichlet.</summary>
    internal static PartitionScheme ParseScheme(string? name) => name switch
    {
        "iid" => PartitionScheme.Iid,
        "time" => PartitionScheme.TimeBlocks,
        "dirichlet" => PartitionScheme.Dirichlet,
        var other => throw new ArgumentException($"--partition: '{other}' is not iid, time or dirichlet"),
    };

    private static FederatedOptions Options(ParseResult r)
    {
        var hidden = Names(r.GetValue<string>("--hidden"))
            .Select(h => int.TryParse(h, NumberStyles.None, Inv, out var v) ? v : throw new ArgumentException($"--hidden: '{h}' is not a width"))
            .ToArray();
        return new FederatedOptions
        {
            Rounds = r.GetValue<int>("--rounds"),
            ClientsPerRound = r.GetValue<int>("--clients-per-round"),
            ProxMu = r.GetValue<double>("--prox-mu"),
            ServerLearningRate = r.GetValue<double>("--server-lr"),
            Hidden = hidden,
            Seed = DataArguments.Seed(r),
            Local = new LocalTrainingOptions(r.GetValue<int>("--local-epochs"), r.GetValue<int>("--batch-size"), r.GetValue<double>("--learning-rate"),
                Momentum: r.GetValue<double>("--momentum")),
        };
    }

    private static string PoisonMarkdown(string description, FederatedOptions o, int k, int f, AggregationKind[] rules,
        Dictionary<AggregationKind, string> labels, List<(PoisoningKind Kind, double Fraction)> columns,
        Dictionary<(AggregationKind, PoisoningKind, double), RoundReport> cells, RoundReport central, TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine("# Federated learning under poisoning").AppendLine();
        text.AppendLine(description).AppendLine();
        text.AppendLine(string.Create(Inv, $"{k} clients, {o.Rounds} rounds, every client every round, {o.Local.Epochs} local epoch(s) of SGD (batch {o.Local.BatchSize}, " +
                                           $"learning rate {o.Local.LearningRate:G4}), MLP {string.Join("-", o.Hidden ?? FederatedMlp.DefaultHidden)}, seed {o.Seed}. Robust rules assume " +
                                           $"f = {f} malicious clients. Malicious clients: round(fraction x {k}), seeded. Attacks: label-flip (train on flipped labels), " +
                                           $"sign-flip (send -4 x delta), scaled (flipped-label delta x 10), backdoor (trigger: the last three features set to +6 sd, " +
                                           $"relabelled benign; boosted x participants/malicious, model replacement). Metrics: final-round global model on the test rows " +
                                           $"at the validation's best-F1 threshold.")).AppendLine();
        text.AppendLine(string.Create(Inv, $"Centralised baseline (same MLP, pooled rows, {o.Rounds * o.Local.Epochs} epochs): accuracy {F(central.Test.Accuracy)}, " +
                                           $"F1 {F(central.Test.F1)}, AUROC {F(central.Test.Auroc)}, trigger-only backdoor success {F(central.BackdoorSuccess ?? double.NaN)}.")).AppendLine();
        string Header(PoisoningKind kind, double fraction) => kind == PoisoningKind.None ? "clean" : string.Create(Inv, $"{Name(kind)} {fraction:P0}");
        void Table(string title, Func<RoundReport, string> cell, Func<(PoisoningKind Kind, double Fraction), bool> include)
        {
            var cols = columns.Where(include).ToArray();
            text.AppendLine($"## {title}").AppendLine();
            text.AppendLine("| rule | " + string.Join(" | ", cols.Select(c => Header(c.Kind, c.Fraction))) + " |");
            text.AppendLine("|---|" + string.Concat(cols.Select(_ => "---|")));
            foreach (var rule in rules)
                text.AppendLine($"| {labels[rule]} | " + string.Join(" | ", cols.Select(c =>
                    cells.TryGetValue((rule, c.Kind, c.Fraction), out var r) ? cell(r) : "diverged")) + " |");
            text.AppendLine();
        }
        Table("Test accuracy", r => F(r.Test.Accuracy), _ => true);
        Table("Test F1", r => F(r.Test.F1), _ => true);
        Table("Test AUROC", r => F(r.Test.Auroc), _ => true);
        if (columns.Any(c => c.Kind == PoisoningKind.Backdoor))
        {
            text.AppendLine("Backdoor success = share of triggered test attack rows classified benign; the clean column is the same measure on a " +
                            "model nobody backdoored (the trigger's effect by itself).").AppendLine();
            Table("Backdoor success", r => r.BackdoorSuccess is { } b ? F(b) : "-", c => c.Kind is PoisoningKind.Backdoor or PoisoningKind.None);
        }
        // The issue's target: under attack, the best robust rule within 2 accuracy points of the clean run. Accuracy at the
        // validation's best-F1 threshold swings with where that threshold lands, so the AUROC version is stated beside it.
        var robust = rules.Where(r => r is AggregationKind.Median or AggregationKind.TrimmedMean or AggregationKind.Krum or AggregationKind.MultiKrum).ToArray();
        if (robust.Length > 0 && rules.Contains(AggregationKind.FedAvg))
        {
            double Metric(AggregationKind r, PoisoningKind kind, double fraction, bool auroc) =>
                cells.TryGetValue((r, kind, fraction), out var report) ? auroc ? report.Test.Auroc : report.Test.Accuracy : 0;
            var clean = Metric(AggregationKind.FedAvg, PoisoningKind.None, 0, false);
            var cleanAuroc = Metric(AggregationKind.FedAvg, PoisoningKind.None, 0, true);
            text.AppendLine("## Target: best robust rule within 2 accuracy points of the clean FedAvg run").AppendLine();
            text.AppendLine(string.Create(Inv, $"Clean FedAvg: accuracy {F(clean)}, AUROC {F(cleanAuroc)}. Robust rules: {string.Join(", ", robust.Select(r => labels[r]))}. " +
                                               $"Accuracy is at the validation's best-F1 threshold, which moves a lot between runs of similar AUROC (validation is " +
                                               $"Spoofing-heavy, test Data-Alteration-heavy), so the same check is also made on AUROC (within 0.02).")).AppendLine();
            text.AppendLine("| attack | best robust rule (accuracy) | accuracy | gap (points) | met | best robust rule (AUROC) | AUROC | gap | met |");
            text.AppendLine("|---|---|---|---|---|---|---|---|---|");
            int met = 0, metAuroc = 0, total = 0;
            foreach (var (kind, fraction) in columns.Where(c => c.Kind != PoisoningKind.None))
            {
                var best = robust.MaxBy(r => Metric(r, kind, fraction, false));
                var bestAuroc = robust.MaxBy(r => Metric(r, kind, fraction, true));
                var acc = Metric(best, kind, fraction, false);
                var auc = Metric(bestAuroc, kind, fraction, true);
                var gap = (clean - acc) * 100;
                var gapAuroc = cleanAuroc - auc;
                total++;
                if (gap <= 2) met++;
                if (gapAuroc <= 0.02) metAuroc++;
                text.AppendLine(string.Create(Inv, $"| {Header(kind, fraction)} | {labels[best]} | {F(acc)} | {gap:F1} | {(gap <= 2 ? "yes" : "no")} | " +
                                                   $"{labels[bestAuroc]} | {F(auc)} | {gapAuroc:F4} | {(gapAuroc <= 0.02 ? "yes" : "no")} |"));
            }
            text.AppendLine().AppendLine(string.Create(Inv, $"Accuracy target met in {met} of {total} attack settings; AUROC version in {metAuroc} of {total}."));
            text.AppendLine();
        }
        text.AppendLine(string.Create(Inv, $"{cells.Count} federated runs and one centralised run in {elapsed.TotalSeconds:F0} s."));
        return text.ToString();
    }

    private static void PrintFinal(TextWriter stdout, string what, BinaryReport r) => stdout.WriteLine(string.Create(Inv,
        $"{what + ":",-17}accuracy {F(r.Accuracy)}, precision {F(r.Precision)}, recall {F(r.Recall)}, f1 {F(r.F1)}, fpr {F(r.FalsePositiveRate)}, " +
        $"auroc {F(r.Auroc)}, threshold {r.Threshold.ToString("G6", Inv)}"));

    private static string Describe(FederatedOptions o) => o.Compression switch
    {
        CompressionKind.TopK => string.Create(Inv, $"top-k {o.Sparsity * 100:G4}% sparsity with error feedback"),
        CompressionKind.Quantize8 => "8-bit stochastic quantisation",
        _ => "none (dense float32)",
    };

    private static AggregationKind ParseRule(string? name) => name switch
    {
        "fedavg" => AggregationKind.FedAvg,
        "fedprox" => AggregationKind.FedProx,
        "median" => AggregationKind.Median,
        "trimmed-mean" => AggregationKind.TrimmedMean,
        "krum" => AggregationKind.Krum,
        "multi-krum" => AggregationKind.MultiKrum,
        _ => throw new ArgumentException($"unknown rule '{name}' (fedavg, fedprox, median, trimmed-mean, krum, multi-krum)"),
    };

    private static PoisoningKind ParseAttack(string? name) => name switch
    {
        "none" => PoisoningKind.None,
        "label-flip" => PoisoningKind.LabelFlip,
        "sign-flip" => PoisoningKind.SignFlip,
        "scaled" => PoisoningKind.ScaledUpdate,
        "backdoor" => PoisoningKind.Backdoor,
        _ => throw new ArgumentException($"unknown attack '{name}' (none, label-flip, sign-flip, scaled, backdoor)"),
    };

    private static string Name(PoisoningKind kind) => kind switch
    {
        PoisoningKind.LabelFlip => "label-flip",
        PoisoningKind.SignFlip => "sign-flip",
        PoisoningKind.ScaledUpdate => "scaled",
        PoisoningKind.Backdoor => "backdoor",
        _ => "none",
    };

    private static CompressionKind ParseCompression(string? name) => name switch
    {
        "none" => CompressionKind.None,
        "topk" => CompressionKind.TopK,
        "q8" => CompressionKind.Quantize8,
        _ => throw new ArgumentException($"unknown compression '{name}' (none, topk, q8)"),
    };

    private static string[] Names(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static double[] Numbers(string? list, string option)
    {
        var values = Names(list).Select(s => double.TryParse(s, NumberStyles.Float, Inv, out var v) && double.IsFinite(v)
            ? v : throw new ArgumentException($"{option}: '{s}' is not a number")).ToArray();
        return values.Length > 0 ? values : throw new ArgumentException($"{option}: give at least one value");
    }

    private static void WriteOut(ParseResult result, string markdown)
    {
        if (result.GetValue<string?>("--out") is { Length: > 0 } path) File.WriteAllText(path, markdown);
    }

    private static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is DatasetException or FederatedException or AggregationException or CompressionException or ArgumentException
                                      or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {e.Message.Split('\n')[0]}");
            return Program.Error;
        }
    }

    private static string F(double v) => double.IsNaN(v) ? "-" : v.ToString("F4", Inv);

    private static string E(double? v) => v switch
    {
        null => "-",
        { } x when double.IsPositiveInfinity(x) => "inf",
        { } x => x.ToString("F3", Inv),
    };
}
