using System.Security.Cryptography;
using Chain.Accel.Encoding;
using Chain.Client.Custody;
using Chain.Client.Queries;

namespace Chain.Client.Imaging;

/// <summary>
/// An image master key released through the share-custody contract: the requester reads the custody record, opens the
/// custodians' approvals of its release request with its custody key pair and combines t of them
/// (<see cref="Requester.Combine"/>) into the 32-byte secret. The image key is HKDF-SHA256 of that secret bound to the
/// chain and custody id, so the secret itself (which may also protect a model) is never used as an AES key directly.
/// </summary>
public static class CustodyImageKey
{
    private static readonly byte[] Label = "chain-image/v1 custody master key"u8.ToArray();

    /// <summary>
    /// Releases the key of custody <paramref name="custodyId"/> through release request <paramref name="requestId"/> (which
    /// must have t verified approvals sealed to <paramref name="requesterKey"/>). Throws <see cref="CustodyException"/> when
    /// the record or request is missing or the approvals do not combine.
    /// </summary>
    public static async Task<ImageKey> ReleaseAsync(IStateReader state, string chainId, string custodyId, string requestId, CustodyKeyPair requesterKey,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentException.ThrowIfNullOrEmpty(chainId);
        ArgumentNullException.ThrowIfNull(requesterKey);
        var record = await new CustodyQueries(state).GetRecordAsync(custodyId, cancellationToken).ConfigureAwait(false)
            ?? throw new CustodyException($"secret {custodyId} is not in custody");
        if (!record.Releases.TryGetValue(requestId, out var release))
            throw new CustodyException($"{custodyId} has no release request {requestId}");
        var secret = new Requester(chainId, release.Requester, requesterKey).Combine(record, requestId);
        try
        {
            return FromReleasedSecret(secret, ImageKeySource.Custody(chainId, custodyId, record.Epoch, requestId));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>The image key for a released custody secret: HKDF-SHA256(secret, info = label ‖ chain id ‖ custody id).</summary>
    public static ImageKey FromReleasedSecret(ReadOnlySpan<byte> secret, ImageKeySource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Kind != ImageKeyKind.Custody) throw new ArgumentException("the source must be a custody release", nameof(source));
        if (secret.Length != 32) throw new ArgumentException("a released custody secret is 32 bytes", nameof(secret));
        var info = new CanonicalWriter().Fixed(Label).String(source.ChainId!).String(source.CustodyId!).ToArray();
        var master = new byte[ImageKey.Size];
        try
        {
            HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, master, [], info);
            return ImageKey.FromBytes(master, source);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
        }
    }
}
