using System.Text;
using System.Text.Json;
using Chain.Chaincode;
using CustodyRecord = Chain.Chaincode.Contracts.Custody;

namespace Chain.Client.Queries;

/// <summary>A release request as an auditor sees it: who asked, its status and who approved; never the re-encrypted shares.</summary>
public sealed record ReleaseView(string RequestId, string Requester, string Status, IReadOnlyList<string> Approvers);

/// <summary>
/// A protected secret as an auditor sees it: dealer, threshold, custodians, public commitments, epoch, acknowledgements,
/// complaints (the revealed shares are already public in the complaint transactions) and releases. It never holds a
/// ciphertext, sealed share or approval.
/// </summary>
public sealed record CustodyView(
    string Id,
    string Dealer,
    int Threshold,
    IReadOnlyList<string> Custodians,
    IReadOnlyList<string> Commitments,
    int Epoch,
    IReadOnlyList<string> Acks,
    IReadOnlyDictionary<string, string> Complaints,
    string Status,
    IReadOnlyList<ReleaseView> Releases)
{
    public static CustodyView From(CustodyRecord c) => new(c.Id, c.Dealer, c.Threshold, [.. c.Custodians], [.. c.Commitments], c.Epoch,
        [.. c.Acks], new SortedDictionary<string, string>(c.Complaints, StringComparer.Ordinal), c.Status,
        [.. c.Releases.OrderBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => new ReleaseView(r.Key, r.Value.Requester, r.Value.Status, [.. r.Value.Approvals.Keys.Order(StringComparer.Ordinal)]))]);
}

/// <summary>
/// Reads the custody contract's state (<c>custody/keys/&lt;org&gt;</c>, <c>custody/secret/&lt;id&gt;</c>,
/// <c>custody/share/&lt;id&gt;/&lt;epoch&gt;/&lt;org&gt;</c>) through a node or from a copied data directory.
/// A record that does not parse throws <see cref="InvalidDataException"/> naming its key.
/// </summary>
public sealed class CustodyQueries(IStateReader reader)
{
    private const string Prefix = "custody/";
    private const string SecretPrefix = Prefix + "secret/";

    public async Task<CustodyRecord?> GetRecordAsync(string id, CancellationToken cancellationToken = default)
    {
        ContractStateAccess.RequireName(id, nameof(id), "secret id");
        var key = SecretPrefix + id;
        var bytes = await reader.GetAsync(Encoding.UTF8.GetBytes(key), cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : Parse(key, bytes);
    }

    /// <summary>The sealed share the dealing (epoch 0) or the refresh to <paramref name="epoch"/> gave <paramref name="org"/>.</summary>
    public Task<byte[]?> GetShareCiphertextAsync(string id, int epoch, string org, CancellationToken cancellationToken = default)
    {
        ContractStateAccess.RequireName(id, nameof(id), "secret id");
        ContractStateAccess.RequireName(org, nameof(org), "organisation");
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return reader.GetAsync(Encoding.UTF8.GetBytes($"{Prefix}share/{id}/{epoch}/{org}"), cancellationToken);
    }

    /// <summary>The X25519 public key (hex) <paramref name="org"/> registered for custody, or null.</summary>
    public async Task<string?> GetCustodyKeyAsync(string org, CancellationToken cancellationToken = default)
    {
        ContractStateAccess.RequireName(org, nameof(org), "organisation");
        var bytes = await reader.GetAsync(Encoding.UTF8.GetBytes($"{Prefix}keys/{org}"), cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : Encoding.UTF8.GetString(bytes);
    }

    public async Task<CustodyView?> ShowAsync(string id, CancellationToken cancellationToken = default)
    {
        var record = await GetRecordAsync(id, cancellationToken).ConfigureAwait(false);
        return record is null ? null : CustodyView.From(record);
    }

    /// <summary>Every protected secret, by id.</summary>
    public async Task<IReadOnlyList<CustodyView>> ListAsync(CancellationToken cancellationToken = default)
    {
        var views = new List<CustodyView>();
        await foreach (var (key, value) in reader.ScanAsync(Encoding.UTF8.GetBytes(SecretPrefix), cancellationToken).ConfigureAwait(false))
            views.Add(CustodyView.From(Parse(Encoding.UTF8.GetString(key), value)));
        return views;
    }

    private static CustodyRecord Parse(string key, byte[] bytes)
    {
        try
        {
            var c = JsonSerializer.Deserialize<CustodyRecord>(bytes, ContractJson.Options)
                ?? throw new InvalidDataException($"state key {key} holds null, not a custody record");
            if (c.Id is null || c.Dealer is null || c.Status is null || c.Custodians is null || c.Commitments is null || c.Acks is null
                || c.Complaints is null || c.Releases is null || c.Releases.Values.Any(r => r?.Approvals is null || r.Requester is null))
                throw new InvalidDataException($"state key {key} holds a custody record with missing fields");
            return c;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"state key {key} does not hold a valid custody record: {e.Message}", e);
        }
    }
}
