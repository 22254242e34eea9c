using Chain.Chaincode;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Imaging;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Testing;
using static Chain.Cli.Tests.CliRunner;

namespace Chain.Cli.Tests;

/// <summary>
/// A RocksDB data directory of the <see cref="TestLedger"/> consortium holding one custody record, "imaging-key", dealt
/// 3-of-4 and released twice: to hospital-b (request img-b) and to hospital-c (request img-c), each with its own custody
/// key file.
/// </summary>
public sealed class CustodyLedgerFixture : IDisposable
{
    public const string Custody = "imaging-key";

    public CustodyLedgerFixture()
    {
        Root = Directory.CreateTempSubdirectory("chain-cli-image-").FullName;
        var t = TestLedger.Default;
        var ledger = Path.Combine(Root, "data", "ledger");
        Directory.CreateDirectory(ledger);
        t.WriteGenesis(Genesis);
        var custodyKeys = TestLedger.Hospitals.Select(_ => CustodyKeyPair.Create()).ToList();
        using var bKey = CustodyKeyPair.Create();
        using var cKey = CustodyKeyPair.Create();
        bKey.Save(BKeyFile);
        cKey.Save(CKeyFile);
        try
        {
            using var store = RocksDbLedgerStore.Open(ledger, t.Genesis);
            var runtime = t.Runtime();
            ulong nonce = 1;
            var timestamp = TestLedger.GenesisTimestamp;
            var reader = new StoreStateReader(store);
            void Run(int hospital, CustodyCall call)
            {
                var tx = call.ToTransaction(t.ChainId, nonce++, t.AppKeys[hospital]);
                var block = Block.Create(store.Height + 1, store.TipHash, store.Height, store.StateRoot, 0, 0, timestamp += 1000, [tx]);
                var result = runtime.Execute(block, new StoreStateView(store));
                Assert.True(result.Outcomes[0].Success, $"{call}: {result.Outcomes[0].Error}");
                store.Commit(new CommittedBlock(block, t.Certify(block)), result.Writes);
            }
            Custodian CustodianOf(int h) => new(t.ChainId, TestLedger.Hospitals[h], custodyKeys[h]);
            for (var h = 0; h < 4; h++) Run(h, CustodyCall.RegisterKey(custodyKeys[h]));
            var keys = Enumerable.Range(0, 4).Select(h => new CustodianKey(TestLedger.Hospitals[h], custodyKeys[h].PublicKeyHex)).ToList();
            Run(0, Dealer.PrepareDeal(t.ChainId, Custody, Dealer.NewSecret(), 3, keys));
            for (var h = 0; h < 4; h++) Run(h, CustodianOf(h).OpenCurrentAsync(reader, Custody).GetAwaiter().GetResult().Call);
            foreach (var (requester, request, key, approvers) in new[] { (1, "img-b", bKey, new[] { 0, 2, 3 }), (2, "img-c", cKey, [0, 1, 3]) })
            {
                Run(requester, CustodyCall.Request(Custody, request, key.PublicKeyHex));
                foreach (var h in approvers) Run(h, CustodianOf(h).ApproveAsync(reader, Custody, request).GetAwaiter().GetResult());
            }
        }
        finally
        {
            foreach (var k in custodyKeys) k.Dispose();
        }
    }

    public string Root { get; }

    public string Genesis => Path.Combine(Root, "genesis.json");

    public string DataDir => Path.Combine(Root, "data");

    /// <summary>hospital-b's custody key pair (the key its request img-b names).</summary>
    public string BKeyFile => Path.Combine(Root, "hospital-b.custody.key");

    public string CKeyFile => Path.Combine(Root, "hospital-c.custody.key");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary><c>chain image keygen|encrypt|decrypt|info</c>: round trips, refusals, exit codes and one-line errors.</summary>
public sealed class ImageTests(CustodyLedgerFixture custody) : IClassFixture<CustodyLedgerFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-cli-image-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private string Plain(string name, int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(P(name), bytes);
        return P(name);
    }

    private async Task<string> KeyAsync(string name = "image.key")
    {
        var r = await RunAsync("image", "keygen", "--out", P(name));
        Assert.True(r.Code == 0, r.ToString());
        return P(name);
    }

    private void NothingLeft(string output)
    {
        Assert.False(File.Exists(output), $"{output} was left");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!, "*.partial"));
    }

    [Fact]
    public async Task Keygen_writes_an_owner_only_key_and_never_overwrites_it()
    {
        var r = await RunAsync("image", "keygen", "--out", P("k.key"), "--json");
        Assert.True(r.Code == 0, r.ToString());
        var fingerprint = r.Json().GetProperty("fingerprint").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", fingerprint);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("k.key")));
        using (var key = ImageKeyFile.Load(P("k.key"))) Assert.Equal(fingerprint, key.Fingerprint);
        var before = await File.ReadAllTextAsync(P("k.key"));

        AssertError(await RunAsync("image", "keygen", "--out", P("k.key")), "already exists");
        Assert.Equal(before, await File.ReadAllTextAsync(P("k.key")));
        AssertError(await RunAsync("image", "keygen"), "--out");
        AssertError(await RunAsync("image", "keygen", "--out", P("no/such/dir/k.key")), "cannot write");

        var human = await RunAsync("image", "keygen", "--out", P("k2.key"));
        Assert.Contains("fingerprint", human.Out, StringComparison.Ordinal);
        Assert.Empty(human.Err);
    }

    [Theory]
    [InlineData(0, "4KiB")]
    [InlineData(1, "4KiB")]
    [InlineData(4096, "4096")]
    [InlineData(4097, "4K")]
    [InlineData(3_000_000, "1MiB")]
    public async Task A_file_round_trips_through_encrypt_and_decrypt(int size, string chunk)
    {
        var key = await KeyAsync();
        var input = Plain("scan.dcm", size);
        var enc = await RunAsync("image", "encrypt", input, P("scan.chimg"), "--key-file", key, "--chunk-size", chunk, "--json");
        Assert.True(enc.Code == 0, enc.ToString());
        var json = enc.Json();
        Assert.Equal(size, json.GetProperty("length").GetInt64());
        Assert.Equal("key-file", json.GetProperty("keySource").GetProperty("kind").GetString());
        Assert.Equal(JsonValueKindNull, json.GetProperty("fileName").ValueKind);

        var dec = await RunAsync("image", "decrypt", P("scan.chimg"), P("out.dcm"), "--key-file", key, "--accelerator", "cpu");
        Assert.True(dec.Code == 0, dec.ToString());
        Assert.Contains("decrypted", dec.Out, StringComparison.Ordinal);
        Assert.Contains("cpu, 1 CPU thread", dec.Out, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(input), await File.ReadAllBytesAsync(P("out.dcm")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("out.dcm")));
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    [Fact]
    public async Task Info_reads_the_header_without_a_key()
    {
        var key = await KeyAsync();
        var input = Plain("ct-0001.dcm", 100_000);
        Assert.Equal(0, (await RunAsync("image", "encrypt", input, P("a.chimg"), "--key-file", key, "--chunk-size", "64KiB", "--store-name")).Code);
        var info = await RunAsync("image", "info", P("a.chimg"), "--json");
        Assert.True(info.Code == 0, info.ToString());
        var j = info.Json();
        Assert.Equal(65536, j.GetProperty("chunkSize").GetInt32());
        Assert.Equal(100_000, j.GetProperty("length").GetInt64());
        Assert.Equal(2, j.GetProperty("chunkCount").GetInt64());
        Assert.Equal("ct-0001.dcm", j.GetProperty("fileName").GetString());
        Assert.True(j.GetProperty("sizeMatches").GetBoolean());
        using (var k = ImageKeyFile.Load(key)) Assert.Equal(k.Fingerprint, j.GetProperty("keyFingerprint").GetString());

        var human = await RunAsync("image", "info", P("a.chimg"));
        Assert.Contains("matches the header", human.Out, StringComparison.Ordinal);
        await File.WriteAllBytesAsync(P("cut.chimg"), (await File.ReadAllBytesAsync(P("a.chimg")))[..^10]);
        Assert.Contains("TRUNCATED", (await RunAsync("image", "info", P("cut.chimg"))).Out, StringComparison.Ordinal);
        AssertError(await RunAsync("image", "info", input), "not a Chain image file");
        AssertError(await RunAsync("image", "info", P("missing")), "does not exist");
    }

    [Fact]
    public async Task Wrong_keys_tampering_and_truncation_exit_2_with_one_line_and_leave_no_output()
    {
        var key = await KeyAsync();
        var other = await KeyAsync("other.key");
        var input = Plain("s.dcm", 50_000);
        Assert.Equal(0, (await RunAsync("image", "encrypt", input, P("s.chimg"), "--key-file", key, "--chunk-size", "4KiB")).Code);
        var good = await File.ReadAllBytesAsync(P("s.chimg"));

        AssertError(await RunAsync("image", "decrypt", P("s.chimg"), P("o.dcm"), "--key-file", other), "the key does not open this file");
        NothingLeft(P("o.dcm"));

        var tampered = (byte[])good.Clone();
        var header = ImageHeader.Read(new MemoryStream(good));
        tampered[header.Bytes.Length + 4112 + 7] ^= 0x20;
        await File.WriteAllBytesAsync(P("t.chimg"), tampered);
        AssertError(await RunAsync("image", "decrypt", P("t.chimg"), P("o.dcm"), "--key-file", key), "chunk 1 of 13");
        NothingLeft(P("o.dcm"));

        await File.WriteAllBytesAsync(P("cut.chimg"), good[..^100]);
        AssertError(await RunAsync("image", "decrypt", P("cut.chimg"), P("o.dcm"), "--key-file", key), "truncated");
        NothingLeft(P("o.dcm"));

        await File.WriteAllBytesAsync(P("long.chimg"), [.. good, 1, 2, 3]);
        AssertError(await RunAsync("image", "decrypt", P("long.chimg"), P("o.dcm"), "--key-file", key), "follow the last chunk");
        NothingLeft(P("o.dcm"));

        var badHeader = (byte[])good.Clone();
        badHeader[20] ^= 1;
        await File.WriteAllBytesAsync(P("h.chimg"), badHeader);
        AssertError(await RunAsync("image", "decrypt", P("h.chimg"), P("o.dcm"), "--key-file", key, "--json"));
        NothingLeft(P("o.dcm"));

        AssertError(await RunAsync("image", "decrypt", input, P("o.dcm"), "--key-file", key), "not a Chain image file");
        NothingLeft(P("o.dcm"));
    }

    [Fact]
    public async Task An_existing_output_needs_force()
    {
        var key = await KeyAsync();
        var input = Plain("f.dcm", 10_000);
        await File.WriteAllTextAsync(P("f.chimg"), "keep me");
        AssertError(await RunAsync("image", "encrypt", input, P("f.chimg"), "--key-file", key), "--force");
        Assert.Equal("keep me", await File.ReadAllTextAsync(P("f.chimg")));
        Assert.Equal(0, (await RunAsync("image", "encrypt", input, P("f.chimg"), "--key-file", key, "--force")).Code);
        await File.WriteAllTextAsync(P("f.out"), "keep me too");
        AssertError(await RunAsync("image", "decrypt", P("f.chimg"), P("f.out"), "--key-file", key), "already exists");
        Assert.Equal("keep me too", await File.ReadAllTextAsync(P("f.out")));
        Assert.Equal(0, (await RunAsync("image", "decrypt", P("f.chimg"), P("f.out"), "--key-file", key, "--force")).Code);
        Assert.Equal(await File.ReadAllBytesAsync(input), await File.ReadAllBytesAsync(P("f.out")));
    }

    [Fact]
    public async Task Bad_arguments_are_one_line()
    {
        var key = await KeyAsync();
        var input = Plain("b.dcm", 100);
        AssertError(await RunAsync("image", "encrypt", P("missing.dcm"), P("x"), "--key-file", key), "does not exist");
        AssertError(await RunAsync("image", "encrypt", input, input, "--key-file", key, "--force"), "input");
        AssertError(await RunAsync("image", "encrypt", input, _dir, "--key-file", key), "not a file path");
        AssertError(await RunAsync("image", "encrypt", input, P("no/dir/x"), "--key-file", key), "does not exist");
        foreach (var size in new[] { "1K", "17MiB", "abc", "-4096", "4096.5" })
            AssertError(await RunAsync("image", "encrypt", input, P("x"), "--key-file", key, "--chunk-size", size), "--chunk-size");
        AssertError(await RunAsync("image", "encrypt", input, P("x")), "--key-file");
        AssertError(await RunAsync("image", "encrypt", input, P("x"), "--key-file", P("none.key")), "does not exist");
        AssertError(await RunAsync("image", "encrypt", input, P("x"), "--key-file", key, "--custody", "k"), "excludes");
        AssertError(await RunAsync("image", "encrypt", input, P("x"), "--custody-key", custody.BKeyFile, "--request", "r"), "--custody");
        AssertError(await RunAsync("image", "encrypt", input, P("x"), "--custody-key", custody.BKeyFile, "--custody", "../x", "--request", "r"),
            "not a valid name");
        AssertError(await RunAsync("image", "encrypt", input, P("x"), "--custody-key", custody.BKeyFile, "--custody", "k", "--request", "r"),
            "--node");
        await File.WriteAllTextAsync(P("garbage.key"), "nope");
        File.SetUnixFileMode(P("garbage.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        AssertError(await RunAsync("image", "encrypt", input, P("x"), "--key-file", P("garbage.key")), "not an image key file");
        AssertError(await RunAsync("image", "frobnicate"));
        Assert.False(File.Exists(P("x")));
    }

    [Fact]
    public async Task Decrypting_without_a_key_says_which_key_the_file_needs()
    {
        var key = await KeyAsync();
        var input = Plain("n.dcm", 100);
        Assert.Equal(0, (await RunAsync("image", "encrypt", input, P("n.chimg"), "--key-file", key)).Code);
        AssertError(await RunAsync("image", "decrypt", P("n.chimg"), P("n.out")), "--key-file");
        AssertError(await RunAsync(Offline("image", "decrypt", P("n.chimg"), P("n.out"), "--custody-key", custody.BKeyFile,
            "--custody", CustodyLedgerFixture.Custody, "--request", "img-b")), "the key does not open this file");
    }

    private string[] Offline(params string[] args) => [.. args, "--data", custody.DataDir, "--genesis", custody.Genesis];

    [Fact]
    public async Task A_key_released_through_custody_encrypts_and_another_release_decrypts()
    {
        var input = Plain("mri.dcm", 300_000, 5);
        var enc = await RunAsync(Offline("image", "encrypt", input, P("mri.chimg"), "--custody", CustodyLedgerFixture.Custody, "--request", "img-b",
            "--custody-key", custody.BKeyFile, "--chunk-size", "64KiB", "--json"));
        Assert.True(enc.Code == 0, enc.ToString());
        var source = enc.Json().GetProperty("keySource");
        Assert.Equal("custody", source.GetProperty("kind").GetString());
        Assert.Equal(CustodyLedgerFixture.Custody, source.GetProperty("custodyId").GetString());
        Assert.Equal("img-b", source.GetProperty("requestId").GetString());
        Assert.Equal(TestLedger.DefaultChainId, source.GetProperty("chainId").GetString());

        var info = await RunAsync("image", "info", P("mri.chimg"));
        Assert.Contains($"released from custody {CustodyLedgerFixture.Custody}", info.Out, StringComparison.Ordinal);

        // hospital-c, with its own release; --custody comes from the header.
        var dec = await RunAsync(Offline("image", "decrypt", P("mri.chimg"), P("mri.out"), "--custody-key", custody.CKeyFile, "--request", "img-c"));
        Assert.True(dec.Code == 0, dec.ToString());
        Assert.Equal(await File.ReadAllBytesAsync(input), await File.ReadAllBytesAsync(P("mri.out")));
        // hospital-b, with the header's request.
        dec = await RunAsync(Offline("image", "decrypt", P("mri.chimg"), P("mri.out2"), "--custody-key", custody.BKeyFile));
        Assert.True(dec.Code == 0, dec.ToString());

        // Without a key: the hint names the custody record.
        AssertError(await RunAsync("image", "decrypt", P("mri.chimg"), P("x")), $"custody {CustodyLedgerFixture.Custody}");
        // hospital-c's key cannot open hospital-b's release.
        AssertError(await RunAsync(Offline("image", "decrypt", P("mri.chimg"), P("x"), "--custody-key", custody.CKeyFile)), "img-b");
        // A key file is not the custody key.
        var key = await KeyAsync();
        AssertError(await RunAsync("image", "decrypt", P("mri.chimg"), P("x"), "--key-file", key), "custody");
        AssertError(await RunAsync(Offline("image", "encrypt", input, P("y"), "--custody", "no-such-secret", "--request", "img-b",
            "--custody-key", custody.BKeyFile)), "not in custody");
        NothingLeft(P("x"));
    }
}
