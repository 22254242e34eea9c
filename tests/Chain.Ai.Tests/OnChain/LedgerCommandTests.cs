namespace Chain.Ai.Tests.OnChain;

/// <summary>The ledger commands refuse bad input with one line and exit 2 before touching a node (the end-to-end test runs check-weights on a testnet).</summary>
public sealed class LedgerCommandTests
{
    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public async Task Bad_input_is_one_error_line_and_exit_2()
    {
        var (code, _, stderr) = await Run("check-weights", "--model", "m", "--version", "1", "--weights", "w.bin");
        Assert.Equal(Cli.Program.Error, code);
        Assert.Contains("give --testnet DIR --client NAME", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await Run("attest", "--model", "m", "--version", "1", "--weights", "w.bin", "--data", "/nonexistent.csv",
            "--loader-options", "{}", "--epsilon", "1.5");
        Assert.Equal((Cli.Program.Error, "error: --epsilon and --delta go together"), (code, stderr.Trim()));

        (code, _, stderr) = await Run("log-actions", "--agent", "agent-c", "--actions", "/nonexistent.jsonl", "--testnet", "/tmp", "--client", "x");
        Assert.Equal((Cli.Program.Error, "error: actions file /nonexistent.jsonl does not exist"), (code, stderr.Trim()));

        (code, _, stderr) = await Run("endorse", "--model", "m", "--version", "1", "--testnet", "/nonexistent-testnet", "--client", "x");
        Assert.Equal(Cli.Program.Error, code);
        Assert.Contains("nonexistent-testnet", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));

        (code, _, stderr) = await Run("check-weights", "--model", "m");
        Assert.Equal(Cli.Program.Error, code);
        Assert.Contains("--version", stderr, StringComparison.Ordinal);
    }
}
