using Chain.Testing;
using static Chain.Cli.Tests.CliRunner;

namespace Chain.Cli.Tests;

/// <summary>
/// <c>chain verify</c> over a data directory: an honest ledger passes (human and --json output); a copy with a byte
/// flipped in a stored block, or a state entry altered in RocksDB, fails naming the block and the check, exit 1.
/// (The verifier's own tests cover every kind of tampering; these check the command's output and exit codes.)
/// </summary>
public sealed class VerifyCommandTests(LedgerFixture ledger) : IClassFixture<LedgerFixture>
{
    [Fact]
    public async Task An_honest_ledger_verifies()
    {
        var r = await RunAsync(ledger.Offline("verify"));
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains($"ledger OK: {LedgerFixture.Blocks} blocks, {LedgerFixture.Blocks * LedgerFixture.TxPerBlock} transactions", r.Out, StringComparison.Ordinal);
        Assert.Contains("stored state equals the replay", r.Out, StringComparison.Ordinal);
        Assert.Contains($"verified {LedgerFixture.Blocks} of {LedgerFixture.Blocks} blocks", r.Err, StringComparison.Ordinal);

        var j = (await RunAsync(ledger.Offline("verify", "--json", "--parallelism", "1"))).Json();
        Assert.True(j.GetProperty("ok").GetBoolean());
        Assert.Equal((ulong)LedgerFixture.Blocks, j.GetProperty("blocks").GetUInt64());
        Assert.Equal(ledger.StateRoot.ToString(), j.GetProperty("stateRoot").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, j.GetProperty("failure").ValueKind);
    }

    [Fact]
    public async Task A_flipped_byte_in_a_stored_block_is_named()
    {
        using var copy = Copy();
        Tamper(copy.Ledger, "blocks", RawLedger.HeightKey(5), v => v[v.Length / 2] ^= 0x40);
        var r = await RunAsync(copy.Offline("verify"));
        Assert.True(r.Code == 1, r.ToString());
        Assert.Contains("ledger FAILED at block 5", r.Out, StringComparison.Ordinal);
        var j = (await RunAsync(copy.Offline("verify", "--json"))).Json();
        Assert.False(j.GetProperty("ok").GetBoolean());
        Assert.Equal(5UL, j.GetProperty("failure").GetProperty("height").GetUInt64());
    }

    [Fact]
    public async Task A_state_entry_altered_in_rocksdb_is_found()
    {
        using var copy = Copy();
        RawLedger.Tamper(copy.Ledger, (db, cf) =>
        {
            using var it = db.NewIterator(cf("state"));
            it.Seek("kv/"u8.ToArray());
            Assert.True(it.Valid());
            var value = it.Value();
            value[^1] ^= 1;
            db.Put(it.Key(), value, cf("state"));
        });
        var j = (await RunAsync(copy.Offline("verify", "--json"))).Json();
        Assert.False(j.GetProperty("ok").GetBoolean(), j.ToString());
        Assert.Equal("state", j.GetProperty("failure").GetProperty("check").GetString());
    }

    [Fact]
    public async Task Bad_parallelism_is_one_line() =>
        AssertError(await RunAsync(ledger.Offline("verify", "--parallelism", "0")), "--parallelism");

    private static void Tamper(string path, string column, byte[] key, Action<byte[]> change) =>
        RawLedger.Tamper(path, (db, cf) =>
        {
            var value = db.Get(key, cf(column)) ?? throw new InvalidOperationException($"no {column} entry to tamper with");
            change(value);
            db.Put(key, value, cf(column));
        });

    /// <summary>A copy of the fixture's data directory and genesis, to damage.</summary>
    private TempCopy Copy() => new(ledger);

    private sealed class TempCopy : IDisposable
    {
        public TempCopy(LedgerFixture source)
        {
            Root = Path.Combine(Path.GetTempPath(), "chain-cli-verify-" + Guid.NewGuid().ToString("N"));
            foreach (var file in Directory.EnumerateFiles(source.Root, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(Root, Path.GetRelativePath(source.Root, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
        }

        public string Root { get; }

        public string Ledger => Path.Combine(Root, "data", "ledger");

        public string[] Offline(params string[] args) => [.. args, "--data", Path.Combine(Root, "data"), "--genesis", Path.Combine(Root, "genesis.json")];

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }
}
