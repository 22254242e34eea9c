using System.Globalization;
using System.Security.Cryptography;
using Chain.Chaincode.Contracts;
using Chain.Client;
using Chain.Client.Queries;

namespace Chain.Ai.OnChain;

/// <summary>What the ledger lacks for a weights file to be usable.</summary>
public enum AttestationGap
{
    /// <summary>No such model is registered.</summary>
    UnknownModel,

    /// <summary>The model is registered, this version is not.</summary>
    UnknownVersion,

    /// <summary>The version is registered with other weights: the file is not the attested one (or was altered).</summary>
    WeightsMismatch,

    /// <summary>The version was revoked.</summary>
    Revoked,

    /// <summary>The version has fewer endorsements than its model's policy asks for.</summary>
    NotEndorsed,
}

/// <summary>
/// A weights file the agent must not load: <see cref="Gap"/> says what is missing on chain; the message names the model,
/// version, the file's hash and (when known) the registered hash, the endorsements and the policy.
/// </summary>
public sealed class ModelNotAttestedException(
    AttestationGap gap, string model, string version, string fileSha256, string message, ModelVersion? registered = null, int required = 0)
    : Exception(message)
{
    public AttestationGap Gap { get; } = gap;
    public string Model { get; } = model;
    public string Version { get; } = version;
    public string FileSha256 { get; } = fileSha256;

    /// <summary>The version as registered, when it is.</summary>
    public ModelVersion? Registered { get; } = registered;

    /// <summary>Endorsements the policy requires (0 when unknown).</summary>
    public int Required { get; } = required;
}

/// <summary>What a hospital claims about a version it trained: the model, the version, its parent (null for the first) and how it was trained.</summary>
public sealed record ModelVersionClaim(string Model, string Version, string? Parent, TrainingSummary Training);

/// <summary>A weights file that passed <see cref="ModelAttestor.EnsureUsableAsync(IStateReader, string, string, string, CancellationToken)"/>:
/// the record on chain, the policy it satisfies and the file's hash.</summary>
public sealed record UsableModel(ModelVersion Record, int Policy, string WeightsSha256)
{
    /// <summary>The name the defense-action log records as the model version: "model:version" (or the version alone if longer than 64 characters).</summary>
    public string LogName => Record.Model.Length + 1 + Record.Version.Length <= 64 ? $"{Record.Model}:{Record.Version}" : Record.Version;
}

/// <summary>
/// Model-version attestation for the defense agent, through the models contract: <see cref="AttestAsync"/> registers a
/// version the hospital trained (SHA-256 of its weights file, parent, training metadata) and waits for the commit;
/// <see cref="EndorseAsync"/>, <see cref="SetPolicyAsync"/> and <see cref="RevokeAsync"/> are the other hospitals' and
/// the owner's steps; <see cref="EnsureUsableAsync(string, string, string, CancellationToken)"/> is the check the agent
/// runs before loading weights: this exact file registered for this version, not revoked, endorsed per the model's
/// policy, or <see cref="ModelNotAttestedException"/>. <see cref="ReadUsableAsync"/> returns the checked bytes themselves,
/// so nothing can swap the file between the check and the load.
/// </summary>
public sealed class ModelAttestor
{
    private readonly ChainClient _client;
    private readonly TimeSpan _timeout;

    /// <param name="client">A hospital member's client (with its signing key) connected to a node.</param>
    /// <param name="organisation">The member's organisation: checked against what the contract records as the trainer.</param>
    /// <param name="timeout">How long each write waits for its commit (default 30 s).</param>
    public ModelAttestor(ChainClient client, string organisation, TimeSpan? timeout = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        Name(organisation, nameof(organisation), "organisation");
        Organisation = organisation;
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        if (_timeout <= TimeSpan.Zero || _timeout > TimeSpan.FromMinutes(1))
            throw new ArgumentOutOfRangeException(nameof(timeout), _timeout, "the commit wait must be more than 0 and at most 60 s");
    }

    public string Organisation { get; }

    /// <summary>SHA-256 of a file, streamed, as 64 lowercase hex characters.</summary>
    public static string HashFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"file {path} does not exist", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Registers <paramref name="claim"/> with the SHA-256 of <paramref name="weightsPath"/> and waits for the commit; returns
    /// the version as the ledger recorded it (pending until endorsed). Throws <see cref="TransactionFailedException"/> when
    /// the contract refuses (e.g. the version exists, the parent does not) and <see cref="InvalidDataException"/> when the
    /// record read back is not what was registered (another trainer organisation: a misconfigured client).
    /// </summary>
    public async Task<ModelVersion> AttestAsync(ModelVersionClaim claim, string weightsPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(claim);
        Name(claim.Model, nameof(claim), "model");
        Name(claim.Version, nameof(claim), "version");
        if (claim.Parent is not null) Name(claim.Parent, nameof(claim), "parent version");
        if (claim.Parent == claim.Version) throw new ArgumentException("a version cannot be its own parent", nameof(claim));
        ArgumentNullException.ThrowIfNull(claim.Training, nameof(claim));
        var metadata = claim.Training.ToContractJson();
        var sha = HashFile(weightsPath);
        var result = await _client.SubmitAsync(ModelAttestationContract.ContractId, "register",
            [claim.Model, claim.Version, sha, claim.Parent ?? "", metadata], wait: true, _timeout, cancellationToken).ConfigureAwait(false);
        result.EnsureSucceeded($"register {claim.Model} {claim.Version}");
        var record = await new ModelQueries(_client.State).GetVersionAsync(claim.Model, claim.Version, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{claim.Model} {claim.Version} committed at height {result.Height} but is not in this node's state");
        if (record.WeightsSha256 != sha || record.Organisation != Organisation)
        {
            throw new InvalidDataException($"{claim.Model} {claim.Version} is recorded with weights {record.WeightsSha256} by {record.Organisation}, " +
                $"not {sha} by {Organisation}");
        }
        return record;
    }

    /// <summary>Endorses another hospital's version (this client's organisation must not be its trainer); waits for the commit.</summary>
    public Task<SubmitResult> EndorseAsync(string model, string version, CancellationToken cancellationToken = default) =>
        WriteAsync($"endorse {model} {version}", "endorse", [Name(model, nameof(model), "model"), Name(version, nameof(version), "version")],
            cancellationToken);

    /// <summary>Sets how many endorsements approve a version of <paramref name="model"/> (owner or regulator; 1 to 64).</summary>
    public Task<SubmitResult> SetPolicyAsync(string model, int endorsements, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(endorsements, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(endorsements, 64);
        return WriteAsync($"policy {model}", "policy",
            [Name(model, nameof(model), "model"), endorsements.ToString(CultureInfo.InvariantCulture)], cancellationToken);
    }

    /// <summary>Revokes a version (its trainer or the regulator) with a reason of 1-512 characters.</summary>
    public Task<SubmitResult> RevokeAsync(string model, string version, string reason, CancellationToken cancellationToken = default)
    {
        if (reason is not { Length: > 0 and <= 512 }) throw new ArgumentException("a reason of 1-512 characters is required", nameof(reason));
        return WriteAsync($"revoke {model} {version}", "revoke",
            [Name(model, nameof(model), "model"), Name(version, nameof(version), "version"), reason], cancellationToken);
    }

    /// <summary>The check before loading, through this client's node (see the <see cref="IStateReader"/> overload).</summary>
    public Task<UsableModel> EnsureUsableAsync(string model, string version, string weightsPath, CancellationToken cancellationToken = default) =>
        EnsureUsableAsync(_client.State, model, version, weightsPath, cancellationToken);

    /// <summary>
    /// Checks on chain that <paramref name="weightsPath"/> is exactly the weights registered as <paramref name="model"/>
    /// <paramref name="version"/>, that the version is not revoked, and that it has at least as many endorsements as the
    /// model's current policy asks (and the contract marked it approved). Throws <see cref="ModelNotAttestedException"/>
    /// naming the gap otherwise.
    /// </summary>
    public static async Task<UsableModel> EnsureUsableAsync(IStateReader state, string model, string version, string weightsPath,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        Name(model, nameof(model), "model");
        Name(version, nameof(version), "version");
        return await CheckAsync(state, model, version, HashFile(weightsPath), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads <paramref name="weightsPath"/> once (at most <paramref name="maxBytes"/>, default 1 GiB) and checks those bytes
    /// as <see cref="EnsureUsableAsync(IStateReader, string, string, string, CancellationToken)"/> does; returns them for
    /// the agent to load, so the file cannot change between the check and the load.
    /// </summary>
    public static async Task<(byte[] Weights, UsableModel Model)> ReadUsableAsync(IStateReader state, string model, string version, string weightsPath,
        long maxBytes = 1L << 30, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        Name(model, nameof(model), "model");
        Name(version, nameof(version), "version");
        ArgumentException.ThrowIfNullOrEmpty(weightsPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, Array.MaxLength);
        var info = new FileInfo(weightsPath);
        if (!info.Exists) throw new FileNotFoundException($"weights file {weightsPath} does not exist", weightsPath);
        if (info.Length > maxBytes) throw new ArgumentException($"weights file {weightsPath} is {info.Length:N0} bytes, more than {maxBytes:N0}", nameof(weightsPath));
        var bytes = await File.ReadAllBytesAsync(weightsPath, cancellationToken).ConfigureAwait(false);
        var usable = await CheckAsync(state, model, version, Convert.ToHexStringLower(SHA256.HashData(bytes)), cancellationToken).ConfigureAwait(false);
        return (bytes, usable);
    }

    private static async Task<UsableModel> CheckAsync(IStateReader state, string model, string version, string sha, CancellationToken cancellationToken)
    {
        var info = await new ModelQueries(state).GetModelAsync(model, cancellationToken).ConfigureAwait(false);
        if (info is null)
            throw new ModelNotAttestedException(AttestationGap.UnknownModel, model, version, sha,
                $"model {model} is not registered on chain: weights {sha} cannot be used");
        var record = info.Versions.FirstOrDefault(v => v.Version == version);
        if (record is null)
            throw new ModelNotAttestedException(AttestationGap.UnknownVersion, model, version, sha,
                $"{model} has no version {version} on chain (registered: {(info.Versions.Count == 0 ? "none" : string.Join(", ", info.Versions.Select(v => v.Version)))})",
                null, info.Policy);
        if (!CryptographicOperations.FixedTimeEquals(Convert.FromHexString(record.WeightsSha256), Convert.FromHexString(sha)))
            throw new ModelNotAttestedException(AttestationGap.WeightsMismatch, model, version, sha,
                $"the weights file is not {model} {version}: its SHA-256 is {sha}, the ledger registers {record.WeightsSha256}", record, info.Policy);
        if (record.Status == "revoked")
            throw new ModelNotAttestedException(AttestationGap.Revoked, model, version, sha,
                $"{model} {version} is revoked: {record.RevokedReason ?? "no reason recorded"}", record, info.Policy);
        if (record.Status != "approved" || record.Endorsements.Count < info.Policy)
        {
            var by = record.Endorsements.Count == 0 ? "none" : string.Join(", ", record.Endorsements);
            throw new ModelNotAttestedException(AttestationGap.NotEndorsed, model, version, sha,
                $"{model} {version} (trained by {record.Organisation}) is {record.Status} with {record.Endorsements.Count} of the {info.Policy} " +
                $"endorsement(s) its policy requires (endorsed by: {by})", record, info.Policy);
        }
        return new UsableModel(record, info.Policy, sha);
    }

    private async Task<SubmitResult> WriteAsync(string what, string function, IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        (await _client.SubmitAsync(ModelAttestationContract.ContractId, function, args, wait: true, _timeout, cancellationToken).ConfigureAwait(false))
        .EnsureSucceeded(what);

    private static string Name(string value, string paramName, string what)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        return ContractNames.IsName(value) ? value : throw new ArgumentException($"{what} '{value}' must be {ContractNames.Rule}", paramName);
    }
}
