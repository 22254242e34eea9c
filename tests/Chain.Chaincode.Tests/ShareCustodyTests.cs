using System.Text.Json;
using Chain.Chaincode.Contracts;
using Chain.Chaincode.Custody;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Chain.Chaincode.Tests;

public sealed class ShareCustodyTests : ContractHarness
{
    protected override string Contract => "custody";

    private static readonly string X25519 = new('c', 64);
    private const string Custodians = "hospital-a,hospital-b,hospital-c";

    private static Func<BigInteger> Source(int seed)
    {
        var rng = new Random(seed);
        return () =>
        {
            var bytes = new byte[31];
            rng.NextBytes(bytes);
            return new BigInteger(1, bytes).Add(BigInteger.One);
        };
    }

    private static string Csv(Dealing d) => string.Join(",", d.Commitments.Select(c => Convert.ToHexStringLower(Feldman.Encode(c))));

    private static string Ciphertexts(string tag) => JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["hospital-a"] = Convert.ToBase64String("ct-a-"u8.ToArray().Concat(System.Text.Encoding.UTF8.GetBytes(tag)).ToArray()),
        ["hospital-b"] = Convert.ToBase64String("ct-b"u8.ToArray()),
        ["hospital-c"] = Convert.ToBase64String("ct-c"u8.ToArray()),
    });

    private Contracts.Custody Read(string id) => JsonSerializer.Deserialize<Contracts.Custody>(State($"secret/{id}")!, ContractArgs.Json)!;

    private Dealing Setup(string id = "model-key")
    {
        foreach (var k in new[] { A, B, C }) Ok(Tx(k, "register-key", X25519));
        var dealing = Feldman.Deal(new BigInteger("123456789abcdef", 16), 2, 3, Source(1));
        Ok(Tx(A, "deal", id, "2", Custodians, Csv(dealing), Ciphertexts("0")));
        return dealing;
    }

    [Fact]
    public void Deal_acknowledge_request_and_release_after_t_approvals()
    {
        Setup();
        Assert.Equal("dealt", Read("model-key").Status);
        Assert.NotNull(State("share/model-key/0/hospital-b"));
        Refused(Tx(B, "request", "model-key", "r1", X25519), "not active");
        Ok(Tx(B, "ack", "model-key"));
        Refused(Tx(B, "ack", "model-key"), "already acknowledged");
        Ok(Tx(C, "ack", "model-key"));
        Assert.Equal("active", Read("model-key").Status);
        Ok(Tx(Regulator, "request", "model-key", "r1", X25519));
        Refused(Tx(Regulator, "approve", "model-key", "r1", "AA=="), "not a custodian");
        Ok(Tx(B, "approve", "model-key", "r1", "AAEC"));
        Assert.Equal("open", Read("model-key").Releases["r1"].Status);
        Ok(Tx(C, "approve", "model-key", "r1", "AwQF"));
        Assert.Equal("released", Read("model-key").Releases["r1"].Status);
        Refused(Tx(A, "approve", "model-key", "r1", "AwQF"), "is released");
    }

    [Fact]
    public void A_bad_share_is_exposed_and_a_good_one_cannot_be_complained_about()
    {
        var dealing = Setup();
        var good = dealing.Shares[1].Value.ToString(16);
        Refused(Tx(B, "complain", "model-key", good), "complaint is refused");
        var bad = dealing.Shares[1].Value.Add(BigInteger.One).ToString(16);
        Ok(Tx(B, "complain", "model-key", bad));
        var custody = Read("model-key");
        Assert.Equal("disputed", custody.Status);
        Assert.Equal(bad, custody.Complaints["hospital-b"]);
    }

    [Fact]
    public void A_refresh_keeps_the_secret_commitment_and_a_secret_changing_refresh_is_refused()
    {
        var dealing = Setup();
        var before = Read("model-key").Commitments[0];
        var changing = Feldman.Deal(BigInteger.Two, 2, 3, Source(2));
        Refused(Tx(A, "refresh", "model-key", Csv(changing), Ciphertexts("1")), "must not change the secret");
        var refresh = Feldman.DealRefresh(2, 3, Source(3));
        Refused(Tx(Regulator, "refresh", "model-key", Csv(refresh), Ciphertexts("1")), "dealer or a custodian");
        Ok(Tx(B, "refresh", "model-key", Csv(refresh), Ciphertexts("1")));
        var after = Read("model-key");
        Assert.Equal(1, after.Epoch);
        Assert.Equal(before, after.Commitments[0]);
        Assert.Empty(after.Acks);
        // The refreshed commitments verify the refreshed shares, and not the old ones.
        var commitments = after.Commitments.Select(c => Feldman.Decode(Convert.FromHexString(c))).ToList();
        var renewed = Feldman.Refresh(dealing.Shares[0], dealing.Commitments, refresh.Shares[0], refresh.Commitments).Share;
        Assert.True(Feldman.Verify(renewed, commitments));
        Assert.False(Feldman.Verify(dealing.Shares[0], commitments));
    }

    [Theory]
    [InlineData("deal", new[] { "k", "2", "hospital-a,hospital-b" }, "usage: deal")]
    [InlineData("deal", new[] { "k", "2", "hospital-a", "00", "{}" }, "t must be")]
    [InlineData("deal", new[] { "k", "1", "hospital-a,hospital-a", "00", "{}" }, "distinct")]
    [InlineData("deal", new[] { "k", "1", "hospital-a", "zz", "{}" }, "not a valid secp256k1 point")]
    [InlineData("deal", new[] { "k", "1", "hospital-a", "00", "{}" }, "must not be the identity")]
    [InlineData("deal", new[] { "k", "1", "auditor", "00", "{}" }, "no registered custody key")]
    [InlineData("register-key", new[] { "abc" }, "64 lowercase hex")]
    [InlineData("ack", new[] { "missing" }, "does not exist")]
    [InlineData("open-sesame", new string[0], "no function")]
    public void Malformed_calls_are_refused(string function, string[] args, string message)
    {
        Ok(Tx(A, "register-key", X25519));
        Refused(Tx(A, function, args), message);
    }

    [Fact]
    public void Shares_must_match_the_custodians_and_roles_are_enforced()
    {
        foreach (var k in new[] { A, B, C }) Ok(Tx(k, "register-key", X25519));
        var dealing = Feldman.Deal(BigInteger.Ten, 2, 3, Source(4));
        Refused(Tx(A, "deal", "k", "2", Custodians, Csv(dealing), "{\"hospital-a\":\"AA==\"}"), "exactly one encrypted share per custodian");
        Refused(Tx(A, "deal", "k", "2", Custodians, Csv(dealing), Ciphertexts("x").Replace("Y3Q", "!!!", StringComparison.Ordinal)), "base64");
        Refused(Tx(Auditor, "deal", "k", "2", Custodians, Csv(dealing), Ciphertexts("x")), "read-only");
        Refused(Tx(Regulator, "register-key", X25519), "only hospitals");
        Ok(Tx(A, "deal", "k", "2", Custodians, Csv(dealing), Ciphertexts("x")));
        Refused(Tx(B, "replace", "k", "hospital-c", "hospital-a"), "only the dealer");
        Refused(Tx(A, "replace", "k", "hospital-c", "hospital-a"), "already a custodian");
    }

    [Fact]
    public void The_dealer_replaces_a_custodian_and_the_next_refresh_must_carry_its_share()
    {
        foreach (var k in new[] { A, B, C }) Ok(Tx(k, "register-key", X25519));
        var dealing = Feldman.Deal(BigInteger.Ten, 2, 2, Source(5));
        var two = JsonSerializer.Serialize(new Dictionary<string, string> { ["hospital-b"] = "AQ==", ["hospital-c"] = "Ag==" });
        Ok(Tx(A, "deal", "k", "2", "hospital-b,hospital-c", Csv(dealing), two));
        Ok(Tx(B, "ack", "k"));
        Ok(Tx(A, "replace", "k", "hospital-c", "hospital-a"));
        var custody = Read("k");
        Assert.Equal(["hospital-b", "hospital-a"], custody.Custodians);
        Assert.Equal("dealt", custody.Status);
        Refused(Tx(C, "ack", "k"), "not a custodian");
        var delta = Feldman.DealRefresh(2, 2, Source(6));
        Refused(Tx(A, "refresh", "k", Csv(delta), two), "exactly one encrypted share per custodian");
        Ok(Tx(A, "refresh", "k", Csv(delta), JsonSerializer.Serialize(new Dictionary<string, string> { ["hospital-b"] = "Aw==", ["hospital-a"] = "BA==" })));
        Assert.NotNull(State("share/k/1/hospital-a"));
    }

    [Fact]
    public void A_refresh_expires_open_requests_and_approvals_wait_for_an_active_custody()
    {
        Setup();
        Ok(Tx(B, "ack", "model-key"));
        Ok(Tx(C, "ack", "model-key"));
        Ok(Tx(Regulator, "request", "model-key", "r1", X25519));
        Ok(Tx(B, "approve", "model-key", "r1", "AAEC"));
        Ok(Tx(A, "refresh", "model-key", Csv(Feldman.DealRefresh(2, 3, Source(7))), Ciphertexts("1")));
        var custody = Read("model-key");
        Assert.Equal("expired", custody.Releases["r1"].Status);
        Assert.Equal("dealt", custody.Status);
        Refused(Tx(C, "approve", "model-key", "r1", "AwQF"), "not active");
        Ok(Tx(B, "ack", "model-key"));
        Ok(Tx(C, "ack", "model-key"));
        Refused(Tx(C, "approve", "model-key", "r1", "AwQF"), "is expired");
    }

    [Fact]
    public void Commitments_are_stored_canonically_and_a_replacement_does_not_clear_a_dispute()
    {
        foreach (var k in new[] { A, B, C }) Ok(Tx(k, "register-key", X25519));
        var dealing = Feldman.Deal(BigInteger.Ten, 2, 2, Source(8));
        var two = JsonSerializer.Serialize(new Dictionary<string, string> { ["hospital-b"] = "AQ==", ["hospital-c"] = "Ag==" });
        Ok(Tx(A, "deal", "k", "2", "hospital-b,hospital-c", Csv(dealing).ToUpperInvariant(), two));
        Assert.Equal(Csv(dealing), string.Join(",", Read("k").Commitments));
        Ok(Tx(B, "complain", "k", dealing.Shares[0].Value.Add(BigInteger.One).ToString(16)));
        Ok(Tx(A, "replace", "k", "hospital-c", "hospital-a"));
        Assert.Equal("disputed", Read("k").Status);
    }
}
