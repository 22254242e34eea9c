using Chain.Chaincode.Custody;
using CustodyRecord = Chain.Chaincode.Contracts.Custody;

namespace Chain.Client.Custody;

/// <summary>The approvals of a release, opened and checked: the shares that verify, and why each other one was rejected.</summary>
public sealed record ReleaseCheck(IReadOnlyList<Share> Valid, IReadOnlyDictionary<string, string> Rejected);

/// <summary>
/// The requester's side of a release: after <c>request(id, requestId, key)</c> and t approvals, opens the custodians'
/// re-encrypted shares with <paramref name="key"/>, checks each against the current commitments and reconstructs the
/// secret.
/// </summary>
public sealed class Requester(string chainId, string organisation, CustodyKeyPair key)
{
    public string Organisation => organisation;

    /// <summary>
    /// Opens every approval of <paramref name="requestId"/>; the approver's index is its 1-based position in
    /// <c>custody.Custodians</c>. An approval that does not decrypt (sealed for another epoch, key or context, or
    /// tampered) or whose share does not verify against <c>custody.Commitments</c> is rejected, with the reason.
    /// </summary>
    public ReleaseCheck CheckApprovals(CustodyRecord custody, string requestId)
    {
        if (!custody.Releases.TryGetValue(requestId, out var request)) throw new CustodyException($"{custody.Id} has no release request {requestId}");
        if (request.Requester != organisation)
            throw new CustodyException($"release request {requestId} of {custody.Id} was made by {request.Requester}, not {organisation}");
        if (request.RequesterKey != key.PublicKeyHex)
            throw new CustodyException(
                $"release request {requestId} of {custody.Id} is sealed to key {request.RequesterKey}, not to this key ({key.PublicKeyHex})");
        var commitments = Commitments.Decode(custody);
        var context = new SealContext(chainId, custody.Id, custody.Epoch, organisation, "release:" + requestId);
        var valid = new List<Share>();
        var rejected = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (approver, base64) in request.Approvals.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            var index = custody.Custodians.IndexOf(approver) + 1;
            if (index == 0)
            {
                rejected[approver] = "is no longer a custodian";
                continue;
            }
            try
            {
                var plain = SealedBox.Open(Convert.FromBase64String(base64), key, context);
                var share = new Share(index, Scalars.Parse(plain, $"the share approved by {approver}"));
                if (Feldman.Verify(share, commitments)) valid.Add(share);
                else rejected[approver] = $"its share does not verify against the commitments of epoch {custody.Epoch}";
            }
            catch (Exception e) when (e is CustodyException or FormatException)
            {
                rejected[approver] = e.Message;
            }
        }
        return new ReleaseCheck(valid, rejected);
    }

    /// <summary>
    /// The released secret (32 bytes, big-endian) from at least t verified approvals; checks secret·G against the first
    /// commitment. Throws <see cref="CustodyException"/> naming the custodians whose approvals were rejected if fewer than
    /// t verify.
    /// </summary>
    public byte[] Combine(CustodyRecord custody, string requestId)
    {
        var check = CheckApprovals(custody, requestId);
        if (check.Valid.Count < custody.Threshold)
        {
            var why = check.Rejected.Count == 0 ? "" : "; rejected: " + string.Join("; ", check.Rejected.Select(r => $"{r.Key}: {r.Value}"));
            throw new CustodyException(
                $"release {requestId} of {custody.Id} has {check.Valid.Count} verified share(s), {custody.Threshold} are needed{why}");
        }
        var secret = Feldman.Reconstruct([.. check.Valid.Take(custody.Threshold)]);
        if (!Feldman.Generator.Multiply(secret).Normalize().Equals(Commitments.Decode(custody)[0]))
            throw new CustodyException($"the shares of release {requestId} do not reconstruct the secret committed for {custody.Id}");
        return Scalars.ToBytes(secret);
    }
}
