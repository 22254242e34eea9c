using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chain.Ledger.Identity;

namespace Chain.Chaincode.Contracts;

/// <summary>Training metadata a hospital declares with a model version (no patient data: fingerprints and aggregates).</summary>
public sealed record TrainingMetadata(
    [property: JsonPropertyName("datasetFingerprint")] string DatasetFingerprint,
    [property: JsonPropertyName("metrics")] Dictionary<string, decimal> Metrics,
    [property: JsonPropertyName("epsilon")] decimal Epsilon);

/// <summary>A model version as the ledger records it.</summary>
public sealed record ModelVersion(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("weightsSha256")] string WeightsSha256,
    [property: JsonPropertyName("parent")] string? Parent,
    [property: JsonPropertyName("metadata")] TrainingMetadata Metadata,
    [property: JsonPropertyName("organisation")] string Organisation,
    [property: JsonPropertyName("height")] ulong Height,
    [property: JsonPropertyName("timestamp")] long Timestamp,
    [property: JsonPropertyName("endorsements")] List<string> Endorsements,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("revokedReason")] string? RevokedReason);

/// <summary>
/// Model-version attestation ("models"). Functions (UTF-8 arguments):
/// <list type="bullet">
/// <item><c>register(model, version, weightsSha256, parent, metadataJson)</c>: a hospital records a version it trained
/// (parent "" for a first version; otherwise an existing version of the same model). The first registration of a model
/// makes the registering hospital its owner with an endorsement policy of 2.</item>
/// <item><c>policy(model, k)</c>: the owner or the regulator sets how many endorsements (from hospitals other than the
/// trainer) make a version approved.</item>
/// <item><c>endorse(model, version)</c>: another hospital endorses; at k endorsements the version is approved.</item>
/// <item><c>revoke(model, version, reason)</c>: the trainer or the regulator revokes a version.</item>
/// </list>
/// State: <c>models/&lt;model&gt;/owner</c>, <c>.../policy</c>, <c>.../v/&lt;version&gt;</c> (JSON <see cref="ModelVersion"/>).
/// Statuses: pending, approved, revoked. Auditors may only read.
/// </summary>
public sealed class ModelAttestationContract : IContract
{
    public const string ContractId = "models";
    public const int DefaultPolicy = 2;

    public string Id => ContractId;
    public int Version => 1;

    public void Invoke(ContractContext ctx, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
    {
        ctx.RequireWriter();
        switch (function)
        {
            case "register":
                Register(ctx, ContractArgs.Strings(ctx, args, 5, "register(model, version, weightsSha256, parent, metadataJson)"));
                break;
            case "policy":
                SetPolicy(ctx, ContractArgs.Strings(ctx, args, 2, "policy(model, k)"));
                break;
            case "endorse":
                Endorse(ctx, ContractArgs.Strings(ctx, args, 2, "endorse(model, version)"));
                break;
            case "revoke":
                Revoke(ctx, ContractArgs.Strings(ctx, args, 3, "revoke(model, version, reason)"));
                break;
            default:
                throw new ContractException($"models has no function '{function}' (register, policy, endorse, revoke)");
        }
    }

    private static void Register(ContractContext ctx, string[] a)
    {
        var (model, version, weights, parent, metadataJson) = (a[0], a[1], a[2], a[3], a[4]);
        ctx.Require(ctx.Caller.Role == Role.Hospital, "only hospitals register model versions");
        ContractArgs.Name(ctx, model, "model");
        ContractArgs.Name(ctx, version, "version");
        ContractArgs.Sha256(ctx, weights, "weightsSha256");
        ctx.Require(ctx.Get(VersionKey(model, version)) is null, $"{model} {version} is already registered");
        TrainingMetadata? metadata;
        try
        {
            metadata = JsonSerializer.Deserialize<TrainingMetadata>(metadataJson, ContractArgs.Json);
        }
        catch (JsonException e)
        {
            throw new ContractException($"metadata is not valid JSON: {e.Message}");
        }
        ctx.Require(metadata is { DatasetFingerprint.Length: > 0, Metrics: not null }, "metadata needs datasetFingerprint and metrics");
        ctx.Require(metadata!.Epsilon >= 0, "epsilon must not be negative");
        var owner = ctx.Get(OwnerKey(model));
        if (parent.Length > 0)
        {
            ctx.Require(ctx.Get(VersionKey(model, parent)) is not null, $"parent version {parent} of {model} is not registered");
        }
        else if (owner is not null)
        {
            throw new ContractException($"{model} exists: a new version must name its parent");
        }
        if (owner is null)
        {
            ctx.Put(OwnerKey(model), Encoding.UTF8.GetBytes(ctx.Caller.Organisation));
            ctx.Put(PolicyKey(model), Encoding.UTF8.GetBytes(DefaultPolicy.ToString(CultureInfo.InvariantCulture)));
        }
        var record = new ModelVersion(model, version, weights, parent.Length == 0 ? null : parent, metadata, ctx.Caller.Organisation,
            ctx.Block.Height, ctx.Block.Timestamp, [], "pending", null);
        Save(ctx, record);
        ctx.Emit("registered", Encoding.UTF8.GetBytes($"{model}/{version}"));
    }

    private static void SetPolicy(ContractContext ctx, string[] a)
    {
        var owner = ctx.Get(OwnerKey(a[0]));
        ctx.Require(owner is not null, $"model {a[0]} is not registered");
        ctx.Require(ctx.Caller.Role == Role.Regulator || Encoding.UTF8.GetString(owner!) == ctx.Caller.Organisation,
            "only the model's owner or the regulator sets its policy");
        ctx.Require(int.TryParse(a[1], NumberStyles.None, CultureInfo.InvariantCulture, out var k) && k is >= 1 and <= 64,
            "k must be a whole number from 1 to 64");
        ctx.Put(PolicyKey(a[0]), Encoding.UTF8.GetBytes(k.ToString(CultureInfo.InvariantCulture)));
        ctx.Emit("policy", Encoding.UTF8.GetBytes($"{a[0]}:{k}"));
    }

    private static void Endorse(ContractContext ctx, string[] a)
    {
        var record = Load(ctx, a[0], a[1]);
        ctx.Require(ctx.Caller.Role == Role.Hospital, "only hospitals endorse model versions");
        ctx.Require(record.Organisation != ctx.Caller.Organisation, "a hospital cannot endorse its own model version");
        ctx.Require(record.Status != "revoked", $"{a[0]} {a[1]} is revoked");
        ctx.Require(!record.Endorsements.Contains(ctx.Caller.Organisation), $"{ctx.Caller.Organisation} already endorsed {a[0]} {a[1]}");
        record.Endorsements.Add(ctx.Caller.Organisation);
        record.Endorsements.Sort(StringComparer.Ordinal);
        var k = int.Parse(Encoding.UTF8.GetString(ctx.Get(PolicyKey(a[0]))!), CultureInfo.InvariantCulture);
        var approved = record.Endorsements.Count >= k;
        Save(ctx, record with { Status = approved ? "approved" : "pending" });
        ctx.Emit(approved && record.Status != "approved" ? "approved" : "endorsed", Encoding.UTF8.GetBytes($"{a[0]}/{a[1]}"));
    }

    private static void Revoke(ContractContext ctx, string[] a)
    {
        var record = Load(ctx, a[0], a[1]);
        ctx.Require(ctx.Caller.Role == Role.Regulator || record.Organisation == ctx.Caller.Organisation,
            "only the training hospital or the regulator revokes a version");
        ctx.Require(record.Status != "revoked", $"{a[0]} {a[1]} is already revoked");
        ctx.Require(a[2].Length is > 0 and <= 512, "a reason of 1-512 characters is required");
        Save(ctx, record with { Status = "revoked", RevokedReason = a[2] });
        ctx.Emit("revoked", Encoding.UTF8.GetBytes($"{a[0]}/{a[1]}"));
    }

    private static ModelVersion Load(ContractContext ctx, string model, string version)
    {
        var bytes = ctx.Get(VersionKey(model, version));
        ctx.Require(bytes is not null, $"{model} {version} is not registered");
        return JsonSerializer.Deserialize<ModelVersion>(bytes!, ContractArgs.Json)!;
    }

    private static void Save(ContractContext ctx, ModelVersion record) =>
        ctx.Put(VersionKey(record.Model, record.Version), JsonSerializer.SerializeToUtf8Bytes(record, ContractArgs.Json));

    public static string OwnerKey(string model) => $"{model}/owner";
    public static string PolicyKey(string model) => $"{model}/policy";
    public static string VersionKey(string model, string version) => $"{model}/v/{version}";
}
