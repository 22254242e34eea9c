using Chain.Chaincode.Contracts;
using static Chain.Client.Queries.ContractStateAccess;

namespace Chain.Client.Queries;

/// <summary>A dataset's privacy budget as the regulator set it, and the epsilon the consortium's rounds have spent.</summary>
public sealed record PrivacyBudget(string Dataset, decimal Budget, decimal Spent)
{
    public decimal Remaining => Budget - Spent;
}

/// <summary>Read-side queries over the federated-round registry ("fl/round/&lt;round&gt;", "fl/budget/&lt;dataset&gt;",
/// "fl/spent/&lt;dataset&gt;").</summary>
public sealed class RoundQueries(IStateReader reader)
{
    private const string Root = FederatedRoundContract.ContractId + "/";
    private const string RoundPrefix = Root + "round/";
    private const string BudgetPrefix = Root + "budget/";
    private const string SpentPrefix = Root + "spent/";

    private readonly IStateReader _reader = reader ?? throw new ArgumentNullException(nameof(reader));

    /// <summary>Every round, ordered by round name.</summary>
    public async Task<IReadOnlyList<FederatedRound>> ListRoundsAsync(CancellationToken cancellationToken = default)
    {
        var rounds = new List<FederatedRound>();
        await foreach (var (rawKey, value) in _reader.ScanAsync(Key(RoundPrefix), cancellationToken).ConfigureAwait(false))
        {
            var key = KeyText(rawKey);
            rounds.Add(Round(key, key[RoundPrefix.Length..], value));
        }
        return rounds;
    }

    /// <summary>One round, or null if no round of that name was opened.</summary>
    public async Task<FederatedRound?> GetRoundAsync(string round, CancellationToken cancellationToken = default)
    {
        RequireName(round, nameof(round), "round");
        var key = RoundPrefix + round;
        var value = await _reader.GetAsync(Key(key), cancellationToken).ConfigureAwait(false);
        return value is null ? null : Round(key, round, value);
    }

    /// <summary>Every dataset with a privacy budget, ordered by name, with what has been spent (0 if nothing yet).</summary>
    public async Task<IReadOnlyList<PrivacyBudget>> ListBudgetsAsync(CancellationToken cancellationToken = default)
    {
        var budgets = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        await foreach (var (rawKey, value) in _reader.ScanAsync(Key(BudgetPrefix), cancellationToken).ConfigureAwait(false))
        {
            var key = KeyText(rawKey);
            budgets[Dataset(key, BudgetPrefix)] = Decimal(key, value);
        }
        var spent = new Dictionary<string, decimal>(StringComparer.Ordinal);
        await foreach (var (rawKey, value) in _reader.ScanAsync(Key(SpentPrefix), cancellationToken).ConfigureAwait(false))
        {
            var key = KeyText(rawKey);
            var dataset = Dataset(key, SpentPrefix);
            if (!budgets.ContainsKey(dataset)) throw new InvalidDataException($"state {key} records spending on a dataset without a budget");
            spent[dataset] = Decimal(key, value);
        }
        return [.. budgets.Select(b => new PrivacyBudget(b.Key, b.Value, spent.GetValueOrDefault(b.Key)))];
    }

    private static string Dataset(string key, string prefix)
    {
        var dataset = key[prefix.Length..];
        return IsName(dataset) ? dataset : throw new InvalidDataException($"state key {key} does not name a dataset");
    }

    private static FederatedRound Round(string key, string name, byte[] value)
    {
        var round = Json<FederatedRound>(key, value);
        return round.Round == name ? round : throw new InvalidDataException($"state {key} holds the record of round {round.Round}");
    }
}
