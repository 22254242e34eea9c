using System.Globalization;
using System.Text.Json;
using Chain.Testing;
using static Chain.Cli.Tests.CliRunner;

namespace Chain.Cli.Tests;

/// <summary>Every command over a data directory built by <see cref="TestLedger"/>.</summary>
public sealed class OfflineCommandTests(LedgerFixture ledger) : IClassFixture<LedgerFixture>
{
    [Fact]
    public async Task Status_reports_chain_height_tip_and_state_root()
    {
        var r = await RunAsync(ledger.Offline("status"));
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains(TestLedger.DefaultChainId, r.Out, StringComparison.Ordinal);
        Assert.Contains(ledger.TipHash.ToString(), r.Out, StringComparison.Ordinal);

        var j = (await RunAsync(ledger.Offline("status", "--json"))).Json();
        Assert.Equal(TestLedger.DefaultChainId, j.GetProperty("chainId").GetString());
        Assert.Equal((ulong)LedgerFixture.Blocks, j.GetProperty("height").GetUInt64());
        Assert.Equal(ledger.TipHash.ToString(), j.GetProperty("tipHash").GetString());
        Assert.Equal(ledger.StateRoot.ToString(), j.GetProperty("stateRoot").GetString());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("node").ValueKind);
    }

    [Fact]
    public async Task Data_accepts_the_ledger_directory_itself()
    {
        var r = await RunAsync("status", "--json", "--data", ledger.Ledger, "--genesis", ledger.Genesis);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal((ulong)LedgerFixture.Blocks, r.Json().GetProperty("height").GetUInt64());
    }

    [Fact]
    public async Task Blocks_defaults_to_the_last_twenty_and_honours_a_range()
    {
        var all = (await RunAsync(ledger.Offline("blocks", "--json"))).Json().GetProperty("blocks");
        Assert.Equal(LedgerFixture.Blocks, all.GetArrayLength()); // fewer than 20 blocks: all of them
        var first = all[0];
        Assert.Equal(1UL, first.GetProperty("height").GetUInt64());
        Assert.Equal((uint)LedgerFixture.TxPerBlock, first.GetProperty("txCount").GetUInt32());
        Assert.Equal(3, first.GetProperty("signers").GetInt32());
        Assert.EndsWith("Z", first.GetProperty("timestamp").GetString(), StringComparison.Ordinal);

        var range = await RunAsync(ledger.Offline("blocks", "--from", "3", "--to", "5", "--json"));
        Assert.Equal([3UL, 4UL, 5UL], range.Json().GetProperty("blocks").EnumerateArray().Select(b => b.GetProperty("height").GetUInt64()));

        var table = await RunAsync(ledger.Offline("blocks", "--from", "2", "--to", "2"));
        Assert.True(table.Code == 0, table.ToString());
        Assert.Contains("hospital-", table.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Block_shows_header_certificate_and_transactions()
    {
        var r = await RunAsync(ledger.Offline("block", "3"));
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("valid against the genesis", r.Out, StringComparison.Ordinal);
        Assert.Contains(ledger.KvTx.ToString(), r.Out, StringComparison.Ordinal);

        var j = (await RunAsync(ledger.Offline("block", "3", "--json"))).Json();
        Assert.Equal(3UL, j.GetProperty("height").GetUInt64());
        Assert.True(j.GetProperty("certificate").GetProperty("valid").GetBoolean());
        Assert.Equal("Commit", j.GetProperty("certificate").GetProperty("phase").GetString());
        var txs = j.GetProperty("transactions");
        Assert.Equal(LedgerFixture.TxPerBlock, txs.GetArrayLength());
        Assert.All(txs.EnumerateArray(), t => Assert.NotEqual("unknown", t.GetProperty("outcome").GetString()));
        Assert.All(txs.EnumerateArray(), t => Assert.False(string.IsNullOrEmpty(t.GetProperty("senderOrganisation").GetString())));
    }

    [Fact]
    public async Task Tx_passes_every_local_check_and_shows_the_outcome()
    {
        var r = await RunAsync(ledger.Offline("tx", ledger.KvTx.ToString()));
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("all checks passed", r.Out, StringComparison.Ordinal);
        Assert.Contains("succeeded", r.Out, StringComparison.Ordinal);

        var j = (await RunAsync(ledger.Offline("tx", ledger.KvTx.ToString(), "--json"))).Json();
        Assert.True(j.GetProperty("valid").GetBoolean());
        Assert.Equal("kv", j.GetProperty("contract").GetString());
        Assert.Equal("put", j.GetProperty("function").GetString());
        Assert.Equal(3UL, j.GetProperty("height").GetUInt64());
        Assert.Equal(["id", "signature", "chain", "merkle", "certificate"],
            j.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.All(j.GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("ok").GetBoolean()));
        Assert.True(j.GetProperty("outcome").GetProperty("succeeded").GetBoolean());
        Assert.Equal("utf8", j.GetProperty("args")[0].GetProperty("encoding").GetString());
    }

    [Fact]
    public async Task Tx_reports_a_refused_transaction_with_its_error()
    {
        var rows = (await RunAsync(ledger.Offline("export", "--format", "json"))).Json();
        var refused = rows.EnumerateArray().FirstOrDefault(x => x.GetProperty("succeeded").ValueKind == JsonValueKind.False);
        Assert.NotEqual(JsonValueKind.Undefined, refused.ValueKind);
        var j = (await RunAsync(ledger.Offline("tx", refused.GetProperty("txId").GetString()!, "--json"))).Json();
        Assert.True(j.GetProperty("valid").GetBoolean());
        Assert.False(j.GetProperty("outcome").GetProperty("succeeded").GetBoolean());
        Assert.False(string.IsNullOrEmpty(j.GetProperty("outcome").GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Tx_unknown_or_malformed_id_is_one_clear_error()
    {
        AssertError(await RunAsync(ledger.Offline("tx", new string('a', 64))), "not in the ledger");
        AssertError(await RunAsync(ledger.Offline("tx", "xyz")), "64 hex");
    }

    [Fact]
    public async Task State_get_reads_value_and_version()
    {
        var tx = ledger.AllTransactions.First(t => t.Contract == "kv" && t.Sender != TestLedger.Default.AuditorKey.PublicKey);
        var key = "kv/" + System.Text.Encoding.UTF8.GetString(tx.Args[0].Span);
        var j = (await RunAsync(ledger.Offline("state", "get", key, "--json"))).Json();
        Assert.Equal(key, j.GetProperty("key").GetString());
        Assert.Equal("utf8", j.GetProperty("encoding").GetString());
        Assert.StartsWith("v", j.GetProperty("value").GetString(), StringComparison.Ordinal);
        Assert.InRange(j.GetProperty("version").GetUInt64(), 1UL, (ulong)LedgerFixture.Blocks);

        // Binary values ($results) come out as hex.
        var results = (await RunAsync(ledger.Offline("state", "get", "$results/" + 1.ToString("D20", CultureInfo.InvariantCulture), "--json"))).Json();
        Assert.Equal("hex", results.GetProperty("encoding").GetString());

        AssertError(await RunAsync(ledger.Offline("state", "get", "kv/no-such-key")), "absent");
    }

    [Fact]
    public async Task Models_list_and_show()
    {
        var list = (await RunAsync(ledger.Offline("models", "list", "--json"))).Json().GetProperty("models");
        Assert.True(list.GetArrayLength() > 0, "the test ledger registers models");
        var model = list[0].GetProperty("model").GetString()!;

        var show = (await RunAsync(ledger.Offline("models", "show", model, "--json"))).Json();
        Assert.Equal(model, show.GetProperty("model").GetString());
        var v = show.GetProperty("versions")[0];
        Assert.Equal("1.0", v.GetProperty("version").GetString());
        Assert.Equal(64, v.GetProperty("weightsSha256").GetString()!.Length);

        var table = await RunAsync(ledger.Offline("models", "show", model));
        Assert.True(table.Code == 0, table.ToString());
        Assert.Contains("weights sha256", table.Out, StringComparison.Ordinal);

        AssertError(await RunAsync(ledger.Offline("models", "show", "no-such-model")), "not registered");
        AssertError(await RunAsync(ledger.Offline("models", "show", "bad/name")), "not a valid name");
    }

    [Fact]
    public async Task Models_verify_checks_a_weights_file()
    {
        var list = (await RunAsync(ledger.Offline("models", "list", "--json"))).Json().GetProperty("models");
        var model = list[0].GetProperty("model").GetString()!;
        var file = Path.Combine(ledger.Root, "not-the-weights.bin");
        await File.WriteAllTextAsync(file, "these are not the registered weights");
        var r = await RunAsync(ledger.Offline("models", "verify", model, file));
        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("NOMATCH", r.Out, StringComparison.Ordinal);
        AssertError(await RunAsync(ledger.Offline("models", "verify", model, Path.Combine(ledger.Root, "missing.bin"))), "does not exist");
    }

    [Fact]
    public async Task Defense_log_filters_by_time_device_severity_and_limit()
    {
        var all = (await RunAsync(ledger.Offline("defense-log", "--json", "--limit", "10000"))).Json();
        var count = all.GetProperty("count").GetInt32();
        Assert.True(count > 1, "the test ledger records defense actions");
        var actions = all.GetProperty("actions");
        var device = actions[0].GetProperty("entry").GetProperty("device").GetString()!;

        var byDevice = (await RunAsync(ledger.Offline("defense-log", "--json", "--device", device))).Json().GetProperty("actions");
        Assert.True(byDevice.GetArrayLength() >= 1);
        Assert.All(byDevice.EnumerateArray(), a => Assert.Equal(device, a.GetProperty("entry").GetProperty("device").GetString()));

        Assert.Equal(count, (await RunAsync(ledger.Offline("defense-log", "--json", "--severity", "high", "--limit", "10000"))).Json().GetProperty("count").GetInt32());
        Assert.Equal(0, (await RunAsync(ledger.Offline("defense-log", "--json", "--severity", "low"))).Json().GetProperty("count").GetInt32());
        Assert.Equal(1, (await RunAsync(ledger.Offline("defense-log", "--json", "--limit", "1"))).Json().GetProperty("count").GetInt32());

        // Time: everything from the last action's time on (ISO and Unix ms agree), nothing after the last block.
        var last = actions[count - 1].GetProperty("timestamp").GetInt64();
        var iso = DateTimeOffset.FromUnixTimeMilliseconds(last).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var expected = actions.EnumerateArray().Count(a => a.GetProperty("timestamp").GetInt64() >= last);
        Assert.Equal(expected, (await RunAsync(ledger.Offline("defense-log", "--json", "--since", iso))).Json().GetProperty("count").GetInt32());
        Assert.Equal(expected, (await RunAsync(ledger.Offline("defense-log", "--json", "--since", last.ToString(CultureInfo.InvariantCulture)))).Json().GetProperty("count").GetInt32());
        Assert.Equal(count - expected,
            (await RunAsync(ledger.Offline("defense-log", "--json", "--until", iso, "--limit", "10000"))).Json().GetProperty("count").GetInt32());
        Assert.Equal(0, (await RunAsync(ledger.Offline("defense-log", "--json", "--since", "2100-01-01"))).Json().GetProperty("count").GetInt32());

        AssertError(await RunAsync(ledger.Offline("defense-log", "--since", "yesterday")), "not a time");
        AssertError(await RunAsync(ledger.Offline("defense-log", "--severity", "extreme")), "severity");
        AssertError(await RunAsync(ledger.Offline("defense-log", "--limit", "0")), "--limit");
        AssertError(await RunAsync(ledger.Offline("defense-log", "--since", "2025-01-02", "--until", "2025-01-01")), "before");
    }

    [Fact]
    public async Task Fl_rounds_lists_rounds_and_budgets()
    {
        var j = (await RunAsync(ledger.Offline("fl", "rounds", "--json"))).Json();
        var budgets = j.GetProperty("budgets");
        Assert.True(budgets.GetArrayLength() > 0, "the test ledger sets budgets");
        foreach (var b in budgets.EnumerateArray())
        {
            Assert.Equal(b.GetProperty("budget").GetDecimal() - b.GetProperty("spent").GetDecimal(), b.GetProperty("remaining").GetDecimal());
        }
        Assert.Equal(JsonValueKind.Array, j.GetProperty("rounds").ValueKind);
        var table = await RunAsync(ledger.Offline("fl", "rounds"));
        Assert.True(table.Code == 0, table.ToString());
        Assert.Contains("remaining", table.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evidence_is_empty_on_an_honest_ledger()
    {
        var j = (await RunAsync(ledger.Offline("evidence", "--json"))).Json();
        Assert.Equal(0, j.GetProperty("count").GetInt32());
        var r = await RunAsync(ledger.Offline("evidence"));
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("no evidence", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Custody_list_is_empty_and_show_of_an_unknown_secret_fails()
    {
        var j = (await RunAsync(ledger.Offline("custody", "list", "--json"))).Json();
        Assert.Equal(0, j.GetProperty("secrets").GetArrayLength());
        AssertError(await RunAsync(ledger.Offline("custody", "show", "no-such-secret")), "not in custody");
    }

    [Fact]
    public async Task Export_csv_has_one_quoted_row_per_transaction()
    {
        var file = Path.Combine(ledger.Root, "export.csv");
        var r = await RunAsync(ledger.Offline("export", "--format", "csv", "--out", file));
        Assert.True(r.Code == 0, r.ToString());
        var lines = await File.ReadAllLinesAsync(file);
        Assert.Equal("height,block_hash,timestamp,index,tx_id,contract,function,sender_organisation,sender_name,succeeded,error", lines[0]);
        // Errors may hold commas (quoted); no field holds a line break here, so a line is a row.
        Assert.Equal(LedgerFixture.Blocks * LedgerFixture.TxPerBlock, lines.Length - 1);
        Assert.Contains(lines, l => l.Contains(ledger.KvTx.ToString(), StringComparison.Ordinal));
        Assert.False(File.Exists(file + ".partial"));

        var stdout = await RunAsync(ledger.Offline("export", "--from", "2", "--to", "3"));
        Assert.Equal(2 * LedgerFixture.TxPerBlock + 1, stdout.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Export_json_is_an_array_of_rows()
    {
        var rows = (await RunAsync(ledger.Offline("export", "--format", "json"))).Json();
        Assert.Equal(LedgerFixture.Blocks * LedgerFixture.TxPerBlock, rows.GetArrayLength());
        var row = rows[0];
        foreach (var field in new[] { "height", "blockHash", "timestamp", "index", "txId", "contract", "function", "senderOrganisation", "senderName", "succeeded", "error" })
            Assert.True(row.TryGetProperty(field, out _), field);
        Assert.Equal(1UL, row.GetProperty("height").GetUInt64());

        var empty = (await RunAsync(ledger.Offline("export", "--format", "json", "--from", "5", "--to", "5"))).Json();
        Assert.Equal(LedgerFixture.TxPerBlock, empty.GetArrayLength());
    }

    [Theory]
    [InlineData("ok", "ok")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("=cmd()", "\"'=cmd()\"")]
    [InlineData(null, "")]
    public void Csv_fields_are_quoted_per_rfc4180(string? value, string expected) => Assert.Equal(expected, Commands.ExportCommand.Csv(value));
}
