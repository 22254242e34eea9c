using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Chain.Accel;
using Chain.Chaincode.Custody;
using Chain.Client.Custody;
using Chain.Client.Queries;
using FsCheck.Xunit;
using Org.BouncyCastle.Math;
using CustodyRecord = Chain.Chaincode.Contracts.Custody;

namespace Chain.Client.Tests;

/// <summary>
/// The client side of share custody against the real custody contract: dealing, checking, acknowledging and complaining,
/// refreshing, releasing; sealed boxes; custody key files; auditor views.
/// </summary>
public sealed class CustodyClientTests : IDisposable
{
    private const string Id = "model-key";
    private static readonly string[] Orgs = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"];

    private readonly LedgerFixture _ledger = new();
    private readonly Dictionary<string, SigningKey> _signers = new()
    {
        ["hospital-a"] = LedgerFixture.A, ["hospital-b"] = LedgerFixture.B, ["hospital-c"] = LedgerFixture.C, ["hospital-d"] = LedgerFixture.D,
    };
    private readonly Dictionary<string, CustodyKeyPair> _keys = Orgs.ToDictionary(o => o, _ => CustodyKeyPair.Create());
    private readonly List<string> _temp = [];
    private ulong _nonce = 1_000_000;

    public void Dispose()
    {
        foreach (var k in _keys.Values) k.Dispose();
        foreach (var d in _temp) Directory.Delete(d, recursive: true);
        _ledger.Dispose();
    }

    private CustodyQueries Queries => new(_ledger.Reader);

    private Custodian CustodianOf(string org) => new(LedgerFixture.ChainId, org, _keys[org]);

    private Chaincode.TxOutcome Submit(string org, CustodyCall call) =>
        _ledger.Run(call.ToTransaction(LedgerFixture.ChainId, ++_nonce, _signers[org]));

    private void Ok(string org, CustodyCall call)
    {
        var outcome = Submit(org, call);
        Assert.True(outcome.Success, $"{org} {call}: {outcome.Error}");
    }

    private async Task<CustodyRecord> RecordAsync() => (await Queries.GetRecordAsync(Id))!;

    private async Task<List<CustodianKey>> RegisterAllAsync()
    {
        foreach (var org in Orgs) Ok(org, CustodyCall.RegisterKey(_keys[org]));
        var keys = new List<CustodianKey>();
        foreach (var org in Orgs) keys.Add(new CustodianKey(org, (await Queries.GetCustodyKeyAsync(org))!));
        return keys;
    }

    /// <summary>Registers keys, deals <paramref name="secret"/> 3-of-4 from hospital-a, and every custodian checks and acknowledges.</summary>
    private async Task<Dictionary<string, Share>> DealAndAckAsync(byte[] secret)
    {
        var keys = await RegisterAllAsync();
        Ok("hospital-a", Dealer.PrepareDeal(LedgerFixture.ChainId, Id, secret, 3, keys));
        return await AckAllAsync();
    }

    private async Task<Dictionary<string, Share>> AckAllAsync()
    {
        var shares = new Dictionary<string, Share>();
        foreach (var org in Orgs)
        {
            var check = await CustodianOf(org).OpenCurrentAsync(_ledger.Reader, Id);
            Assert.True(check.Valid, $"{org}'s share does not verify");
            Assert.Equal("ack", check.Call.Function);
            Ok(org, check.Call);
            shares[org] = check.Share;
        }
        Assert.Equal("active", (await RecordAsync()).Status);
        return shares;
    }

    [Fact]
    public async Task Deal_ack_request_and_three_of_four_approvals_release_the_exact_secret()
    {
        var secret = Dealer.NewSecret();
        await DealAndAckAsync(secret);
        var record = await RecordAsync();
        Assert.Equal(3, record.Threshold);
        Assert.Equal(Orgs, record.Custodians);
        Assert.Equal(Orgs, record.Acks);

        using var requesterKey = CustodyKeyPair.Create();
        var requester = new Requester(LedgerFixture.ChainId, "hospital-b", requesterKey);
        Ok("hospital-b", CustodyCall.Request(Id, "r1", requesterKey.PublicKeyHex));
        Ok("hospital-c", await CustodianOf("hospital-c").ApproveAsync(_ledger.Reader, Id, "r1"));
        Ok("hospital-d", await CustodianOf("hospital-d").ApproveAsync(_ledger.Reader, Id, "r1"));

        var two = await RecordAsync();
        Assert.Equal("open", two.Releases["r1"].Status);
        var tooFew = Assert.Throws<CustodyException>(() => requester.Combine(two, "r1"));
        Assert.Contains("2 verified share(s), 3 are needed", tooFew.Message, StringComparison.Ordinal);

        Ok("hospital-a", await CustodianOf("hospital-a").ApproveAsync(_ledger.Reader, Id, "r1"));
        var released = await RecordAsync();
        Assert.Equal("released", released.Releases["r1"].Status);
        Assert.Equal(secret, requester.Combine(released, "r1"));

        // Another key (even a custodian's own) cannot combine the release.
        Assert.Throws<CustodyException>(() => new Requester(LedgerFixture.ChainId, "hospital-b", _keys["hospital-b"]).Combine(released, "r1"));
        // The request is no longer open: a fourth approval is refused by the client before the contract sees it.
        await Assert.ThrowsAsync<CustodyException>(() => CustodianOf("hospital-b").ApproveAsync(_ledger.Reader, Id, "r1"));
    }

    [Fact]
    public async Task A_tampered_approval_is_rejected_by_name_and_the_rest_still_combine()
    {
        var secret = Dealer.NewSecret();
        var shares = await DealAndAckAsync(secret);
        using var requesterKey = CustodyKeyPair.Create();
        Ok("hospital-b", CustodyCall.Request(Id, "r1", requesterKey.PublicKeyHex));
        var record = await RecordAsync();
        // hospital-d approves with a share that is not its own (sealed correctly, but off the polynomial).
        var wrong = new Share(shares["hospital-d"].Index, shares["hospital-d"].Value.Add(BigInteger.One).Mod(Feldman.Order));
        Ok("hospital-d", CustodianOf("hospital-d").Approve(record, wrong, "r1"));
        Ok("hospital-c", CustodianOf("hospital-c").Approve(record, shares["hospital-c"], "r1"));
        Ok("hospital-a", CustodianOf("hospital-a").Approve(record, shares["hospital-a"], "r1"));

        var requester = new Requester(LedgerFixture.ChainId, "hospital-b", requesterKey);
        var released = await RecordAsync();
        var e = Assert.Throws<CustodyException>(() => requester.Combine(released, "r1"));
        Assert.Contains("hospital-d", e.Message, StringComparison.Ordinal);
        Assert.Equal(["hospital-d"], requester.CheckApprovals(released, "r1").Rejected.Keys);

        Ok("hospital-b", CustodyCall.Request(Id, "r2", requesterKey.PublicKeyHex));
        foreach (var org in new[] { "hospital-a", "hospital-c", "hospital-d" })
            Ok(org, await CustodianOf(org).ApproveAsync(_ledger.Reader, Id, "r2"));
        Assert.Equal(secret, requester.Combine(await RecordAsync(), "r2"));
    }

    [Fact]
    public async Task A_custodian_given_a_wrong_share_complains_and_the_contract_marks_the_dealing_disputed()
    {
        var keys = await RegisterAllAsync();
        var deal = Dealer.PrepareDeal(LedgerFixture.ChainId, Id, Dealer.NewSecret(), 3, keys);
        var sealedShares = JsonSerializer.Deserialize<Dictionary<string, string>>(deal.Args[4])!;
        var bogus = SealedBox.Seal(Dealer.NewSecret(), keys[2].PublicKeyHex, new SealContext(LedgerFixture.ChainId, Id, 0, "hospital-c", "share"));
        sealedShares["hospital-c"] = Convert.ToBase64String(bogus);
        Ok("hospital-a", deal with { Args = [.. deal.Args.Take(4), JsonSerializer.Serialize(sealedShares)] });

        var check = await CustodianOf("hospital-c").OpenCurrentAsync(_ledger.Reader, Id);
        Assert.False(check.Valid);
        Assert.Equal("complain", check.Call.Function);
        Assert.Equal(64, check.Call.Args[1].Length);
        Assert.Equal(check.Call.Args[1], check.Call.Args[1].ToLowerInvariant());

        // An honest custodian's share verifies: the contract refuses it as a complaint (the hex encodings agree).
        var honest = await CustodianOf("hospital-b").OpenCurrentAsync(_ledger.Reader, Id);
        Assert.True(honest.Valid);
        Assert.False(Submit("hospital-b", CustodyCall.Complain(Id, Convert.ToHexStringLower(honest.Share.Value.ToByteArrayUnsigned()))).Success);

        Ok("hospital-c", check.Call);
        var record = await RecordAsync();
        Assert.Equal("disputed", record.Status);
        Assert.Equal(check.Call.Args[1], record.Complaints["hospital-c"]);
    }

    [Fact]
    public async Task Refreshes_keep_the_secret_change_every_share_and_old_shares_do_not_mix_with_new_ones()
    {
        var secret = Dealer.NewSecret();
        var epoch0 = await DealAndAckAsync(secret);
        var keys = new List<CustodianKey>();
        foreach (var org in Orgs) keys.Add(new CustodianKey(org, (await Queries.GetCustodyKeyAsync(org))!));

        Dictionary<string, Share> current = epoch0;
        foreach (var (refresher, epoch) in new[] { ("hospital-a", 1), ("hospital-c", 2) })
        {
            var before = await RecordAsync();
            Ok(refresher, Dealer.PrepareRefresh(LedgerFixture.ChainId, before, keys));
            var after = await RecordAsync();
            Assert.Equal(epoch, after.Epoch);
            Assert.Equal("dealt", after.Status);
            Assert.Equal(before.Commitments[0], after.Commitments[0]);
            var renewed = await AckAllAsync();
            foreach (var org in Orgs) Assert.NotEqual(current[org].Value, renewed[org].Value);
            current = renewed;
        }

        using var requesterKey = CustodyKeyPair.Create();
        Ok("hospital-b", CustodyCall.Request(Id, "after-refresh", requesterKey.PublicKeyHex));
        foreach (var org in new[] { "hospital-b", "hospital-c", "hospital-d" })
            Ok(org, await CustodianOf(org).ApproveAsync(_ledger.Reader, Id, "after-refresh"));
        Assert.Equal(secret, new Requester(LedgerFixture.ChainId, "hospital-b", requesterKey).Combine(await RecordAsync(), "after-refresh"));

        var expected = Scalar(secret);
        Assert.Equal(expected, Feldman.Reconstruct([current["hospital-a"], current["hospital-b"], current["hospital-c"]]));
        Assert.Equal(expected, Feldman.Reconstruct([epoch0["hospital-a"], epoch0["hospital-b"], epoch0["hospital-c"]]));
        Assert.NotEqual(expected, Feldman.Reconstruct([epoch0["hospital-a"], current["hospital-b"], current["hospital-c"]]));
        var commitments = (await RecordAsync()).Commitments.Select(c => Feldman.Decode(Convert.FromHexString(c))).ToList();
        Assert.False(Feldman.Verify(epoch0["hospital-a"], commitments));
        // The epoch-2 ciphertext alone is a delta: on its own it does not verify against the current commitments.
        var delta = (await Queries.GetShareCiphertextAsync(Id, 2, "hospital-a"))!;
        Assert.False(CustodianOf("hospital-a").OpenShare(await RecordAsync(), delta).Valid);
    }

    [Fact]
    public void PrepareDeal_refuses_secrets_that_are_not_scalars_below_the_group_order()
    {
        var keys = new[] { new CustodianKey("hospital-a", _keys["hospital-a"].PublicKeyHex) };
        foreach (var bad in new[] { new byte[32], Enumerable.Repeat((byte)0xff, 32).ToArray(), Feldman.Order.ToByteArrayUnsigned(), new byte[31] })
        {
            var e = Assert.Throws<CustodyException>(() => Dealer.PrepareDeal(LedgerFixture.ChainId, Id, bad, 1, keys));
            Assert.Contains("Dealer.NewSecret()", e.Message, StringComparison.Ordinal);
        }
        Assert.Throws<CustodyException>(() => Dealer.PrepareDeal(LedgerFixture.ChainId, Id, Dealer.NewSecret(), 2, keys));
        for (var i = 0; i < 100; i++)
        {
            var s = Scalar(Dealer.NewSecret());
            Assert.True(s.SignValue > 0 && s.CompareTo(Feldman.Order) < 0);
        }
    }

    [Fact]
    public async Task A_custodian_that_joined_by_replacement_is_told_the_client_does_not_support_it()
    {
        var keys = await RegisterAllAsync();
        Ok("hospital-a", Dealer.PrepareDeal(LedgerFixture.ChainId, Id, Dealer.NewSecret(), 2, keys[..3]));
        Ok("hospital-a", CustodyCall.Replace(Id, "hospital-c", "hospital-d"));
        Ok("hospital-a", Dealer.PrepareRefresh(LedgerFixture.ChainId, await RecordAsync(), keys));
        Assert.True((await CustodianOf("hospital-a").OpenCurrentAsync(_ledger.Reader, Id)).Valid);
        var e = await Assert.ThrowsAsync<CustodyException>(() => CustodianOf("hospital-d").OpenCurrentAsync(_ledger.Reader, Id));
        Assert.Contains("replacement", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<CustodyException>(() => CustodianOf("hospital-c").OpenCurrentAsync(_ledger.Reader, Id));
        Assert.Contains("not a custodian", e.Message, StringComparison.Ordinal);
    }

    private static BigInteger Scalar(byte[] bytes) => new(1, bytes);

    // ---- sealed boxes ----

    private static readonly SealContext Context = new("chain", "secret", 3, "hospital-a", "share");

    [Fact]
    public void SealedBox_round_trips_and_has_the_documented_layout()
    {
        using var key = CustodyKeyPair.Create();
        var plain = Dealer.NewSecret();
        var box = SealedBox.Seal(plain, key.PublicKeyHex, Context);
        Assert.Equal(1 + 32 + plain.Length + 16, box.Length);
        Assert.Equal(1, box[0]);
        Assert.Equal(plain, SealedBox.Open(box, key, Context));
        Assert.NotEqual(box, SealedBox.Seal(plain, key.PublicKeyHex, Context));
    }

    [Fact]
    public void SealedBox_refuses_the_wrong_key_a_tampered_byte_and_another_context()
    {
        using var key = CustodyKeyPair.Create();
        using var other = CustodyKeyPair.Create();
        var box = SealedBox.Seal(Dealer.NewSecret(), key.PublicKeyHex, Context);
        var e = Assert.Throws<ShareDecryptionException>(() => SealedBox.Open(box, other, Context));
        Assert.Contains("wrong key", e.Message, StringComparison.Ordinal);
        for (var i = 0; i < box.Length; i++)
        {
            var tampered = (byte[])box.Clone();
            tampered[i] ^= 0x01;
            Assert.ThrowsAny<CustodyException>(() => SealedBox.Open(tampered, key, Context));
        }
        Assert.Throws<ShareDecryptionException>(() => SealedBox.Open(box[..^1], key, Context));
        Assert.Throws<ShareDecryptionException>(() => SealedBox.Open(box[..20], key, Context));
        foreach (var c in new[]
        {
            Context with { ChainId = "other" }, Context with { SecretId = "other" }, Context with { Epoch = 4 },
            Context with { Recipient = "hospital-b" }, Context with { Purpose = "release:r1" },
        })
            Assert.Throws<ShareDecryptionException>(() => SealedBox.Open(box, key, c));
        Assert.Throws<CustodyException>(() => SealedBox.Seal([1], "not-hex", Context));
        Assert.Throws<CustodyException>(() => SealedBox.Seal([1], new string('0', 64), Context));
    }

    [Fact]
    public void SealContext_encoding_is_unambiguous()
    {
        var a = new SealContext("ab", "c", 0, "d", "e").Encode();
        var b = new SealContext("a", "bc", 0, "d", "e").Encode();
        Assert.NotEqual(a, b);
        // Lone surrogates would all encode as U+FFFD: refused rather than silently conflated.
        Assert.Throws<CustodyException>(() => new SealContext("a", "b", 0, "d", "\ud800").Encode());
    }

    [Property(MaxTest = 50)]
    public bool SealedBox_opens_what_it_sealed(byte[] plaintext, int epoch, string? purpose)
    {
        using var key = CustodyKeyPair.Create();
        var context = new SealContext("chain", "id", epoch, "org", IsValidUnicode(purpose) ? purpose! : "share");
        return SealedBox.Open(SealedBox.Seal(plaintext, key.PublicKeyHex, context), key, context).AsSpan().SequenceEqual(plaintext);
    }

    private static bool IsValidUnicode(string? s) => s is not null && Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)) == s;

    // ---- key files ----

    private string TempDir()
    {
        var dir = Directory.CreateTempSubdirectory("custody-keys-").FullName;
        _temp.Add(dir);
        return dir;
    }

    [Fact]
    public void Key_pairs_save_with_mode_0600_overwrite_atomically_and_load_back()
    {
        var path = Path.Combine(TempDir(), "custody.key");
        using var key = CustodyKeyPair.Create();
        Assert.Matches("^[0-9a-f]{64}$", key.PublicKeyHex);
        key.Save(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using var loaded = CustodyKeyPair.Load(path);
        Assert.Equal(key.PublicKeyHex, loaded.PublicKeyHex);
        var box = SealedBox.Seal([1, 2, 3], key.PublicKeyHex, Context);
        Assert.Equal([1, 2, 3], SealedBox.Open(box, loaded, Context));

        using var next = CustodyKeyPair.Create();
        next.Save(path);
        using var reloaded = CustodyKeyPair.Load(path);
        Assert.Equal(next.PublicKeyHex, reloaded.PublicKeyHex);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void Loading_garbage_a_missing_file_or_an_open_file_is_a_custody_exception()
    {
        var dir = TempDir();
        var garbage = Path.Combine(dir, "garbage.key");
        File.WriteAllText(garbage, "this is not a key");
        File.SetUnixFileMode(garbage, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Contains("not a custody key file", Assert.Throws<CustodyException>(() => CustodyKeyPair.Load(garbage)).Message, StringComparison.Ordinal);

        var wrongKind = Path.Combine(dir, "kind.key");
        File.WriteAllText(wrongKind, """{"kind":"chain-ed25519-key","publicKey":"00","privateKey":"00"}""");
        File.SetUnixFileMode(wrongKind, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Throws<CustodyException>(() => CustodyKeyPair.Load(wrongKind));

        Assert.Throws<CustodyException>(() => CustodyKeyPair.Load(Path.Combine(dir, "missing.key")));

        var open = Path.Combine(dir, "open.key");
        using var key = CustodyKeyPair.Create();
        key.Save(open);
        File.SetUnixFileMode(open, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        Assert.Contains("chmod 600", Assert.Throws<CustodyException>(() => CustodyKeyPair.Load(open)).Message, StringComparison.Ordinal);

        var mismatched = Path.Combine(dir, "mismatch.key");
        key.Save(mismatched);
        var text = File.ReadAllText(mismatched).Replace(key.PublicKeyHex, new string('1', 64), StringComparison.Ordinal);
        File.WriteAllText(mismatched, text);
        Assert.Contains("does not match", Assert.Throws<CustodyException>(() => CustodyKeyPair.Load(mismatched)).Message, StringComparison.Ordinal);
    }

    // ---- auditor views ----

    [Fact]
    public async Task Custody_views_show_the_record_and_releases_but_never_a_ciphertext()
    {
        await DealAndAckAsync(Dealer.NewSecret());
        using var requesterKey = CustodyKeyPair.Create();
        Ok("hospital-b", CustodyCall.Request(Id, "r1", requesterKey.PublicKeyHex));
        foreach (var org in new[] { "hospital-a", "hospital-b", "hospital-d" })
            Ok(org, await CustodianOf(org).ApproveAsync(_ledger.Reader, Id, "r1"));

        var view = (await Queries.ShowAsync(Id))!;
        Assert.Equal("hospital-a", view.Dealer);
        Assert.Equal(3, view.Threshold);
        Assert.Equal("active", view.Status);
        var release = Assert.Single(view.Releases);
        Assert.Equal(("r1", "hospital-b", "released"), (release.RequestId, release.Requester, release.Status));
        Assert.Equal(["hospital-a", "hospital-b", "hospital-d"], release.Approvers);
        Assert.Equal(view, Assert.Single(await Queries.ListAsync()), new ViewComparer());
        Assert.Null(await Queries.ShowAsync("nothing"));

        var json = JsonSerializer.Serialize(view, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var ciphertexts = new List<string>();
        foreach (var org in Orgs) ciphertexts.Add(Convert.ToBase64String((await Queries.GetShareCiphertextAsync(Id, 0, org))!));
        ciphertexts.AddRange((await RecordAsync()).Releases["r1"].Approvals.Values);
        Assert.Equal(7, ciphertexts.Count);
        foreach (var c in ciphertexts) Assert.DoesNotContain(c[..24], json, StringComparison.Ordinal);
        Assert.DoesNotContain("approvals", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_corrupt_record_is_reported_with_its_key()
    {
        var reader = new DictionaryReader(new()
        {
            ["custody/secret/broken"] = Encoding.UTF8.GetBytes("{\"id\":"),
            ["custody/secret/partial"] = Encoding.UTF8.GetBytes("{\"id\":\"partial\"}"),
        });
        var queries = new CustodyQueries(reader);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => queries.ShowAsync("broken"));
        Assert.Contains("custody/secret/broken", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<InvalidDataException>(() => queries.GetRecordAsync("partial"));
        Assert.Contains("custody/secret/partial", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidDataException>(() => queries.ListAsync());
    }

    private sealed class ViewComparer : IEqualityComparer<CustodyView>
    {
        public bool Equals(CustodyView? x, CustodyView? y) => JsonSerializer.Serialize(x) == JsonSerializer.Serialize(y);

        public int GetHashCode(CustodyView obj) => 0;
    }

    private sealed class DictionaryReader(Dictionary<string, byte[]> state) : IStateReader
    {
        public Task<byte[]?> GetAsync(byte[] key, CancellationToken cancellationToken = default) =>
            Task.FromResult(state.GetValueOrDefault(Encoding.UTF8.GetString(key)));

        public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(byte[] prefix,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            var p = Encoding.UTF8.GetString(prefix);
            foreach (var (k, v) in state.Where(e => e.Key.StartsWith(p, StringComparison.Ordinal)).OrderBy(e => e.Key, StringComparer.Ordinal))
                yield return KeyValuePair.Create(Encoding.UTF8.GetBytes(k), v);
            await Task.CompletedTask;
        }
    }

    [Theory]
    [InlineData("../keys/hospital-a")]
    [InlineData("k/0/hospital-a")]
    [InlineData("")]
    public async Task Hostile_ids_are_refused_before_any_key_is_read(string id)
    {
        var queries = new CustodyQueries(_ledger.Reader);
        await Assert.ThrowsAsync<ArgumentException>(() => queries.ShowAsync(id));
        await Assert.ThrowsAsync<ArgumentException>(() => queries.GetShareCiphertextAsync(id, 0, "hospital-a"));
        await Assert.ThrowsAsync<ArgumentException>(() => queries.GetCustodyKeyAsync(id));
    }
}

