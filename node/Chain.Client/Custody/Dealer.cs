using System.Globalization;
using System.Text.Json;
using Chain.Chaincode.Custody;
using CustodyRecord = Chain.Chaincode.Contracts.Custody;

namespace Chain.Client.Custody;

/// <summary>
/// The dealer's side of share custody: splits a secret t-of-n with Feldman VSS (<see cref="Feldman"/>), seals each share
/// to its custodian's registered key and prepares the <c>deal</c> call; prepares zero-secret <c>refresh</c> dealings.
/// Randomness comes from the operating system's CSPRNG; nothing here touches the network.
/// </summary>
public static class Dealer
{
    /// <summary>32 random bytes that are a valid secret (a scalar in [1, q), big-endian).</summary>
    public static byte[] NewSecret() => Scalars.ToBytes(Scalars.Random());

    /// <summary>
    /// Splits <paramref name="secret32"/> (a big-endian scalar in [1, q)) among <paramref name="custodians"/>; custodian i
    /// (1-based, in the listed order) gets f(i), sealed to its key for <c>SealContext(chainId, secretId, 0, org, "share")</c>.
    /// Returns <c>deal(id, t, custodiansCsv, commitmentsCsv, sharesJson)</c>.
    /// </summary>
    public static CustodyCall PrepareDeal(string chainId, string secretId, ReadOnlySpan<byte> secret32, int threshold,
        IReadOnlyList<CustodianKey> custodians)
    {
        if (secret32.Length != Scalars.Size) throw new CustodyException($"the secret must be 32 bytes (got {secret32.Length}): use Dealer.NewSecret()");
        var secret = Scalars.FromBytes(secret32);
        if (!Scalars.IsValid(secret))
            throw new CustodyException("the secret must be a big-endian scalar in [1, q) of secp256k1 (not zero, below the group order): use Dealer.NewSecret()");
        CheckCustodians(custodians.Select(c => c.Organisation).ToList());
        if (threshold < 1 || threshold > custodians.Count)
            throw new CustodyException($"the threshold must be from 1 to the number of custodians ({custodians.Count}), not {threshold}");
        var dealing = Feldman.Deal(secret, threshold, custodians.Count, Scalars.Random);
        var shares = Seal(chainId, secretId, 0, custodians, dealing.Shares);
        return new CustodyCall("deal", [secretId, threshold.ToString(CultureInfo.InvariantCulture),
            string.Join(',', custodians.Select(c => c.Organisation)), Commitments(dealing), shares]);
    }

    /// <summary>
    /// A refresh of <paramref name="custody"/> to epoch <c>custody.Epoch + 1</c>: a random polynomial with zero constant
    /// term, its delta share for each current custodian sealed for <c>SealContext(chainId, id, epoch + 1, org, "share")</c>.
    /// <paramref name="custodians"/> must hold a key for every current custodian (order does not matter: indices follow
    /// <c>custody.Custodians</c>). Returns <c>refresh(id, deltaCommitmentsCsv, sharesJson)</c>.
    /// </summary>
    public static CustodyCall PrepareRefresh(string chainId, CustodyRecord custody, IReadOnlyList<CustodianKey> custodians)
    {
        var byOrg = custodians.GroupBy(c => c.Organisation).ToDictionary(g => g.Key, g => g.First());
        var missing = custody.Custodians.Where(c => !byOrg.ContainsKey(c)).ToList();
        if (missing.Count > 0) throw new CustodyException($"no custody key for custodian(s) {string.Join(", ", missing)} of {custody.Id}");
        var ordered = custody.Custodians.Select(c => byOrg[c]).ToList();
        var epoch = checked(custody.Epoch + 1);
        var dealing = Feldman.DealRefresh(custody.Threshold, ordered.Count, Scalars.Random);
        return new CustodyCall("refresh", [custody.Id, Commitments(dealing), Seal(chainId, custody.Id, epoch, ordered, dealing.Shares)]);
    }

    private static string Commitments(Dealing dealing) =>
        string.Join(',', dealing.Commitments.Select(c => Convert.ToHexStringLower(Feldman.Encode(c))));

    private static string Seal(string chainId, string id, int epoch, IReadOnlyList<CustodianKey> custodians, IReadOnlyList<Share> shares)
    {
        var sealedShares = new Dictionary<string, string>(custodians.Count);
        for (var i = 0; i < custodians.Count; i++)
        {
            var c = custodians[i];
            var context = new SealContext(chainId, id, epoch, c.Organisation, "share");
            sealedShares[c.Organisation] = Convert.ToBase64String(SealedBox.Seal(Scalars.ToBytes(shares[i].Value), c.PublicKeyHex, context));
        }
        return JsonSerializer.Serialize(sealedShares);
    }

    private static void CheckCustodians(List<string> organisations)
    {
        if (organisations.Count is < 1 or > 64) throw new CustodyException("custody needs 1 to 64 custodians");
        if (organisations.Distinct(StringComparer.Ordinal).Count() != organisations.Count) throw new CustodyException("custodians must be distinct");
        if (organisations.Any(o => string.IsNullOrEmpty(o) || o.Contains(','))) throw new CustodyException("a custodian's name is empty or holds a comma");
    }
}
