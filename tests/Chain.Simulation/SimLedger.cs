using Chain.Accel;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// One host's durable block store: committed entries in height order (entry i has height i+1), with an
/// index of their transactions. Survives crashes. Contiguity is checked on append.
/// </summary>
public sealed class SimLedger
{
    /// <summary>The digest at height 0 that every replica starts from.</summary>
    public static readonly Hash32 GenesisDigest = Hash32.Sha256("chain.sim.genesis"u8);

    private readonly List<CommittedEntry> _entries = [];
    private readonly Dictionary<TxId, ulong> _txHeights = [];

    public ulong Height => (ulong)_entries.Count;

    public Hash32 Digest => _entries.Count == 0 ? GenesisDigest : _entries[^1].Digest;

    public IReadOnlyList<CommittedEntry> Entries => _entries;

    public int TransactionCount => _txHeights.Count;

    /// <summary>The committed entry at <paramref name="height"/> (1-based).</summary>
    public CommittedEntry At(ulong height) => _entries[checked((int)height - 1)];

    public Hash32 DigestAt(ulong height) => height == 0 ? GenesisDigest : At(height).Digest;

    public bool Contains(TxId tx) => _txHeights.ContainsKey(tx);

    public bool TryGetHeight(TxId tx, out ulong height) => _txHeights.TryGetValue(tx, out height);

    /// <summary>
    /// Why <paramref name="entry"/> cannot follow the current tip (null if it can): heights must be contiguous
    /// and each entry's parent must be the previous digest.
    /// </summary>
    public string? ContiguityError(CommittedEntry entry)
    {
        if (entry.Seq.Value != Height + 1) return $"entry {entry.Seq} does not follow height {Height}";
        if (entry.Parent != Digest) return $"entry {entry.Seq} has parent {entry.Parent.Short}, tip is {Digest.Short}";
        return null;
    }

    /// <summary>
    /// Appends a contiguous entry and indexes its transactions. Returns the transactions that were already
    /// in the ledger (an integrity violation the checker reports); a malformed payload indexes nothing.
    /// </summary>
    public IReadOnlyList<TxId> Append(CommittedEntry entry, IReadOnlyList<SimTransaction> txs)
    {
        var error = ContiguityError(entry);
        if (error is not null) throw new InvalidOperationException(error);
        _entries.Add(entry);
        var duplicates = new List<TxId>();
        foreach (var tx in txs)
        {
            if (!_txHeights.TryAdd(tx.Id, entry.Seq.Value)) duplicates.Add(tx.Id);
        }
        return duplicates;
    }
}
