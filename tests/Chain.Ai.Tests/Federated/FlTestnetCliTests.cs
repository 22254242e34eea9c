namespace Chain.Ai.Tests.Federated;

/// <summary><c>chain-ai fl testnet</c> refuses what it cannot use before touching a node (the real rounds run in
/// <see cref="LedgerRoundsTests"/>).</summary>
public sealed class FlTestnetCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-fl-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_folder_that_is_not_a_testnet_or_a_malformed_manifest_exits_2_with_one_line()
    {
        var (code, _, err) = await CliRun.Run(["fl", "testnet", "--testnet", _dir]);
        Assert.Equal(2, code);
        Assert.Contains("is not a testnet folder", err);

        await File.WriteAllTextAsync(Path.Combine(_dir, "testnet.json"), """{ "organisations": 3 }""");
        (code, _, err) = await CliRun.Run(["fl", "testnet", "--testnet", _dir]);
        Assert.Equal(2, code);
        Assert.Contains("testnet.json is malformed", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public async Task Bad_numbers_are_refused()
    {
        var (code, _, err) = await CliRun.Run(["fl", "testnet", "--testnet", _dir, "--rounds", "many"]);
        Assert.Equal(2, code);
        Assert.Contains("many", err);
    }
}
