using Chain.Chaincode;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Testing;
using static Chain.Cli.Tests.CliRunner;

namespace Chain.Cli.Tests;

/// <summary>
/// A ledger whose last block carries a certificate with too few signatures (the store does not check signatures; the
/// CLI does, against the genesis): 'block' and 'tx' report it and exit 1, while the blocks before it pass.
/// </summary>
public sealed class FailedCheckTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "chain-cli-weak-" + Guid.NewGuid().ToString("N"));
    private readonly string _genesis;
    private readonly string _data;
    private readonly string _weakTx;

    public FailedCheckTests()
    {
        var ledger = TestLedger.Default;
        _data = Path.Combine(_root, "data");
        Directory.CreateDirectory(Path.Combine(_data, "ledger"));
        _genesis = Path.Combine(_root, "genesis.json");
        ledger.WriteGenesis(_genesis);
        using var store = RocksDbLedgerStore.Open(Path.Combine(_data, "ledger"), ledger.Genesis);
        ledger.Build(store, 2, 3);
        var tx = Transaction.Create(ledger.ChainId, "kv", "put", [.. new[] { "weak", "certificate" }.Select(a => (ReadOnlyMemory<byte>)System.Text.Encoding.UTF8.GetBytes(a))],
            99, ledger.AppKeys[0]);
        var block = Block.Create(3, store.TipHash, store.Height, store.StateRoot, 0, 0, store.GetBlock(2)!.Block.Header.Timestamp + 1000, [tx]);
        var result = ledger.Runtime().Execute(block, new StoreStateView(store));
        store.Commit(new CommittedBlock(block, ledger.Certify(block, [0, 1])), result.Writes);
        _weakTx = tx.Id.ToString();
        store.PutMeta("evidence/00000000000000000003/2/Equivocation", """{"kind":"Equivocation","offender":2,"seq":3}"""u8);
        store.PutMeta("evidence/00000000000000000004/1/Garbled", "not json \u001b[2J"u8);
    }

    private string[] Offline(params string[] args) => [.. args, "--data", _data, "--genesis", _genesis];

    [Fact]
    public async Task Block_with_too_few_signatures_fails_its_check()
    {
        Assert.Equal(0, (await RunAsync(Offline("block", "2"))).Code);
        var r = await RunAsync(Offline("block", "3"));
        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("INVALID", r.Out, StringComparison.Ordinal);
        var j = (await RunAsync(Offline("block", "3", "--json"))).Json();
        Assert.False(j.GetProperty("certificate").GetProperty("valid").GetBoolean());
    }

    [Fact]
    public async Task Tx_in_that_block_fails_the_certificate_check_only()
    {
        var r = await RunAsync(Offline("tx", _weakTx, "--json"));
        Assert.True(r.Code == 1, r.ToString());
        var checks = r.Json().GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("ok").GetBoolean());
        Assert.False(checks["certificate"]);
        Assert.True(checks["id"] && checks["signature"] && checks["merkle"] && checks["chain"]);
    }

    [Fact]
    public async Task Evidence_lists_the_recorded_misbehaviour()
    {
        var j = (await RunAsync(Offline("evidence", "--json"))).Json();
        Assert.Equal(2, j.GetProperty("count").GetInt32());
        Assert.Equal(2, j.GetProperty("evidence")[0].GetProperty("offender").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.String, j.GetProperty("evidence")[1].ValueKind); // kept as text, not parsed
        var r = await RunAsync(Offline("evidence"));
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("Equivocation", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", r.Out, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
