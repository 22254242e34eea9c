using System.Text;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Node;

/// <summary>An event a contract emitted while executing a transaction.</summary>
public sealed record ContractEventRecord(string TxId, string Contract, string Name, byte[] Data);

/// <summary>
/// The built-in key-value contract ("kv"), the node's executor until the chaincode runtime lands:
/// <c>put(key, value)</c> and <c>delete(key)</c>. Deterministic: the writes and events are a function of the
/// transactions alone. Calls with the wrong arguments change nothing (they are still ordered and recorded).
/// </summary>
public static class KeyValueContract
{
    public const string Id = "kv";

    public static IReadOnlySet<string> Contracts { get; } = new HashSet<string> { Id };

    public static List<StateWrite> Execute(IEnumerable<Transaction> transactions, List<ContractEventRecord>? events = null)
    {
        var writes = new List<StateWrite>();
        foreach (var tx in transactions)
        {
            if (tx.Contract != Id) continue;
            if (tx.Function == "put" && tx.Args.Count == 2 && tx.Args[0].Length > 0)
            {
                writes.Add(new StateWrite(tx.Args[0].ToArray(), tx.Args[1].ToArray()));
                events?.Add(new ContractEventRecord(tx.Id.ToString(), Id, "put", tx.Args[0].ToArray()));
            }
            else if (tx.Function == "delete" && tx.Args.Count == 1 && tx.Args[0].Length > 0)
            {
                writes.Add(new StateWrite(tx.Args[0].ToArray(), null));
                events?.Add(new ContractEventRecord(tx.Id.ToString(), Id, "delete", tx.Args[0].ToArray()));
            }
        }
        return writes;
    }

    /// <summary>The events a block's execution emitted (a pure function of the block).</summary>
    public static List<ContractEventRecord> Events(Block block)
    {
        var events = new List<ContractEventRecord>();
        Execute(block.Transactions, events);
        return events;
    }

    internal static string Describe(byte[] key) => Encoding.UTF8.GetString(key);
}
