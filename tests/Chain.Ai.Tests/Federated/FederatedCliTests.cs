using Chain.Ai.Cli;
using Chain.Ai.Tests.Detection;

namespace Chain.Ai.Tests.Federated;

/// <summary>chain-ai fl simulate / poison / compress / dp in-process on a small synthetic CSV.</summary>
public sealed class FederatedCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-fl-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Data(int clients = 4) =>
    [
        "--data", SyntheticIomt.WriteFile(_dir), "--label", "Label", "--family", "Category", "--drop", "Id", "--vitals", "v1,v2",
        "--clients", clients.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hidden", "8,4", "--learning-rate", "0.1", "--seed", "2",
    ];

    [Fact]
    public async Task Simulate_prints_a_line_per_round_and_the_centralised_run()
    {
        var (code, stdout, stderr) = await CliRun.Run(["fl", "simulate", .. Data(), "--rounds", "3", "--compress", "topk", "--central"]);
        Assert.True(code == 0, stderr);
        var rounds = stdout.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+\d+\s+4\s+0\s")).ToArray();
        Assert.Equal(3, rounds.Length);
        Assert.Contains("federated final:", stdout, StringComparison.Ordinal);
        Assert.Contains("centralised:", stdout, StringComparison.Ordinal);
        Assert.Contains("top-k 90% sparsity", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Poison_quick_writes_the_markdown_table()
    {
        var file = Path.Combine(_dir, "poison.md");
        var (code, stdout, stderr) = await CliRun.Run(["fl", "poison", .. Data(clients: 5), "--quick", "--rounds", "2", "--attacks", "sign-flip,backdoor",
            "--assumed-malicious", "1", "--out", file]);
        Assert.True(code == 0, stderr);
        var markdown = await File.ReadAllTextAsync(file);
        Assert.Equal(stdout, markdown);
        Assert.Contains("| rule | clean | sign-flip 30 % | backdoor 30 % |", markdown, StringComparison.Ordinal);
        Assert.Contains("| fedavg |", markdown, StringComparison.Ordinal);
        Assert.Contains("| krum(f=1) |", markdown, StringComparison.Ordinal);
        Assert.Contains("## Backdoor success", markdown, StringComparison.Ordinal);
        Assert.Contains("Centralised baseline", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compress_and_dp_print_their_tables()
    {
        var (code, stdout, stderr) = await CliRun.Run(["fl", "compress", .. Data(), "--rounds", "2"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("| dense float32 |", stdout, StringComparison.Ordinal);
        Assert.Contains("| top-k 99% sparsity + error feedback |", stdout, StringComparison.Ordinal);
        Assert.Contains("| 8-bit stochastic quantisation |", stdout, StringComparison.Ordinal);

        var (dpCode, dpOut, dpErr) = await CliRun.Run(["fl", "dp", .. Data(), "--rounds", "2", "--clients-per-round", "2", "--noise", "0,1"]);
        Assert.True(dpCode == 0, dpErr);
        Assert.Contains("| 0 (clipping only) |", dpOut, StringComparison.Ordinal);
        Assert.Contains("| 2 | inf /", dpOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("simulate", "--rule", "nope", "unknown rule 'nope'")]
    [InlineData("simulate", "--partition", "nope", "--partition: 'nope'")]
    [InlineData("simulate", "--malicious", "1.5", "malicious fraction")]
    [InlineData("dp", "--dp-clip", "-1", "clipping norm")]
    [InlineData("simulate", "--rounds", "0", "Rounds must be")]
    public async Task Bad_arguments_exit_2_with_one_line(string command, string option, string value, string message)
    {
        var args = new List<string> { "fl", command };
        args.AddRange(Data());
        args.AddRange([option, value]);
        if (option == "--malicious") args.AddRange(["--attack", "label-flip"]);
        var (code, _, stderr) = await CliRun.Run([.. args]);
        Assert.Equal(Program.Error, code);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
