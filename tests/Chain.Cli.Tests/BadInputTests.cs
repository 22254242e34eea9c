using Chain.Testing;
using static Chain.Cli.Tests.CliRunner;

namespace Chain.Cli.Tests;

/// <summary>Hostile or mistaken input: one line on stderr, exit code 2, never a stack trace.</summary>
public sealed class BadInputTests(LedgerFixture ledger) : IClassFixture<LedgerFixture>
{
    [Theory]
    [InlineData("block", "abc")]
    [InlineData("block", "0")]
    [InlineData("block", "1.5")]
    [InlineData("block", "99999999999999999999999")]
    public async Task A_bad_height_is_refused(string command, string height) =>
        AssertError(await RunAsync(ledger.Offline(command, height)), "height");

    [Fact]
    public async Task A_negative_height_is_refused()
    {
        AssertError(await RunAsync(ledger.Offline("block", "--", "-1")));
        AssertError(await RunAsync(ledger.Offline("blocks", "--from", "-3")));
    }

    [Fact]
    public async Task A_height_above_the_tip_is_refused()
    {
        AssertError(await RunAsync(ledger.Offline("block", "1000")), "tip");
        AssertError(await RunAsync(ledger.Offline("blocks", "--to", "1000")), "tip");
    }

    [Fact]
    public async Task From_after_to_is_refused()
    {
        AssertError(await RunAsync(ledger.Offline("blocks", "--from", "5", "--to", "2")), "after");
        AssertError(await RunAsync(ledger.Offline("export", "--from", "5", "--to", "2")), "after");
    }

    [Fact]
    public async Task Missing_genesis_is_refused() =>
        AssertError(await RunAsync("status", "--data", ledger.DataDir), "--genesis");

    [Fact]
    public async Task No_source_is_refused() =>
        AssertError(await RunAsync("status", "--genesis", ledger.Genesis), "--node");

    [Fact]
    public async Task Data_and_node_together_are_refused() =>
        AssertError(await RunAsync("status", "--data", ledger.DataDir, "--node", "127.0.0.1:7000", "--genesis", ledger.Genesis), "exclude");

    [Fact]
    public async Task A_directory_that_is_not_a_ledger_is_refused()
    {
        var empty = Directory.CreateDirectory(Path.Combine(ledger.Root, "empty-" + Guid.NewGuid().ToString("N"))).FullName;
        AssertError(await RunAsync("status", "--data", empty, "--genesis", ledger.Genesis), "not a ledger");
        AssertError(await RunAsync("status", "--data", Path.Combine(ledger.Root, "missing"), "--genesis", ledger.Genesis), "does not exist");
    }

    [Fact]
    public async Task A_genesis_of_another_chain_is_refused()
    {
        var other = Path.Combine(ledger.Root, "other-genesis.json");
        new TestLedger("another-chain").WriteGenesis(other);
        AssertError(await RunAsync("status", "--data", ledger.DataDir, "--genesis", other), "another chain");
    }

    [Fact]
    public async Task A_malformed_genesis_is_refused()
    {
        var bad = Path.Combine(ledger.Root, "bad-genesis.json");
        await File.WriteAllTextAsync(bad, "{ not json");
        AssertError(await RunAsync("status", "--data", ledger.DataDir, "--genesis", bad), "genesis");
        AssertError(await RunAsync("status", "--data", ledger.DataDir, "--genesis", Path.Combine(ledger.Root, "none.json")), "does not exist");
    }

    [Fact]
    public async Task Unknown_commands_and_options_are_one_line()
    {
        AssertError(await RunAsync("frobnicate"));
        AssertError(await RunAsync(ledger.Offline("blocks", "--bogus")));
        AssertError(await RunAsync(ledger.Offline("export", "--format", "xml")));
    }

    [Fact]
    public async Task Online_options_are_checked_before_connecting()
    {
        AssertError(await RunAsync("status", "--node", "127.0.0.1:7000", "--genesis", ledger.Genesis), "--identity");
        AssertError(await RunAsync("status", "--node", "not an address", "--genesis", ledger.Genesis), "HOST:PORT");
        AssertError(await RunAsync("status", "--testnet", Path.Combine(ledger.Root, "no-testnet")), "does not exist");
    }

    [Fact]
    public async Task A_bad_state_key_is_refused() =>
        AssertError(await RunAsync(ledger.Offline("state", "get", "")), "state key");

    [Fact]
    public async Task Help_works_everywhere()
    {
        foreach (var args in new[] { new[] { "--help" }, ["tx", "--help"], ["models", "verify", "--help"], ["export", "--help"] })
        {
            var r = await RunAsync(args);
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains("Usage", r.Out, StringComparison.OrdinalIgnoreCase);
        }
    }
}
