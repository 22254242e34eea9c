using Chain.Chaincode;
using Chain.Ledger.Storage;

namespace Chain.Node;

/// <summary>
/// Transaction outcomes by block height: the driver hands over each block's results as it commits them, so
/// Submit-and-wait and Subscribe do not decode them again; older heights are decoded from the results the runtime
/// stored in state (<see cref="BlockResults"/>). Keeps the last <see cref="Capacity"/> blocks.
/// </summary>
internal sealed class Outcomes(ILedgerStore store)
{
    public const int Capacity = 64;
    private readonly Dictionary<ulong, IReadOnlyList<TxOutcome>> _recent = [];
    private readonly Queue<ulong> _order = new();
    private readonly Lock _lock = new();

    public void Add(ulong height, IReadOnlyList<TxOutcome> outcomes)
    {
        lock (_lock)
        {
            if (!_recent.TryAdd(height, outcomes)) return;
            _order.Enqueue(height);
            while (_order.Count > Capacity) _recent.Remove(_order.Dequeue());
        }
    }

    /// <summary>The outcomes of the block at <paramref name="height"/>, in block order; empty if none are stored.</summary>
    public IReadOnlyList<TxOutcome> Of(ulong height)
    {
        lock (_lock)
        {
            if (_recent.TryGetValue(height, out var hit)) return hit;
        }
        var bytes = store.GetState(BlockResults.Key(height))?.Value;
        if (bytes is null) return [];
        var decoded = BlockResults.Decode(bytes);
        Add(height, decoded);
        return decoded;
    }

    /// <summary>The outcome of the transaction at <paramref name="index"/> of block <paramref name="height"/>, if stored.</summary>
    public TxOutcome? Of(ulong height, int index)
    {
        var all = Of(height);
        return index >= 0 && index < all.Count ? all[index] : null;
    }
}
