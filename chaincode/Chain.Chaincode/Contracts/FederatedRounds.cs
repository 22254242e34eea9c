using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Chain.Ledger.Identity;

namespace Chain.Chaincode.Contracts;

/// <summary>A federated-learning round as the ledger records it.</summary>
public sealed record FederatedRound(
    [property: JsonPropertyName("round")] string Round,
    [property: JsonPropertyName("dataset")] string Dataset,
    [property: JsonPropertyName("rule")] string Rule,
    [property: JsonPropertyName("coordinator")] string Coordinator,
    [property: JsonPropertyName("participants")] List<string> Participants,
    [property: JsonPropertyName("updates")] Dictionary<string, string> Updates,
    [property: JsonPropertyName("epsilon")] Dictionary<string, decimal> Epsilon,
    [property: JsonPropertyName("aggregateSha256")] string? AggregateSha256,
    [property: JsonPropertyName("status")] string Status)
{
    /// <summary>SHA-256 of the global model the round starts from (an off-chain blob), when the coordinator named one.</summary>
    [JsonPropertyName("base")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BaseSha256 { get; init; }
}

/// <summary>
/// The federated-round registry ("fl"). <c>budget(dataset, epsilon)</c>: the regulator sets the consortium's privacy
/// budget for a dataset. <c>open(round, dataset, rule, participantsCsv[, baseSha256])</c>: a hospital opens a round among
/// listed hospitals, optionally naming the SHA-256 of the global model the round starts from (its bytes are an
/// off-chain blob). <c>submit(round, updateSha256, epsilon)</c>: a participant records the hash of its update and the epsilon
/// it spent; refused if the dataset's spent epsilon would exceed its budget. <c>close(round, aggregateSha256)</c>: the
/// coordinator records the aggregated model's hash. State: <c>budget/&lt;dataset&gt;</c>, <c>spent/&lt;dataset&gt;</c>,
/// <c>round/&lt;round&gt;</c>.
/// </summary>
public sealed class FederatedRoundContract : IContract
{
    public const string ContractId = "fl";
    public static readonly IReadOnlySet<string> Rules = new HashSet<string>(StringComparer.Ordinal) { "fedavg", "fedprox", "median", "trimmed-mean", "krum", "multi-krum" };

    public string Id => ContractId;
    public int Version => 1;

    public void Invoke(ContractContext ctx, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
    {
        ctx.RequireWriter();
        switch (function)
        {
            case "budget":
            {
                var a = ContractArgs.Strings(ctx, args, 2, "budget(dataset, epsilon)");
                ctx.Require(ctx.Caller.Role == Role.Regulator, "only the regulator sets privacy budgets");
                ContractArgs.Name(ctx, a[0], "dataset");
                var budget = ContractArgs.Decimal(ctx, a[1], "epsilon");
                ctx.Require(budget >= Spent(ctx, a[0]), "the budget cannot be below what is already spent");
                ctx.Put($"budget/{a[0]}", Encoding.UTF8.GetBytes(ContractArgs.Text(budget)));
                break;
            }
            case "open":
            {
                const string usage = "open(round, dataset, rule, participantsCsv[, baseSha256])";
                var a = ContractArgs.Strings(ctx, args, args.Count == 5 ? 5 : 4, usage);
                ctx.Require(ctx.Caller.Role == Role.Hospital, "only hospitals coordinate rounds");
                ContractArgs.Name(ctx, a[0], "round");
                ContractArgs.Name(ctx, a[1], "dataset");
                ctx.Require(Rules.Contains(a[2]), "rule must be one of fedavg, fedprox, median, trimmed-mean, krum, multi-krum");
                if (a.Length == 5) ContractArgs.Sha256(ctx, a[4], "baseSha256");
                ctx.Require(ctx.Get($"budget/{a[1]}") is not null, $"dataset {a[1]} has no privacy budget (the regulator sets one)");
                ctx.Require(ctx.Get($"round/{a[0]}") is null, $"round {a[0]} exists");
                var participants = a[3].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct().Order(StringComparer.Ordinal).ToList();
                ctx.Require(participants.Count is >= 2 and <= 64, "a round needs 2 to 64 distinct participants");
                foreach (var p in participants) ContractArgs.Name(ctx, p, "participant");
                Save(ctx, new FederatedRound(a[0], a[1], a[2], ctx.Caller.Organisation, participants, [], [], null, "open")
                {
                    BaseSha256 = a.Length == 5 ? a[4] : null,
                });
                ctx.Emit("opened", Encoding.UTF8.GetBytes(a[0]));
                break;
            }
            case "submit":
            {
                var a = ContractArgs.Strings(ctx, args, 3, "submit(round, updateSha256, epsilon)");
                var round = Load(ctx, a[0]);
                ctx.Require(round.Status == "open", $"round {a[0]} is closed");
                var me = ctx.Caller.Organisation;
                ctx.Require(round.Participants.Contains(me), $"{me} is not a participant of round {a[0]}");
                ctx.Require(!round.Updates.ContainsKey(me), $"{me} already submitted to round {a[0]}");
                ContractArgs.Sha256(ctx, a[1], "updateSha256");
                var epsilon = ContractArgs.Decimal(ctx, a[2], "epsilon");
                var budget = decimal.Parse(Encoding.UTF8.GetString(ctx.Get($"budget/{round.Dataset}")!), System.Globalization.CultureInfo.InvariantCulture);
                var spent = Spent(ctx, round.Dataset) + epsilon;
                ctx.Require(spent <= budget, $"dataset {round.Dataset}: epsilon {ContractArgs.Text(spent)} would exceed its budget {ContractArgs.Text(budget)}");
                ctx.Put($"spent/{round.Dataset}", Encoding.UTF8.GetBytes(ContractArgs.Text(spent)));
                round.Updates[me] = a[1];
                round.Epsilon[me] = epsilon;
                Save(ctx, round);
                break;
            }
            case "close":
            {
                var a = ContractArgs.Strings(ctx, args, 2, "close(round, aggregateSha256)");
                var round = Load(ctx, a[0]);
                ctx.Require(round.Coordinator == ctx.Caller.Organisation, "only the round's coordinator closes it");
                ctx.Require(round.Status == "open", $"round {a[0]} is closed");
                ctx.Require(round.Updates.Count >= 2, "a round closes with at least 2 updates");
                ContractArgs.Sha256(ctx, a[1], "aggregateSha256");
                Save(ctx, round with { AggregateSha256 = a[1], Status = "closed" });
                ctx.Emit("closed", Encoding.UTF8.GetBytes(a[0]));
                break;
            }
            default:
                throw new ContractException($"fl has no function '{function}' (budget, open, submit, close)");
        }
    }

    private static decimal Spent(ContractContext ctx, string dataset) =>
        ctx.Get($"spent/{dataset}") is { } v ? decimal.Parse(Encoding.UTF8.GetString(v), System.Globalization.CultureInfo.InvariantCulture) : 0m;

    private static FederatedRound Load(ContractContext ctx, string round)
    {
        var bytes = ctx.Get($"round/{round}");
        ctx.Require(bytes is not null, $"round {round} does not exist");
        return JsonSerializer.Deserialize<FederatedRound>(bytes!, ContractArgs.Json)!;
    }

    private static void Save(ContractContext ctx, FederatedRound round) =>
        ctx.Put($"round/{round.Round}", JsonSerializer.SerializeToUtf8Bytes(round, ContractArgs.Json));
}
