using System.CommandLine;
using Chain.Cli.Commands;

namespace Chain.Cli;

/// <summary>
/// The auditors' command <c>chain</c>: reads a ledger through a node (mutual TLS) or from a data directory and checks
/// what it reads against the genesis. Exit codes: 0 done, 1 a check failed, 2 an error (bad arguments, unreachable
/// node, unreadable files, a file that does not decrypt), 130 interrupted. <c>image</c> encrypts and decrypts medical images.
/// </summary>
public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>Runs one command line with its output on <paramref name="stdout"/> and <paramref name="stderr"/> (tests run it in-process).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var options = new GlobalOptions();
        var root = new RootCommand("chain: read and check a Chain ledger, through a node (--node or --testnet) or from a data directory (--data).");
        options.AddTo(root);
        var env = new CliEnvironment(options, stdout, stderr);
        LedgerCommands.AddTo(root, env);
        ContractCommands.AddTo(root, env);
        ExportCommand.AddTo(root, env);
        VerifyCommand.AddTo(root, env);
        ImageCommand.AddTo(root, env);

        // No response files: an argument starting with '@' is an argument, not a file to read.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0)
        {
            // One clear line instead of the parser's error list plus the whole help text.
            await stderr.WriteLineAsync($"error: {Cli.OneLine(string.Join("; ", parsed.Errors.Select(e => e.Message)))} (see 'chain --help')")
                .ConfigureAwait(false);
            return Cli.Error;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false },
            cancellationToken).ConfigureAwait(false);
    }
}
