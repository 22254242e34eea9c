using Chain.Ledger;
using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Chaincode;

/// <summary>What one transaction did: success, or the failure message (its writes were discarded).</summary>
public sealed record TxOutcome(Hash32 TxId, bool Success, string? Error, long Steps, IReadOnlyList<ContractEvent> Events);

/// <summary>
/// The result of executing a block: the contracts' state changes, each transaction's outcome, and
/// <see cref="Writes"/>, everything to store with the block (the contracts' changes plus the encoded outcomes).
/// </summary>
public sealed record BlockExecution(IReadOnlyList<StateWrite> ContractWrites, IReadOnlyList<TxOutcome> Outcomes, StateWrite Results)
{
    public IReadOnlyList<StateWrite> Writes { get; } = [.. ContractWrites, Results];

    public IEnumerable<ContractEvent> Events => Outcomes.SelectMany(o => o.Events);
}

/// <summary>
/// Executes a block's transactions in order through their contracts. Deterministic: the output is a function of
/// the block, the state before it, the genesis and the registered contracts. Each transaction runs against the state
/// left by the ones before it; a transaction whose contract refuses (<see cref="ContractException"/>), exceeds its
/// step budget, names an unknown contract or function, or is signed by a key the genesis does not list is recorded as
/// failed and changes nothing. Any other exception from a contract is a bug in it: the transaction fails too, with the
/// exception's type, so one faulty contract cannot stop the chain (and every node fails it the same way).
/// The outcomes and events are stored in state with the block's writes (<see cref="BlockResults"/>).
/// </summary>
public sealed class ChaincodeRuntime(ContractRegistry registry, Genesis genesis, long stepBudget = 100_000)
{
    public ContractRegistry Registry => registry;

    public BlockExecution Execute(Block block, IStateView committed)
    {
        var context = new BlockContext(genesis.ChainId, block.Height, block.Header.Timestamp);
        var overlay = new Overlay(committed);
        var outcomes = new List<TxOutcome>(block.Transactions.Count);
        foreach (var tx in block.Transactions) outcomes.Add(ExecuteOne(tx, context, overlay));
        return new BlockExecution(overlay.Writes(), outcomes, new StateWrite(BlockResults.Key(block.Height), BlockResults.Encode(outcomes)));
    }

    private TxOutcome ExecuteOne(Transaction tx, BlockContext block, Overlay state)
    {
        if (!genesis.TryGetMember(tx.Sender, out var member))
            return Failed(tx, 0, $"sender {tx.Sender.Raw.Short} is not in the genesis");
        if (!registry.TryGet(tx.Contract, out var contract))
            return Failed(tx, 0, $"contract '{tx.Contract}' is not registered");
        var caller = new Caller(tx.Sender, member.Organisation.Id, member.Role, member.Name, member.IsNode);
        var ctx = new ContractContext(state, block, caller, tx.Id, contract.Id, stepBudget);
        try
        {
            contract.Invoke(ctx, tx.Function, tx.Args);
        }
        catch (ContractException e)
        {
            return Failed(tx, ctx.Steps, e.Message);
        }
#pragma warning disable CA1031 // A faulty contract fails its transaction, never the node.
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException))
#pragma warning restore CA1031
        {
            return Failed(tx, ctx.Steps, $"contract '{contract.Id}' failed: {e.GetType().Name}");
        }
        state.Apply(ctx.Writes);
        return new TxOutcome(tx.Id, true, null, ctx.Steps, ctx.Events);
    }

    private static TxOutcome Failed(Transaction tx, long steps, string error) => new(tx.Id, false, error, steps, []);

    /// <summary>Committed state plus the writes of the block's successful transactions so far.</summary>
    private sealed class Overlay(IStateView committed) : IStateView
    {
        private readonly SortedDictionary<byte[], byte[]?> _writes = new(ByteComparer.Instance);

        public byte[]? Get(byte[] key) => _writes.TryGetValue(key, out var v) ? v : committed.Get(key);

        public IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix)
        {
            var merged = new SortedDictionary<byte[], byte[]?>(ByteComparer.Instance);
            foreach (var kv in committed.Scan(prefix)) merged[kv.Key] = kv.Value;
            foreach (var kv in _writes.Where(w => w.Key.AsSpan().StartsWith(prefix))) merged[kv.Key] = kv.Value;
            return merged.Where(kv => kv.Value is not null).Select(kv => KeyValuePair.Create(kv.Key, kv.Value!));
        }

        public void Apply(IReadOnlyDictionary<byte[], byte[]?> writes)
        {
            foreach (var (k, v) in writes) _writes[k] = v;
        }

        public List<StateWrite> Writes() => [.. _writes.Select(kv => new StateWrite(kv.Key, kv.Value))];
    }
}

/// <summary>The ledger store's current state as an <see cref="IStateView"/>.</summary>
public sealed class StoreStateView(ILedgerStore store) : IStateView
{
    public byte[]? Get(byte[] key) => store.GetState(key)?.Value;

    public IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix) =>
        store.ScanState(prefix).Select(kv => KeyValuePair.Create(kv.Key, kv.Value.Value));
}
