using static Chain.Cli.Tests.CliRunner;

namespace Chain.Cli.Tests;

/// <summary>
/// Against a running local testnet ('testnet start'): set CHAIN_CLI_TESTNET to its folder and remove the Skip to run.
/// </summary>
public sealed class OnlineTests
{
    [Fact(Skip = "needs a running testnet: set CHAIN_CLI_TESTNET=<testnet folder> and remove this Skip")]
    public async Task Status_blocks_and_a_transaction_through_a_node()
    {
        var dir = Environment.GetEnvironmentVariable("CHAIN_CLI_TESTNET") ?? throw new InvalidOperationException("CHAIN_CLI_TESTNET is not set");
        var status = await RunAsync("status", "--json", "--testnet", dir);
        Assert.True(status.Code == 0, status.ToString());
        var height = status.Json().GetProperty("height").GetUInt64();
        Assert.True(height > 0);
        var block = (await RunAsync("block", height.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json", "--testnet", dir)).Json();
        Assert.True(block.GetProperty("certificate").GetProperty("valid").GetBoolean());
        if (block.GetProperty("transactions").GetArrayLength() > 0)
        {
            var id = block.GetProperty("transactions")[0].GetProperty("id").GetString()!;
            var tx = await RunAsync("tx", id, "--testnet", dir);
            Assert.True(tx.Code == 0, tx.ToString());
        }
        Assert.Equal(0, (await RunAsync("evidence", "--testnet", dir)).Code);
    }
}
