using System.Security.Cryptography;
using Chain.Chaincode.Contracts;
using static Chain.Client.Queries.ContractStateAccess;

namespace Chain.Client.Queries;

/// <summary>One registered model: its owner, endorsement policy, how many versions, the latest (highest height) and
/// how many versions are in each status.</summary>
public sealed record ModelSummary(
    string Model,
    string Owner,
    int Policy,
    int Versions,
    string? Latest,
    IReadOnlyDictionary<string, int> StatusCounts);

/// <summary>A model with all its versions, ordered by the height they were registered at.</summary>
public sealed record ModelInfo(string Model, string Owner, int Policy, IReadOnlyList<ModelVersion> Versions);

/// <summary>What a weights check found.</summary>
public enum WeightsVerdict
{
    /// <summary>The weights are a version with enough endorsements.</summary>
    Approved,

    /// <summary>The weights are a registered version that is not yet approved.</summary>
    Pending,

    /// <summary>The weights are a revoked version.</summary>
    Revoked,

    /// <summary>The model (and version, if one was named) exists, but the weights are not what it registered.</summary>
    NoMatch,

    /// <summary>No such model is registered.</summary>
    UnknownModel,

    /// <summary>The model is registered, the named version is not.</summary>
    UnknownVersion,
}

/// <summary>The result of checking a weights file against the ledger: the verdict, the file's SHA-256 (lowercase hex),
/// the matching version if any, and one human-readable line.</summary>
public sealed record WeightsVerification(WeightsVerdict Verdict, string Sha256, ModelVersion? Match, string Message);

/// <summary>
/// Read-side queries over the model-attestation contract's state ("models/&lt;model&gt;/owner", ".../policy",
/// ".../v/&lt;version&gt;"). Names are checked against the contracts' rule before any key is built.
/// </summary>
public sealed class ModelQueries(IStateReader reader)
{
    private const string Root = ModelAttestationContract.ContractId + "/";
    private static readonly string[] KnownStatuses = ["pending", "approved", "revoked"];

    private readonly IStateReader _reader = reader ?? throw new ArgumentNullException(nameof(reader));

    /// <summary>Every registered model, ordered by name.</summary>
    public async Task<IReadOnlyList<ModelSummary>> ListAsync(CancellationToken cancellationToken = default)
    {
        var models = new SortedDictionary<string, (string? Owner, int? Policy, List<ModelVersion> Versions)>(StringComparer.Ordinal);
        await foreach (var (rawKey, value) in _reader.ScanAsync(Key(Root), cancellationToken).ConfigureAwait(false))
        {
            var key = KeyText(rawKey);
            var parts = key[Root.Length..].Split('/');
            if (parts.Length is < 2 or > 3 || !IsName(parts[0])) continue; // not a key shape this contract version writes
            var model = parts[0];
            if (!models.TryGetValue(model, out var entry)) entry = (null, null, []);
            switch (parts)
            {
                case [_, "owner"]:
                    entry.Owner = Text(key, value);
                    break;
                case [_, "policy"]:
                    entry.Policy = Int(key, value);
                    break;
                case [_, "v", var version] when IsName(version):
                    entry.Versions.Add(Version(key, model, version, value));
                    break;
                default:
                    continue;
            }
            models[model] = entry;
        }

        var summaries = new List<ModelSummary>(models.Count);
        foreach (var (model, (owner, policy, versions)) in models)
        {
            if (owner is null) throw new InvalidDataException($"state {OwnerKey(model)} is missing for a registered model");
            if (policy is null) throw new InvalidDataException($"state {PolicyKey(model)} is missing for a registered model");
            SortByHeight(versions);
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var v in versions) counts[v.Status] = counts.GetValueOrDefault(v.Status) + 1;
            summaries.Add(new ModelSummary(model, owner, policy.Value, versions.Count, versions.Count == 0 ? null : versions[^1].Version, counts));
        }
        return summaries;
    }

    /// <summary>A model with its owner, policy and versions (by height), or null if it is not registered.</summary>
    public async Task<ModelInfo?> GetModelAsync(string model, CancellationToken cancellationToken = default)
    {
        RequireName(model, nameof(model), "model");
        var ownerKey = OwnerKey(model);
        var owner = await _reader.GetAsync(Key(ownerKey), cancellationToken).ConfigureAwait(false);
        if (owner is null) return null;
        var policyKey = PolicyKey(model);
        var policy = await _reader.GetAsync(Key(policyKey), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"state {policyKey} is missing for a registered model");
        var versions = await VersionsAsync(model, cancellationToken).ConfigureAwait(false);
        return new ModelInfo(model, Text(ownerKey, owner), Int(policyKey, policy), versions);
    }

    /// <summary>One version of a model, or null if it is not registered.</summary>
    public async Task<ModelVersion?> GetVersionAsync(string model, string version, CancellationToken cancellationToken = default)
    {
        RequireName(model, nameof(model), "model");
        RequireName(version, nameof(version), "version");
        return await LoadAsync(model, version, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The version and its ancestors through <see cref="ModelVersion.Parent"/>, oldest first; empty if the version is
    /// not registered. A parent that is missing or a cycle is malformed state (<see cref="InvalidDataException"/>).
    /// </summary>
    public async Task<IReadOnlyList<ModelVersion>> LineageAsync(string model, string version, CancellationToken cancellationToken = default)
    {
        RequireName(model, nameof(model), "model");
        RequireName(version, nameof(version), "version");
        var chain = new List<ModelVersion>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var current = await LoadAsync(model, version, cancellationToken).ConfigureAwait(false);
        if (current is null) return chain;
        while (true)
        {
            seen.Add(current.Version);
            chain.Add(current);
            if (current.Parent is not { } parent) break;
            var key = VersionKey(model, current.Version);
            if (!IsName(parent)) throw new InvalidDataException($"state {key} names an invalid parent version '{parent}'");
            if (seen.Contains(parent)) throw new InvalidDataException($"state {key} closes a cycle of parent versions at {VersionKey(model, parent)}");
            current = await LoadAsync(model, parent, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"state {key} names parent version {parent}, but {VersionKey(model, parent)} is missing");
        }
        chain.Reverse();
        return chain;
    }

    /// <summary>The status of a version (pending, approved, revoked), or null if it is not registered.</summary>
    public async Task<string?> StatusAsync(string model, string version, CancellationToken cancellationToken = default) =>
        (await GetVersionAsync(model, version, cancellationToken).ConfigureAwait(false))?.Status;

    /// <summary>Checks a weights file against the ledger (see the <see cref="Stream"/> overload).</summary>
    public async Task<WeightsVerification> VerifyWeightsAsync(string model, string? version, string weightsPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(weightsPath);
        RequireName(model, nameof(model), "model");
        if (version is not null) RequireName(version, nameof(version), "version");
        var stream = new FileStream(weightsPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            return await VerifyWeightsAsync(model, version, stream, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Hashes <paramref name="weights"/> (SHA-256, streamed from its current position to its end) and compares the hash
    /// with <paramref name="version"/> of <paramref name="model"/>, or, with a null version, with every version of the
    /// model. If several versions carry the same weights, the verdict is the most cautious one: revoked before approved
    /// before pending (the weights were revoked once, whatever another registration says).
    /// </summary>
    public async Task<WeightsVerification> VerifyWeightsAsync(string model, string? version, Stream weights, CancellationToken cancellationToken = default)
    {
        RequireName(model, nameof(model), "model");
        if (version is not null) RequireName(version, nameof(version), "version");
        ArgumentNullException.ThrowIfNull(weights);
        var sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(weights, cancellationToken).ConfigureAwait(false));

        var info = await GetModelAsync(model, cancellationToken).ConfigureAwait(false);
        if (info is null) return new(WeightsVerdict.UnknownModel, sha, null, $"model {model} is not registered");

        if (version is not null)
        {
            var record = info.Versions.FirstOrDefault(v => v.Version == version);
            if (record is null)
            {
                return new(WeightsVerdict.UnknownVersion, sha, null,
                    $"{model} has no version {version} (registered: {string.Join(", ", info.Versions.Select(v => v.Version))})");
            }
            return record.WeightsSha256 == sha
                ? Matched(info, record, sha, [record])
                : new(WeightsVerdict.NoMatch, sha, null,
                    $"weights do not match {model} {version}: file sha256 {sha}, registered {record.WeightsSha256}");
        }

        var matches = info.Versions.Where(v => v.WeightsSha256 == sha).ToList();
        if (matches.Count == 0)
        {
            return new(WeightsVerdict.NoMatch, sha, null,
                $"weights (sha256 {sha}) match none of the {info.Versions.Count} registered versions of {model}");
        }
        var chosen = matches.OrderBy(v => Array.IndexOf(["revoked", "approved", "pending"], v.Status)).ThenByDescending(v => v.Height).First();
        return Matched(info, chosen, sha, matches);
    }

    private static WeightsVerification Matched(ModelInfo info, ModelVersion match, string sha, List<ModelVersion> matches)
    {
        var key = VersionKey(match.Model, match.Version);
        var endorsed = match.Endorsements.Count == 0 ? "no endorsements" : "endorsed by " + string.Join(", ", match.Endorsements);
        var others = matches.Count > 1
            ? $"; the same weights are also registered as version(s) {string.Join(", ", matches.Where(m => m != match).Select(m => $"{m.Version} ({m.Status})"))}"
            : "";
        var at = $"{match.Model} {match.Version}";
        return match.Status switch
        {
            "approved" => new(WeightsVerdict.Approved, sha, match, $"weights match {at} (approved; {endorsed}){others}"),
            "pending" => new(WeightsVerdict.Pending, sha, match,
                $"weights match {at} (pending: {match.Endorsements.Count} of {info.Policy} endorsements; {endorsed}){others}"),
            "revoked" => new(WeightsVerdict.Revoked, sha, match,
                $"weights match {at}, which is REVOKED: {match.RevokedReason ?? "no reason recorded"}{others}"),
            _ => throw new InvalidDataException($"state {key} has unknown status '{match.Status}'"),
        };
    }

    private async Task<List<ModelVersion>> VersionsAsync(string model, CancellationToken cancellationToken)
    {
        var prefix = $"{Root}{model}/v/";
        var versions = new List<ModelVersion>();
        await foreach (var (rawKey, value) in _reader.ScanAsync(Key(prefix), cancellationToken).ConfigureAwait(false))
        {
            var key = KeyText(rawKey);
            var version = key[prefix.Length..];
            if (!IsName(version)) throw new InvalidDataException($"state {key} is not a version key of {model}");
            versions.Add(Version(key, model, version, value));
        }
        SortByHeight(versions);
        return versions;
    }

    private async Task<ModelVersion?> LoadAsync(string model, string version, CancellationToken cancellationToken)
    {
        var key = VersionKey(model, version);
        var value = await _reader.GetAsync(Key(key), cancellationToken).ConfigureAwait(false);
        return value is null ? null : Version(key, model, version, value);
    }

    private static ModelVersion Version(string key, string model, string version, byte[] value)
    {
        var record = Json<ModelVersion>(key, value);
        if (record.Model != model || record.Version != version)
        {
            throw new InvalidDataException($"state {key} holds the record of {record.Model} {record.Version}, not {model} {version}");
        }
        if (!KnownStatuses.Contains(record.Status)) throw new InvalidDataException($"state {key} has unknown status '{record.Status}'");
        return record;
    }

    private static void SortByHeight(List<ModelVersion> versions) =>
        versions.Sort((x, y) => x.Height != y.Height ? x.Height.CompareTo(y.Height) : string.CompareOrdinal(x.Version, y.Version));

    private static string OwnerKey(string model) => Root + ModelAttestationContract.OwnerKey(model);
    private static string PolicyKey(string model) => Root + ModelAttestationContract.PolicyKey(model);
    private static string VersionKey(string model, string version) => Root + ModelAttestationContract.VersionKey(model, version);
}
