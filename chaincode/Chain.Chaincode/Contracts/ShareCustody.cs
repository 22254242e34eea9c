using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chain.Chaincode.Custody;
using Chain.Ledger.Identity;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Math.EC;

namespace Chain.Chaincode.Contracts;

/// <summary>A release request: who asked, the X25519 key the shares go to, and the custodians' re-encrypted shares.</summary>
public sealed record ReleaseRequest(
    [property: JsonPropertyName("requester")] string Requester,
    [property: JsonPropertyName("requesterKey")] string RequesterKey,
    [property: JsonPropertyName("approvals")] Dictionary<string, string> Approvals,
    [property: JsonPropertyName("status")] string Status);

/// <summary>A protected secret as the ledger records it: public commitments and custodians, never the secret or a share.</summary>
public sealed record Custody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("dealer")] string Dealer,
    [property: JsonPropertyName("threshold")] int Threshold,
    [property: JsonPropertyName("custodians")] List<string> Custodians,
    [property: JsonPropertyName("commitments")] List<string> Commitments,
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("acks")] List<string> Acks,
    [property: JsonPropertyName("complaints")] Dictionary<string, string> Complaints,
    [property: JsonPropertyName("releases")] Dictionary<string, ReleaseRequest> Releases,
    [property: JsonPropertyName("status")] string Status);

/// <summary>
/// Share custody ("custody"): a hospital protects a secret (a model's encryption key) by splitting it t-of-n among
/// custodian hospitals with Feldman VSS (<see cref="Feldman"/>). Only commitments and ciphertexts are on chain: each
/// share is encrypted off chain to its custodian's registered X25519 key.
/// <list type="bullet">
/// <item><c>register-key(x25519Hex)</c>: a hospital records its custody key.</item>
/// <item><c>deal(id, t, custodiansCsv, commitmentsCsv, sharesJson)</c>: the dealer publishes the commitments (hex SEC1
/// points, t of them) and {custodian: base64 ciphertext}. Custodian i (1-based, in the listed order) holds f(i).</item>
/// <item><c>ack(id)</c>: a custodian confirms its share verifies against the commitments; t acknowledgements make the
/// custody active.</item>
/// <item><c>complain(id, shareHex)</c>: a custodian whose share does not verify reveals it; the contract checks it
/// against the commitments and, if it indeed fails, marks the dealing disputed (the dealer is exposed). A share that
/// verifies is refused as a complaint.</item>
/// <item><c>request(id, requestId, requesterX25519Hex)</c>, <c>approve(id, requestId, ciphertextB64)</c>: a release needs
/// t custodians to re-encrypt their shares to the requester.</item>
/// <item><c>refresh(id, deltaCommitmentsCsv, sharesJson)</c>: the dealer or a custodian publishes a zero-secret dealing
/// (its first commitment must be the identity); commitments become old + delta, the epoch advances, and custodians must
/// acknowledge again. Old shares no longer combine with new ones. Requests still open expire (their approvals were of
/// the old epoch); approvals need the custody active, so every approval of a released request is of one epoch.</item>
/// <item><c>replace(id, oldCustodian, newCustodian)</c>: the dealer swaps a custodian; it takes effect with the next
/// refresh, which must carry a share for the new custodian.</item>
/// </list>
/// </summary>
public sealed class ShareCustodyContract : IContract
{
    public const string ContractId = "custody";
    private const int MaxCiphertext = 1024;

    public string Id => ContractId;
    public int Version => 1;

    public void Invoke(ContractContext ctx, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
    {
        ctx.RequireWriter();
        var me = ctx.Caller.Organisation;
        switch (function)
        {
            case "register-key":
            {
                var a = ContractArgs.Strings(ctx, args, 1, "register-key(x25519Hex)");
                ctx.Require(ctx.Caller.Role == Role.Hospital, "only hospitals hold custody keys");
                Key32(ctx, a[0], "x25519Hex");
                ctx.Put($"keys/{me}", Encoding.UTF8.GetBytes(a[0]));
                break;
            }
            case "deal":
            {
                var a = ContractArgs.Strings(ctx, args, 5, "deal(id, t, custodiansCsv, commitmentsCsv, sharesJson)");
                ctx.Require(ctx.Caller.Role == Role.Hospital, "only hospitals protect secrets");
                ContractArgs.Name(ctx, a[0], "id");
                ctx.Require(ctx.Get($"secret/{a[0]}") is null, $"secret {a[0]} exists");
                var custodians = a[2].Split(',', StringSplitOptions.TrimEntries).ToList();
                ctx.Require(custodians.Count is >= 1 and <= 64 && custodians.Distinct().Count() == custodians.Count, "custodians must be 1-64 distinct organisations");
                foreach (var c in custodians) ctx.Require(ctx.Get($"keys/{c}") is not null, $"custodian {c} has no registered custody key");
                ctx.Require(int.TryParse(a[1], NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t >= 1 && t <= custodians.Count,
                    "t must be a whole number from 1 to the number of custodians");
                var commitments = Points(ctx, a[3], t);
                ctx.Require(!commitments[0].IsInfinity, "the first commitment (to the secret) must not be the identity");
                PutShares(ctx, a[0], 0, custodians, a[4]);
                Save(ctx, new Custody(a[0], me, t, custodians, [.. commitments.Select(c => Convert.ToHexStringLower(Feldman.Encode(c)))], 0, [], [], [], "dealt"));
                ctx.Emit("dealt", Encoding.UTF8.GetBytes(a[0]));
                break;
            }
            case "ack":
            {
                var custody = Load(ctx, ContractArgs.Strings(ctx, args, 1, "ack(id)")[0]);
                ctx.Require(custody.Custodians.Contains(me), $"{me} is not a custodian of {custody.Id}");
                ctx.Require(!custody.Acks.Contains(me), $"{me} already acknowledged epoch {custody.Epoch}");
                custody.Acks.Add(me);
                custody.Acks.Sort(StringComparer.Ordinal);
                var status = custody.Status == "disputed" ? "disputed" : custody.Acks.Count >= custody.Threshold ? "active" : custody.Status;
                Save(ctx, custody with { Status = status });
                break;
            }
            case "complain":
            {
                var a = ContractArgs.Strings(ctx, args, 2, "complain(id, shareHex)");
                var custody = Load(ctx, a[0]);
                var index = custody.Custodians.IndexOf(me) + 1;
                ctx.Require(index > 0, $"{me} is not a custodian of {custody.Id}");
                ctx.Require(a[1].Length is > 0 and <= 64 && a[1].All(char.IsAsciiHexDigit), "shareHex must be a hex scalar");
                var share = new Share(index, new BigInteger(a[1], 16));
                ctx.Step(200); // a multi-scalar check on the curve
                ctx.Require(!Feldman.Verify(share, [.. custody.Commitments.Select(c => Feldman.Decode(Convert.FromHexString(c)))]),
                    "the revealed share verifies against the commitments: the complaint is refused");
                custody.Complaints[me] = a[1];
                Save(ctx, custody with { Status = "disputed" });
                ctx.Emit("disputed", Encoding.UTF8.GetBytes($"{custody.Id}:{me}"));
                break;
            }
            case "request":
            {
                var a = ContractArgs.Strings(ctx, args, 3, "request(id, requestId, requesterX25519Hex)");
                var custody = Load(ctx, a[0]);
                ctx.Require(custody.Status == "active", $"secret {custody.Id} is {custody.Status}, not active");
                ContractArgs.Name(ctx, a[1], "requestId");
                ctx.Require(!custody.Releases.ContainsKey(a[1]), $"request {a[1]} exists");
                Key32(ctx, a[2], "requesterX25519Hex");
                custody.Releases[a[1]] = new ReleaseRequest(me, a[2], [], "open");
                Save(ctx, custody);
                ctx.Emit("release-requested", Encoding.UTF8.GetBytes($"{custody.Id}:{a[1]}"));
                break;
            }
            case "approve":
            {
                var a = ContractArgs.Strings(ctx, args, 3, "approve(id, requestId, ciphertextB64)");
                var custody = Load(ctx, a[0]);
                ctx.Require(custody.Custodians.Contains(me), $"{me} is not a custodian of {custody.Id}");
                ctx.Require(custody.Status == "active", $"secret {custody.Id} is {custody.Status}, not active: approvals wait for the custodians' acknowledgements");
                ctx.Require(custody.Releases.TryGetValue(a[1], out var request), $"no request {a[1]}");
                ctx.Require(request!.Status == "open", $"request {a[1]} is {request.Status}");
                ctx.Require(!request.Approvals.ContainsKey(me), $"{me} already approved request {a[1]}");
                Ciphertext(ctx, a[2]);
                request.Approvals[me] = a[2];
                var released = request.Approvals.Count >= custody.Threshold;
                custody.Releases[a[1]] = request with { Status = released ? "released" : "open" };
                Save(ctx, custody);
                if (released) ctx.Emit("released", Encoding.UTF8.GetBytes($"{custody.Id}:{a[1]}"));
                break;
            }
            case "refresh":
            {
                var a = ContractArgs.Strings(ctx, args, 3, "refresh(id, deltaCommitmentsCsv, sharesJson)");
                var custody = Load(ctx, a[0]);
                ctx.Require(custody.Dealer == me || custody.Custodians.Contains(me), "only the dealer or a custodian refreshes");
                var delta = Points(ctx, a[1], custody.Threshold);
                ctx.Require(delta[0].IsInfinity, "a refresh must not change the secret: its first commitment must be the identity");
                var old = custody.Commitments.Select(c => Feldman.Decode(Convert.FromHexString(c))).ToList();
                var renewed = old.Zip(delta, (x, y) => Convert.ToHexStringLower(Feldman.Encode(x.Add(y).Normalize()))).ToList();
                var epoch = custody.Epoch + 1;
                PutShares(ctx, custody.Id, epoch, custody.Custodians, a[2]);
                // Approvals re-encrypt shares of one epoch: a request still open across a refresh could mix epochs, so it expires.
                foreach (var (rid, r) in custody.Releases.Where(r => r.Value.Status == "open").ToList())
                    custody.Releases[rid] = r with { Status = "expired" };
                Save(ctx, custody with { Commitments = renewed, Epoch = epoch, Acks = [], Status = custody.Status == "disputed" ? "disputed" : "dealt" });
                ctx.Emit("refreshed", Encoding.UTF8.GetBytes($"{custody.Id}:{epoch}"));
                break;
            }
            case "replace":
            {
                var a = ContractArgs.Strings(ctx, args, 3, "replace(id, oldCustodian, newCustodian)");
                var custody = Load(ctx, a[0]);
                ctx.Require(custody.Dealer == me, "only the dealer replaces a custodian");
                var at = custody.Custodians.IndexOf(a[1]);
                ctx.Require(at >= 0, $"{a[1]} is not a custodian of {custody.Id}");
                ctx.Require(!custody.Custodians.Contains(a[2]), $"{a[2]} is already a custodian");
                ctx.Require(ctx.Get($"keys/{a[2]}") is not null, $"{a[2]} has no registered custody key");
                custody.Custodians[at] = a[2];
                custody.Acks.Remove(a[1]);
                Save(ctx, custody with { Status = custody.Status == "disputed" ? "disputed" : "dealt" });
                ctx.Emit("replaced", Encoding.UTF8.GetBytes($"{custody.Id}:{a[1]}>{a[2]}"));
                break;
            }
            default:
                throw new ContractException($"custody has no function '{function}' (register-key, deal, ack, complain, request, approve, refresh, replace)");
        }
    }

    private static List<ECPoint> Points(ContractContext ctx, string csv, int t)
    {
        var parts = csv.Split(',');
        ctx.Require(parts.Length == t, $"expected {t} commitments, got {parts.Length}");
        ctx.Step(50L * t);
        var points = new List<ECPoint>(t);
        foreach (var (hex, i) in parts.Select((h, i) => (h, i)))
        {
            try
            {
                points.Add(Feldman.Decode(Convert.FromHexString(hex)));
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                throw new ContractException($"commitment {i} is not a valid secp256k1 point");
            }
        }
        return points;
    }

    private static void PutShares(ContractContext ctx, string id, int epoch, List<string> custodians, string json)
    {
        Dictionary<string, string>? shares;
        try
        {
            shares = JsonSerializer.Deserialize<Dictionary<string, string>>(json, ContractArgs.Json);
        }
        catch (JsonException e)
        {
            throw new ContractException($"sharesJson is not a JSON object of base64 ciphertexts: {e.Message}");
        }
        ctx.Require(shares is not null && shares.Count == custodians.Count && custodians.All(shares.ContainsKey),
            "sharesJson must hold exactly one encrypted share per custodian");
        foreach (var c in custodians) ctx.Put($"share/{id}/{epoch}/{c}", Ciphertext(ctx, shares![c]));
    }

    private static byte[] Ciphertext(ContractContext ctx, string base64)
    {
        try
        {
            var bytes = Convert.FromBase64String(base64);
            ctx.Require(bytes.Length is > 0 and <= MaxCiphertext, $"a ciphertext is 1-{MaxCiphertext} bytes");
            return bytes;
        }
        catch (FormatException)
        {
            throw new ContractException("a ciphertext must be base64");
        }
    }

    private static void Key32(ContractContext ctx, string hex, string what) =>
        ctx.Require(hex.Length == 64 && hex.All(char.IsAsciiHexDigitLower), $"{what} must be 64 lowercase hex characters (an X25519 public key)");

    private static Custody Load(ContractContext ctx, string id)
    {
        var bytes = ctx.Get($"secret/{id}");
        ctx.Require(bytes is not null, $"secret {id} does not exist");
        var custody = JsonSerializer.Deserialize<Custody>(bytes!, ContractArgs.Json);
        ctx.Require(custody is not null, $"secret {id} has an empty record");
        return custody!;
    }

    private static void Save(ContractContext ctx, Custody custody) =>
        ctx.Put($"secret/{custody.Id}", JsonSerializer.SerializeToUtf8Bytes(custody, ContractArgs.Json));
}
