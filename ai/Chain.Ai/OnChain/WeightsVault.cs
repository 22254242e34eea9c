using System.Security.Cryptography;
using Chain.Chaincode.Contracts;
using Chain.Client;
using Chain.Client.Custody;
using Chain.Client.Imaging;
using Chain.Client.Queries;

namespace Chain.Ai.OnChain;

/// <summary>Weights encrypted under a custody key: where the file is, which custody record holds its key, and who keeps the shares.</summary>
/// <param name="CustodyId">The custody record (secret id) on chain.</param>
/// <param name="EncryptedPath">The encrypted weights (Chain image format: chunked AES-256-GCM, authenticated header).</param>
/// <param name="WeightsSha256">The plaintext's SHA-256, as the models contract registers it.</param>
/// <param name="Threshold">Approvals a release needs (t of n).</param>
/// <param name="Custodians">The custodian hospitals, in share order.</param>
/// <param name="KeyFingerprint">The encryption key's fingerprint (names it without revealing it).</param>
/// <param name="DealHeight">The block that holds the dealing.</param>
public sealed record SealedWeights(
    string CustodyId, string EncryptedPath, string WeightsSha256, int Threshold, IReadOnlyList<string> Custodians, string KeyFingerprint, ulong DealHeight);

/// <summary>
/// One hospital's side of keeping model weights under share custody, with the existing pieces and no new cryptography:
/// the weights file is encrypted with <see cref="ImageCipher"/> under a key derived (exactly as
/// <see cref="CustodyImageKey"/> derives an image key) from a fresh 256-bit custody secret; the secret is split t-of-n
/// among the custodian hospitals' registered X25519 keys with <see cref="Dealer"/> and the custody contract. The way
/// back: a release request, t custodians' approvals (<see cref="Custodian"/>), the requester combines them
/// (<see cref="CustodyImageKey.ReleaseAsync"/>) and decrypts. A wrong key or an altered file fails with
/// <see cref="ImageCipherException"/> (<see cref="ImageError.WrongKey"/>, <see cref="ImageError.Tampered"/>...), and no
/// plaintext is left behind; custody problems are <see cref="CustodyException"/>; refused transactions are
/// <see cref="TransactionFailedException"/>.
/// </summary>
public sealed class WeightsVault
{
    /// <summary>The release id recorded in the header of a file the dealer encrypted (any granted request decrypts it).</summary>
    public const string DealRequestId = "deal";

    private readonly ChainClient _client;
    private readonly CustodyKeyPair _key;
    private readonly TimeSpan _timeout;

    /// <param name="client">This hospital member's client (with its signing key).</param>
    /// <param name="chainId">The chain id (seal contexts bind to it).</param>
    /// <param name="organisation">This hospital's organisation id.</param>
    /// <param name="custodyKey">This hospital's custody key pair (its public half registered with <see cref="RegisterKeyAsync"/>).</param>
    /// <param name="timeout">How long each write waits for its commit (default 30 s).</param>
    public WeightsVault(ChainClient client, string chainId, string organisation, CustodyKeyPair custodyKey, TimeSpan? timeout = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        ArgumentException.ThrowIfNullOrEmpty(chainId);
        if (organisation is null || !ContractNames.IsName(organisation))
            throw new ArgumentException($"organisation '{organisation}' must be {ContractNames.Rule}", nameof(organisation));
        _key = custodyKey ?? throw new ArgumentNullException(nameof(custodyKey));
        ChainId = chainId;
        Organisation = organisation;
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        if (_timeout <= TimeSpan.Zero || _timeout > TimeSpan.FromMinutes(1))
            throw new ArgumentOutOfRangeException(nameof(timeout), _timeout, "the commit wait must be more than 0 and at most 60 s");
    }

    public string ChainId { get; }

    public string Organisation { get; }

    /// <summary>Registers this hospital's custody public key (<c>register-key</c>); waits for the commit.</summary>
    public Task<SubmitResult> RegisterKeyAsync(CancellationToken cancellationToken = default) =>
        SubmitAsync($"register-key by {Organisation}", CustodyCall.RegisterKey(_key), cancellationToken);

    /// <summary>
    /// Encrypts <paramref name="weightsPath"/> to <paramref name="encryptedPath"/> (which must not exist) under a fresh
    /// custody secret, then deals the secret <paramref name="threshold"/>-of-n among <paramref name="custodians"/> (their
    /// custody keys are read from this node's state) as custody record <paramref name="custodyId"/>, and waits for the
    /// commit. The secret never leaves this process and is zeroed; if the dealing fails, the encrypted file is deleted.
    /// The custodians must then acknowledge their shares (<see cref="AcknowledgeAsync"/>) before a release can be approved.
    /// </summary>
    public async Task<SealedWeights> SealAsync(string weightsPath, string encryptedPath, string custodyId, int threshold,
        IReadOnlyList<string> custodians, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(weightsPath);
        ArgumentException.ThrowIfNullOrEmpty(encryptedPath);
        Id(custodyId, nameof(custodyId));
        ArgumentNullException.ThrowIfNull(custodians);
        if (custodians.Count is < 1 or > 64) throw new ArgumentException("custody needs 1 to 64 custodians", nameof(custodians));
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threshold, custodians.Count);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"weights file {weightsPath} does not exist", weightsPath);
        if (File.Exists(encryptedPath)) throw new IOException($"{encryptedPath} already exists: the vault never overwrites an encrypted file");

        var queries = new CustodyQueries(_client.State);
        var keys = new List<CustodianKey>(custodians.Count);
        foreach (var c in custodians)
        {
            if (c is null || !ContractNames.IsName(c)) throw new ArgumentException($"custodian '{c}' must be {ContractNames.Rule}", nameof(custodians));
            var hex = await queries.GetCustodyKeyAsync(c, cancellationToken).ConfigureAwait(false)
                ?? throw new CustodyException($"custodian {c} has no registered custody key on this node's ledger");
            keys.Add(new CustodianKey(c, hex));
        }
        if (await queries.GetRecordAsync(custodyId, cancellationToken).ConfigureAwait(false) is not null)
            throw new CustodyException($"custody record {custodyId} already exists");

        var secret = Dealer.NewSecret();
        try
        {
            var sha = ModelAttestor.HashFile(weightsPath);
            CustodyCall deal;
            string fingerprint;
            using (var key = KeyFor(secret, ChainId, custodyId, DealRequestId))
            {
                new ImageCipher().EncryptFile(weightsPath, encryptedPath, key, new ImageEncryptOptions(), overwrite: false,
                    cancellationToken: cancellationToken);
                fingerprint = key.Fingerprint;
                deal = Dealer.PrepareDeal(ChainId, custodyId, secret, threshold, keys);
            }
            SubmitResult dealt;
            try
            {
                dealt = await SubmitAsync($"deal {custodyId}", deal, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                TryDelete(encryptedPath);
                throw;
            }
            return new SealedWeights(custodyId, encryptedPath, sha, threshold, [.. custodians], fingerprint, dealt.Height);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// As a custodian: opens this hospital's share of <paramref name="custodyId"/>, checks it against the public commitments
    /// and submits <c>ack</c> (valid) or <c>complain</c> (revealing the bad share, so the contract exposes the dealer).
    /// Returns the check; the node must already hold the dealing.
    /// </summary>
    public async Task<ShareCheck> AcknowledgeAsync(string custodyId, CancellationToken cancellationToken = default)
    {
        Id(custodyId, nameof(custodyId));
        var check = await new Custodian(ChainId, Organisation, _key).OpenCurrentAsync(_client.State, custodyId, cancellationToken).ConfigureAwait(false);
        await SubmitAsync($"{check.Call.Function} {custodyId} by {Organisation}", check.Call, cancellationToken).ConfigureAwait(false);
        return check;
    }

    /// <summary>Asks for the key of <paramref name="custodyId"/> (release <paramref name="requestId"/>, sealed to this hospital's custody key).</summary>
    public Task<SubmitResult> RequestReleaseAsync(string custodyId, string requestId, CancellationToken cancellationToken = default) =>
        SubmitAsync($"request {requestId} of {custodyId}", CustodyCall.Request(Id(custodyId, nameof(custodyId)), Id(requestId, nameof(requestId)),
            _key.PublicKeyHex), cancellationToken);

    /// <summary>As a custodian: re-encrypts this hospital's verified share to the requester of <paramref name="requestId"/>.</summary>
    public async Task<SubmitResult> ApproveReleaseAsync(string custodyId, string requestId, CancellationToken cancellationToken = default)
    {
        Id(custodyId, nameof(custodyId));
        Id(requestId, nameof(requestId));
        var call = await new Custodian(ChainId, Organisation, _key).ApproveAsync(_client.State, custodyId, requestId, cancellationToken)
            .ConfigureAwait(false);
        return await SubmitAsync($"approve {requestId} of {custodyId} by {Organisation}", call, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// As the requester of <paramref name="requestId"/>: combines the approvals on this node into the key and decrypts
    /// <paramref name="encryptedPath"/> to <paramref name="outputPath"/> (which appears only once every chunk has
    /// authenticated). Returns the plaintext's SHA-256 (check it with <see cref="ModelAttestor"/> before loading).
    /// </summary>
    public async Task<string> OpenAsync(string custodyId, string requestId, string encryptedPath, string outputPath, bool overwrite = false,
        CancellationToken cancellationToken = default)
    {
        Id(custodyId, nameof(custodyId));
        Id(requestId, nameof(requestId));
        ArgumentException.ThrowIfNullOrEmpty(encryptedPath);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        if (!File.Exists(encryptedPath)) throw new FileNotFoundException($"encrypted weights {encryptedPath} do not exist", encryptedPath);
        using var key = await CustodyImageKey.ReleaseAsync(_client.State, ChainId, custodyId, requestId, _key, cancellationToken).ConfigureAwait(false);
        new ImageCipher().DecryptFile(encryptedPath, outputPath, key, overwrite, cancellationToken: cancellationToken);
        return ModelAttestor.HashFile(outputPath);
    }

    /// <summary>The file key for a custody secret: the image-key derivation (HKDF-SHA256 bound to chain and custody id).</summary>
    internal static ImageKey KeyFor(ReadOnlySpan<byte> secret, string chainId, string custodyId, string requestId) =>
        CustodyImageKey.FromReleasedSecret(secret, ImageKeySource.Custody(chainId, custodyId, 0, requestId));

    private async Task<SubmitResult> SubmitAsync(string what, CustodyCall call, CancellationToken cancellationToken) =>
        (await _client.SubmitAsync(call, wait: true, _timeout, cancellationToken).ConfigureAwait(false)).EnsureSucceeded(what);

    private static string Id(string value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        return ContractNames.IsName(value) ? value : throw new ArgumentException($"'{value}' must be {ContractNames.Rule}", paramName);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: the file is ciphertext under a key nobody holds
        }
    }
}
