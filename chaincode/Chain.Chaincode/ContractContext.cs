using Chain.Ledger;
using System.Text;
using Chain.Accel;

namespace Chain.Chaincode;

/// <summary>Read access to state as of the start of the transaction (committed state plus earlier transactions of the block).</summary>
public interface IStateView
{
    byte[]? Get(byte[] key);

    /// <summary>Entries whose key starts with <paramref name="prefix"/>, in byte order of the key.</summary>
    IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix);
}

/// <summary>
/// One transaction's window on the ledger. Keys are namespaced by contract ("&lt;contract&gt;/&lt;key&gt;"), so a
/// contract cannot touch another's state. Reads and writes are recorded (read set, write set); writes stay in this
/// context until the runtime commits them, so a failed transaction changes nothing. Every operation costs steps;
/// beyond the budget the transaction fails. Writes by an auditor are refused.
/// </summary>
public sealed class ContractContext
{
    private readonly IStateView _state;
    private readonly byte[] _namespace;
    private readonly SortedDictionary<byte[], byte[]?> _writes = new(ByteComparer.Instance);
    private readonly SortedSet<byte[]> _reads = new(ByteComparer.Instance);
    private readonly List<ContractEvent> _events = [];
    private readonly long _budget;

    internal ContractContext(IStateView state, BlockContext block, Caller caller, Hash32 txId, string contract, long budget)
    {
        _state = state;
        Block = block;
        Caller = caller;
        TxId = txId;
        Contract = contract;
        _namespace = Encoding.UTF8.GetBytes(contract + "/");
        _budget = budget;
    }

    public BlockContext Block { get; }
    public Caller Caller { get; }
    public Hash32 TxId { get; }
    public string Contract { get; }
    public long Steps { get; private set; }

    /// <summary>Full state keys written (null value: deleted), in key order.</summary>
    public IReadOnlyDictionary<byte[], byte[]?> Writes => _writes;

    /// <summary>Full state keys read.</summary>
    public IReadOnlyCollection<byte[]> Reads => _reads;

    public IReadOnlyList<ContractEvent> Events => _events;

    /// <summary>Counts <paramref name="steps"/> against the budget.</summary>
    public void Step(long steps = 1)
    {
        Steps += steps;
        if (Steps > _budget) throw new StepBudgetExceededException(_budget);
    }

    /// <summary>Refuses the transaction with <paramref name="message"/> unless <paramref name="condition"/> holds.</summary>
    public void Require(bool condition, string message)
    {
        if (!condition) throw new ContractException(message);
    }

    /// <summary>Refuses the transaction unless the caller's organisation may write (auditors may not).</summary>
    public void RequireWriter()
    {
        if (!Caller.MayWrite) throw new ContractException($"{Caller.Role.ToString().ToLowerInvariant()} '{Caller.Organisation}' has read-only access");
    }

    public byte[]? Get(string key) => Get(Encoding.UTF8.GetBytes(key));

    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        var full = Full(key);
        Step(1 + full.Length / 64);
        _reads.Add(full);
        if (_writes.TryGetValue(full, out var pending)) return pending;
        var value = _state.Get(full);
        if (value is not null) Step(value.Length / 256);
        return value;
    }

    public void Put(string key, ReadOnlySpan<byte> value) => Put(Encoding.UTF8.GetBytes(key), value);

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        RequireWriter();
        var full = Full(key);
        Step(2 + (full.Length + value.Length) / 64);
        _writes[full] = value.ToArray();
    }

    public void Delete(string key) => Delete(Encoding.UTF8.GetBytes(key));

    public void Delete(ReadOnlySpan<byte> key)
    {
        RequireWriter();
        var full = Full(key);
        Step(2);
        _writes[full] = null;
    }

    /// <summary>This contract's entries under <paramref name="prefix"/> (keys without the namespace), including this transaction's own writes.</summary>
    public IEnumerable<KeyValuePair<byte[], byte[]>> Scan(string prefix)
    {
        var full = Full(Encoding.UTF8.GetBytes(prefix));
        var merged = new SortedDictionary<byte[], byte[]?>(ByteComparer.Instance);
        foreach (var kv in _state.Scan(full))
        {
            Step(1 + kv.Value.Length / 256);
            merged[kv.Key] = kv.Value;
        }
        foreach (var kv in _writes.Where(w => w.Key.AsSpan().StartsWith(full))) merged[kv.Key] = kv.Value;
        foreach (var kv in merged)
        {
            if (kv.Value is null) continue;
            _reads.Add(kv.Key);
            yield return KeyValuePair.Create(kv.Key[_namespace.Length..], kv.Value);
        }
    }

    public void Emit(string name, ReadOnlySpan<byte> data)
    {
        Step(1 + data.Length / 256);
        _events.Add(new ContractEvent(TxId, Contract, name, data.ToArray()));
    }

    private byte[] Full(ReadOnlySpan<byte> key)
    {
        if (key.Length == 0) throw new ContractException("state keys must not be empty");
        if (key.Length > 512) throw new ContractException($"state key of {key.Length} bytes (at most 512)");
        return [.. _namespace, .. key];
    }
}
