using System.CommandLine;

namespace Chain.Cli.Commands;

/// <summary><c>verify</c>: the whole-ledger audit. The verifier (Chain.Client.Audit.LedgerVerifier) is built separately; this is its command.</summary>
internal static class VerifyCommand
{
    public static void AddTo(RootCommand root, CliEnvironment env)
    {
        var parallelism = new Option<int>("--parallelism")
        {
            Description = "How many blocks are checked at once (default: the processor count).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var command = new Command("verify", "Checks the whole ledger against the genesis: every block, certificate, transaction and the state. Exit 1 if a check fails.")
        {
            parallelism,
        };
        Cli.SetAction(command, env, context => RunAsync(context, context.Value(parallelism)));
        root.Add(command);
    }

    /// <summary>Not built yet: the verifier arrives from another branch.</summary>
    public static async Task<int> RunAsync(CommandContext context, int parallelism)
    {
        ArgumentNullException.ThrowIfNull(context);
        _ = parallelism;
        await context.Env.Stderr.WriteLineAsync("error: verify is not built yet").ConfigureAwait(false);
        return Cli.Error;
    }
}
