using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chain.Ledger.Identity;

namespace Chain.Chaincode.Contracts;

/// <summary>One detection or response of the defense agent, as submitted.</summary>
public sealed record DefenseAction(
    [property: JsonPropertyName("agent")] string Agent,
    [property: JsonPropertyName("modelVersion")] string ModelVersion,
    [property: JsonPropertyName("severity")] string Severity,
    [property: JsonPropertyName("device")] string Device,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("evidenceSha256")] string EvidenceSha256);

/// <summary>A logged action with where and when the ledger recorded it.</summary>
public sealed record LoggedAction(
    [property: JsonPropertyName("entry")] DefenseAction Entry,
    [property: JsonPropertyName("organisation")] string Organisation,
    [property: JsonPropertyName("height")] ulong Height,
    [property: JsonPropertyName("timestamp")] long Timestamp,
    [property: JsonPropertyName("tx")] string Tx);

/// <summary>
/// The defense-action log ("defense"): <c>record(batchJson)</c> appends up to 1,000 actions (a JSON array of
/// <see cref="DefenseAction"/>) from a hospital's agent in one transaction. Each is stored under its block time
/// (<c>t/&lt;timestamp&gt;/&lt;tx&gt;/&lt;i&gt;</c>) with index entries by device (<c>d/&lt;device&gt;/&lt;timestamp&gt;/...</c>)
/// and severity (<c>s/&lt;severity&gt;/&lt;timestamp&gt;/...</c>), so queries by time range, device and severity are prefix
/// scans. Evidence is a hash only: no patient data on chain.
/// </summary>
public sealed class DefenseLogContract : IContract
{
    public const string ContractId = "defense";
    public const int MaxBatch = 1000;
    public static readonly IReadOnlySet<string> Severities = new HashSet<string>(StringComparer.Ordinal) { "info", "low", "medium", "high", "critical" };

    public string Id => ContractId;
    public int Version => 1;

    public void Invoke(ContractContext ctx, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
    {
        ctx.RequireWriter();
        ctx.Require(function == "record", $"defense has no function '{function}' (record)");
        ctx.Require(ctx.Caller.Role == Role.Hospital, "only hospitals' agents record defense actions");
        var json = ContractArgs.Strings(ctx, args, 1, "record(batchJson)")[0];
        List<DefenseAction>? batch;
        try
        {
            batch = JsonSerializer.Deserialize<List<DefenseAction>>(json, ContractArgs.Json);
        }
        catch (JsonException e)
        {
            throw new ContractException($"batch is not a valid JSON array of actions: {e.Message}");
        }
        ctx.Require(batch is { Count: > 0 and <= MaxBatch }, $"a batch holds 1 to {MaxBatch} actions");
        var time = ctx.Block.Timestamp.ToString("D20", CultureInfo.InvariantCulture);
        for (var i = 0; i < batch!.Count; i++)
        {
            var e = batch[i];
            ctx.Require(e is not null, $"action {i} is null");
            ContractArgs.Name(ctx, e!.Agent, $"action {i}: agent");
            ContractArgs.Name(ctx, e.ModelVersion, $"action {i}: modelVersion");
            ContractArgs.Name(ctx, e.Device, $"action {i}: device");
            ContractArgs.Name(ctx, e.Action, $"action {i}: action");
            ContractArgs.Sha256(ctx, e.EvidenceSha256, $"action {i}: evidenceSha256");
            ctx.Require(Severities.Contains(e.Severity), $"action {i}: severity must be one of info, low, medium, high, critical");
            var id = $"{time}/{ctx.TxId}/{i:D4}";
            var logged = JsonSerializer.SerializeToUtf8Bytes(new LoggedAction(e, ctx.Caller.Organisation, ctx.Block.Height, ctx.Block.Timestamp,
                ctx.TxId.ToString()), ContractArgs.Json);
            ctx.Put($"t/{id}", logged);
            ctx.Put($"d/{e.Device}/{id}", []);
            ctx.Put($"s/{e.Severity}/{id}", []);
        }
        ctx.Emit("recorded", Encoding.UTF8.GetBytes(batch.Count.ToString(CultureInfo.InvariantCulture)));
    }
}
