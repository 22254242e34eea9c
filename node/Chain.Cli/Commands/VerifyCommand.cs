using System.CommandLine;
using System.Globalization;
using Chain.Chaincode;
using Chain.Client.Audit;
using Chain.Client.Sources;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// <c>verify</c>: the independent audit of the whole ledger (<see cref="LedgerVerifier"/>): every block, hash link,
/// transaction root, commit certificate (against the genesis keys and the quorum rule) and transaction signature,
/// and a replay of every block from the genesis through the system contracts comparing the state root at every block;
/// over a data directory also the stored state against the replayed one. Exit 1 naming the first bad block.
/// </summary>
internal static class VerifyCommand
{
    public static void AddTo(RootCommand root, CliEnvironment env)
    {
        var parallelism = new Option<int>("--parallelism")
        {
            Description = "Threads verifying signatures (default: the processor count).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var command = new Command("verify", "Checks the whole ledger against the genesis: every block, hash link, Merkle root, commit " +
            "certificate and transaction signature, and replays every block through the contracts comparing the state root at " +
            "every block (over a data directory also the stored state). Exit 1 naming the first bad block.")
        {
            parallelism,
        };
        Cli.SetAction(command, env, context => RunAsync(context, context.Value(parallelism)));
        root.Add(command);
    }

    public static async Task<int> RunAsync(CommandContext context, int parallelism)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (parallelism is < 1 or > 256) throw new ArgumentException("--parallelism must be from 1 to 256");
        var c = await context.ConnectAsync().ConfigureAwait(false);
        var verifier = new LedgerVerifier(c.Genesis, SystemContracts.Registry(), parallelism);
        var tip = await c.Source.TipAsync(context.Cancellation).ConfigureAwait(false);
        context.KeepAlive();

        VerifyReport report;
        var stderr = context.Env.Stderr;
        if (!context.Output.Json && ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected)
        {
            // A terminal: a live progress bar on stderr (stdout keeps only the result).
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
            report = await console.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"verifying {tip.Height:N0} blocks", maxValue: Math.Max(1, tip.Height));
                    return await verifier.VerifyAsync(c.Source, new Reporter(p =>
                    {
                        context.KeepAlive();
                        task.Value = p.Height;
                    }), context.Cancellation).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }
        else
        {
            // Redirected: a plain line at every tenth of the way (none with --json).
            var next = 0.1;
            report = await verifier.VerifyAsync(c.Source, new Reporter(p =>
            {
                context.KeepAlive();
                if (context.Output.Json || tip.Height == 0 || (double)p.Height / tip.Height < next) return;
                next = Math.Floor((double)p.Height / tip.Height * 10 + 1) / 10;
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"verified {p.Height:N0} of {tip.Height:N0} blocks ({p.Transactions:N0} transactions)"));
            }), context.Cancellation).ConfigureAwait(false);
        }

        var f = report.Failure;
        if (context.Output.Json)
        {
            context.Output.WriteJson(new
            {
                source = c.Source.Description,
                ok = report.Ok,
                blocks = report.Blocks,
                transactions = report.Transactions,
                seconds = Math.Round(report.Elapsed.TotalSeconds, 3),
                transactionsPerSecond = Math.Round(report.TransactionsPerSecond),
                stateRoot = report.StateRoot.ToString(),
                stateCompared = c.Source.Kind == SourceKind.DataDirectory,
                failure = f is null ? null : new { height = f.Height, check = f.Check, message = f.Message },
            });
        }
        else if (f is null)
        {
            context.Output.Line(string.Create(CultureInfo.InvariantCulture,
                $"ledger OK: {report.Blocks:N0} blocks, {report.Transactions:N0} transactions verified in {report.Elapsed.TotalSeconds:0.00} s " +
                $"({report.TransactionsPerSecond:N0} tx/s); state root {report.StateRoot}"));
            context.Output.Line(c.Source.Kind == SourceKind.DataDirectory
                ? "hash links, Merkle roots, commit certificates, signatures and the state root at every block replayed; stored state equals the replay"
                : "hash links, Merkle roots, commit certificates, signatures and the state root at every block replayed (the node's state itself was not read)");
        }
        else
        {
            context.Output.Line($"ledger FAILED at block {f.Height} ({f.Check}): {f.Message}");
            context.Output.Line(string.Create(CultureInfo.InvariantCulture,
                $"{report.Blocks:N0} blocks before it verified ({report.Transactions:N0} transactions)"));
        }
        return report.Ok ? Cli.Ok : Cli.CheckFailed;
    }

    /// <summary>Reports synchronously on the verifier's thread (<see cref="Progress{T}"/> would post to the thread pool out of order).</summary>
    private sealed class Reporter(Action<VerifyProgress> report) : IProgress<VerifyProgress>
    {
        public void Report(VerifyProgress value) => report(value);
    }
}
