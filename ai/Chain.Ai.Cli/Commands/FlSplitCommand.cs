using System.CommandLine;
using System.Globalization;
using Chain.Ai.Data;
using Chain.Ai.Federated;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai fl split</c>: split learning of the vital-signs modality and its fusion with the network-flow modality
/// (<see cref="MultimodalComparison"/>): network-only, vitals-only (split), fused (lambda 0) and fused with the
/// contrastive term, on the shared chronological split; prints a Markdown table (and writes it to <c>--out</c>).
/// <c>--features</c> is ignored (every model reads its own modality). Exit codes: 0 done, 2 bad arguments or data.
/// </summary>
public static class FlSplitCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var d = new SplitLearningOptions();
        var f = new FusionOptions();
        var command = new Command("split", "Split learning of the vital signs (encoder at the hospitals, head at the server) and fusion " +
                                           "with the network flow (contrastive alignment): network-only, vitals-only and fused compared.");
        DataArguments.AddTo(command);
        var clients = new Option<int>("--clients") { Description = "Hospitals holding vital-sign rows.", DefaultValueFactory = _ => d.Clients };
        var epochs = new Option<int>("--epochs") { Description = "Maximum epochs per model.", DefaultValueFactory = _ => d.Epochs };
        var lambda = new Option<double>("--lambda") { Description = "Weight of the contrastive term (>= 0).", DefaultValueFactory = _ => f.Lambda };
        var tau = new Option<double>("--tau") { Description = "Temperature of the contrastive term (> 0).", DefaultValueFactory = _ => f.Tau };
        var cut = new Option<int>("--cut-width") { Description = "Activations per row at the cut.", DefaultValueFactory = _ => d.CutWidth };
        var batch = new Option<int>("--batch-size") { Description = "Rows per message across the cut.", DefaultValueFactory = _ => d.BatchSize };
        var seeds = new Option<int>("--seeds")
        {
            Description = "Run every model with this many seeds (--seed, --seed + 1, ...) and report mean ± sd.",
            DefaultValueFactory = _ => 1,
        };
        var output = new Option<string?>("--out") { Description = "Also write the Markdown table to this file." };
        command.Add(clients);
        command.Add(epochs);
        command.Add(lambda);
        command.Add(tau);
        command.Add(cut);
        command.Add(batch);
        command.Add(seeds);
        command.Add(output);
        command.SetAction(result =>
        {
            try
            {
                var options = new MultimodalOptions
                {
                    Learning = d with
                    {
                        Clients = result.GetValue(clients),
                        Epochs = result.GetValue(epochs),
                        CutWidth = result.GetValue(cut),
                        BatchSize = result.GetValue(batch),
                        Seed = DataArguments.Seed(result),
                    },
                    Fusion = new FusionOptions { Lambda = result.GetValue(lambda), Tau = result.GetValue(tau) },
                };
                options.Validate();
                var repeats = result.GetValue(seeds);
                if (repeats is < 1 or > 100) throw new ArgumentException($"--seeds must be in 1..100, not {repeats}");
                var (path, data) = DataArguments.Load(result);
                stderr.WriteLine($"data: {path} ({data.Count.ToString(CultureInfo.InvariantCulture)} rows)");
                var comparison = MultimodalComparison.RunSeeds(data, options, repeats, new Lines(stderr));
                var markdown = $"Data: {path} ({data.Count.ToString(CultureInfo.InvariantCulture)} rows)." + Environment.NewLine + comparison.ToMarkdown();
                stdout.Write(markdown);
                if (result.GetValue(output) is { Length: > 0 } file) File.WriteAllText(file, markdown);
                return Program.Ok;
            }
            catch (Exception e) when (e is DatasetException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                var message = e is ArgumentOutOfRangeException a ? a.Message.Split(" (Parameter")[0] + $" ({a.ParamName})" : e.Message;
                stderr.WriteLine($"error: {message.Split('\n')[0]}");
                return Program.Error;
            }
        });
        return command;
    }

    private sealed class Lines(TextWriter writer) : IProgress<string>
    {
        public void Report(string value) => writer.WriteLine(value);
    }
}
