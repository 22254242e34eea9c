using System.CommandLine;
using Chain.Ai.Data;
using Chain.Ai.Detection;

namespace Chain.Ai.Cli.Report;

/// <summary><c>chain-ai report --out DIR [--quick]</c>: EVALUATION.md and PNG charts for the defense plugin on one dataset.</summary>
public static class ReportCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var command = new Command("report",
            "Measures the detector (per feature group), zero-day blocking, adversarial robustness, the RL responder against the static " +
            "baseline and DP-SGD utility against epsilon, and writes EVALUATION.md with PNG charts into --out. The full run takes tens of " +
            "minutes on 2 cores; progress goes to stderr.");
        DataArguments.AddTo(command);
        var output = new Option<string>("--out") { Description = "The folder to write EVALUATION.md and the charts into (created if missing).", Required = true };
        var quick = new Option<bool>("--quick") { Description = "A smoke run: a few epochs and episodes (its figures mean nothing)." };
        command.Add(output);
        command.Add(quick);
        command.SetAction(result =>
        {
            try
            {
                var (path, options) = DataArguments.Resolve(result);
                var data = TabularDataset.Load(path, options);
                var report = new EvaluationReport(path, options, data, DataArguments.Seed(result),
                    result.GetValue(quick) ? ReportScale.Quick : ReportScale.Full, result.GetValue(output)!, stderr);
                var written = report.Run();
                stdout.WriteLine($"wrote {written} and its charts");
                return Program.Ok;
            }
            catch (Exception e) when (e is DatasetException or DetectorFormatException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return Program.Error;
            }
        });
        return command;
    }
}
