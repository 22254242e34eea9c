using Chain.Accel;
using Chain.Ledger.Identity;

namespace Chain.Chaincode;

/// <summary>What a contract may know about the block it runs in. Passed in: contracts read no clock.</summary>
public sealed record BlockContext(string ChainId, ulong Height, long Timestamp);

/// <summary>Who signed the transaction: their key, organisation and role from the genesis.</summary>
public sealed record Caller(PublicKey Key, string Organisation, Role Role, string Name, bool IsNode)
{
    public bool MayWrite => Role != Role.Auditor;
}

/// <summary>An event a transaction emitted (streamed to subscribers with its block).</summary>
public sealed record ContractEvent(Hash32 TxId, string Contract, string Name, byte[] Data);

/// <summary>
/// A contract's refusal: the transaction is recorded as failed with <see cref="Exception.Message"/> and changes nothing.
/// Contracts throw it (usually through <see cref="ContractContext.Require"/>) for wrong roles, malformed arguments and
/// broken rules.
/// </summary>
public class ContractException(string message) : Exception(message);

/// <summary>The transaction used more than its step budget.</summary>
public sealed class StepBudgetExceededException(long budget) : ContractException($"step budget of {budget} exceeded");

/// <summary>
/// A deterministic contract. <see cref="Invoke"/> may read and write state only through the context, must not keep
/// state of its own between calls, and must be a function of the context's block, caller, state and the arguments.
/// </summary>
public interface IContract
{
    /// <summary>Registered id ([a-z0-9.-], as named in transactions).</summary>
    string Id { get; }

    /// <summary>Version of the contract's rules (a new version is a new registration).</summary>
    int Version { get; }

    void Invoke(ContractContext context, string function, IReadOnlyList<ReadOnlyMemory<byte>> args);
}

/// <summary>The contracts a node runs, by id. Every node of a chain must register the same set.</summary>
public sealed class ContractRegistry
{
    private readonly Dictionary<string, IContract> _byId = new(StringComparer.Ordinal);

    public ContractRegistry Register(IContract contract)
    {
        if (string.IsNullOrEmpty(contract.Id) || contract.Id.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')))
            throw new ArgumentException($"contract id '{contract.Id}' must be [a-z0-9.-]+", nameof(contract));
        if (!_byId.TryAdd(contract.Id, contract)) throw new ArgumentException($"contract '{contract.Id}' is registered twice", nameof(contract));
        return this;
    }

    public bool TryGet(string id, out IContract contract) => _byId.TryGetValue(id, out contract!);

    public IReadOnlySet<string> Ids => _byId.Keys.ToHashSet(StringComparer.Ordinal);
}
