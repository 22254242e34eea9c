using Chain.Chaincode.Custody;
using Chain.Client.Queries;
using Org.BouncyCastle.Math;
using CustodyRecord = Chain.Chaincode.Contracts.Custody;

namespace Chain.Client.Custody;

/// <summary>
/// A custodian's verdict on its current share: <see cref="Valid"/> when it lies on the committed polynomial.
/// <see cref="Call"/> is what to submit: <c>ack(id)</c> if valid, <c>complain(id, shareHex)</c> (revealing the bad
/// share, so the contract can check it and expose the dealer) if not.
/// </summary>
public sealed record ShareCheck(bool Valid, Share Share, CustodyCall Call);

/// <summary>
/// A custodian hospital's side of share custody: opens and checks its share, acknowledges or complains, and re-encrypts
/// its share to a requester to approve a release. Pure over records and ciphertexts (<see cref="OpenShare(CustodyRecord, byte[])"/>,
/// <see cref="Approve"/>), or reading them through an <see cref="IStateReader"/> (the <c>Async</c> methods).
/// <para>
/// Epochs: the dealing (epoch 0) gives custodian i the share f(i) in <c>share/&lt;id&gt;/0/&lt;org&gt;</c>; each refresh to
/// epoch e gives a delta share in <c>share/&lt;id&gt;/e/&lt;org&gt;</c>. The current share is the sum, mod q, of the epoch-0
/// share and every delta 1..e, checked against the current (summed) commitments.
/// </para>
/// <para>
/// Not supported yet: a custodian that joined by <c>replace</c>. It has no epoch-0 share (the contract gives it only the
/// next refresh's delta, which alone is not a point of the current polynomial, and nobody on chain can hand it f(i)
/// soundly), so <see cref="OpenCurrentAsync"/> throws <see cref="CustodyException"/> for it.
/// </para>
/// </summary>
public sealed class Custodian(string chainId, string organisation, CustodyKeyPair key)
{
    public string ChainId => chainId;
    public string Organisation => organisation;

    /// <summary>
    /// Opens this custodian's sealed share for <c>custody.Epoch</c> and checks it against <c>custody.Commitments</c>. This is the
    /// check of a dealing (epoch 0); after a refresh the ciphertext of epoch e is only a delta: use
    /// <see cref="OpenShare(CustodyRecord, IReadOnlyList{byte[]})"/> or <see cref="OpenCurrentAsync"/>.
    /// Throws <see cref="CustodyException"/> if it cannot decrypt.
    /// </summary>
    public ShareCheck OpenShare(CustodyRecord custody, byte[] ciphertext) =>
        Check(custody, Open(custody.Id, custody.Epoch, ciphertext));

    /// <summary>
    /// Opens the epoch-0 share and the deltas of epochs 1..<c>custody.Epoch</c> (<paramref name="ciphertexts"/>[e] is epoch e's),
    /// sums them and checks the current share against <c>custody.Commitments</c>.
    /// </summary>
    public ShareCheck OpenShare(CustodyRecord custody, IReadOnlyList<byte[]> ciphertexts)
    {
        if (ciphertexts.Count != custody.Epoch + 1)
            throw new CustodyException($"{custody.Id} is at epoch {custody.Epoch}: expected {custody.Epoch + 1} sealed shares "
                + $"(epoch 0 and every refresh), got {ciphertexts.Count}");
        return Check(custody, Scalars.Sum(ciphertexts.Select((c, epoch) => Open(custody.Id, epoch, c))));
    }

    /// <summary>Reads the record and every sealed share this custodian needs, and checks its current share.</summary>
    public async Task<ShareCheck> OpenCurrentAsync(IStateReader reader, string id, CancellationToken cancellationToken = default) =>
        (await OpenCurrentWithRecordAsync(reader, id, cancellationToken).ConfigureAwait(false)).Check;

    /// <summary>
    /// Approves release <paramref name="requestId"/>: seals this custodian's (verified) current share to the requester's key
    /// for <c>SealContext(chainId, id, custody.Epoch, requester, "release:" + requestId)</c>. Returns <c>approve(id, requestId, base64)</c>.
    /// </summary>
    public CustodyCall Approve(CustodyRecord custody, Share share, string requestId)
    {
        var index = IndexIn(custody);
        if (share.Index != index) throw new CustodyException($"the share has index {share.Index}, but {organisation} is custodian {index} of {custody.Id}");
        if (!custody.Releases.TryGetValue(requestId, out var request)) throw new CustodyException($"{custody.Id} has no release request {requestId}");
        if (request.Status != "open") throw new CustodyException($"release request {requestId} of {custody.Id} is {request.Status}, not open");
        if (request.Approvals.ContainsKey(organisation)) throw new CustodyException($"{organisation} already approved release request {requestId}");
        var context = new SealContext(chainId, custody.Id, custody.Epoch, request.Requester, "release:" + requestId);
        var box = SealedBox.Seal(Scalars.ToBytes(share.Value), request.RequesterKey, context);
        return new CustodyCall("approve", [custody.Id, requestId, Convert.ToBase64String(box)]);
    }

    /// <summary>Opens and checks the current share (it must verify) and approves release <paramref name="requestId"/> with it.</summary>
    public async Task<CustodyCall> ApproveAsync(IStateReader reader, string id, string requestId, CancellationToken cancellationToken = default)
    {
        var (custody, check) = await OpenCurrentWithRecordAsync(reader, id, cancellationToken).ConfigureAwait(false);
        if (!check.Valid)
            throw new CustodyException($"{organisation}'s share of {id} at epoch {custody.Epoch} does not verify against the commitments: "
                + "complain, do not approve");
        return Approve(custody, check.Share, requestId);
    }

    private async Task<(CustodyRecord Custody, ShareCheck Check)> OpenCurrentWithRecordAsync(IStateReader reader, string id, CancellationToken ct)
    {
        var queries = new CustodyQueries(reader);
        var custody = await queries.GetRecordAsync(id, ct).ConfigureAwait(false) ?? throw new CustodyException($"no protected secret {id}");
        IndexIn(custody);
        var ciphertexts = new List<byte[]>(custody.Epoch + 1);
        for (var epoch = 0; epoch <= custody.Epoch; epoch++)
        {
            var c = await queries.GetShareCiphertextAsync(id, epoch, organisation, ct).ConfigureAwait(false);
            if (c is null)
                throw new CustodyException(epoch == 0
                    ? $"{organisation} has no dealt share of {id}: it became a custodian by replacement, which this client does not support yet"
                    : $"{organisation} has no refresh share of {id} for epoch {epoch}");
            ciphertexts.Add(c);
        }
        return (custody, OpenShare(custody, ciphertexts));
    }

    private BigInteger Open(string id, int epoch, byte[] ciphertext)
    {
        var plain = SealedBox.Open(ciphertext, key, new SealContext(chainId, id, epoch, organisation, "share"));
        // The contract cannot see inside a sealed box, so a plaintext of the wrong size cannot be proven against the
        // dealer; a 32-byte one is read as an integer mod q (a non-canonical encoding of the right share still verifies).
        if (plain.Length != Scalars.Size)
            throw new CustodyException($"the sealed share of {id} for epoch {epoch} is {plain.Length} bytes, not a 32-byte scalar: the dealer misbehaved");
        return Scalars.FromBytes(plain).Mod(Feldman.Order);
    }

    private ShareCheck Check(CustodyRecord custody, BigInteger value)
    {
        var share = new Share(IndexIn(custody), value);
        var commitments = Commitments.Decode(custody);
        var valid = Feldman.Verify(share, commitments);
        return new ShareCheck(valid, share, valid ? CustodyCall.Ack(custody.Id) : CustodyCall.Complain(custody.Id, Scalars.ToHex(value)));
    }

    private int IndexIn(CustodyRecord custody)
    {
        var index = custody.Custodians.IndexOf(organisation) + 1;
        return index > 0 ? index : throw new CustodyException($"{organisation} is not a custodian of {custody.Id}");
    }
}
