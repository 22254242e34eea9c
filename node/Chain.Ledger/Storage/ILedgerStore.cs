using Chain.Accel;
using Chain.Ledger.Model;
using Chain.Ledger.State;

namespace Chain.Ledger.Storage;

/// <summary>A state entry: its value and the height of the block that last wrote it.</summary>
public sealed record StateEntry(byte[] Value, ulong Version);

/// <summary>Where a committed transaction is: block height and position in the block.</summary>
public readonly record struct TxLocation(ulong Height, int Index);

/// <summary>One state change produced by executing a block: a value to set, or null to delete the key.</summary>
public sealed record StateWrite(byte[] Key, byte[]? Value);

/// <summary>One consistent read of a state key: value (or null), its proof, and the height and root they are valid at.</summary>
public sealed record StateRead(ulong Height, Hash32 StateRoot, StateEntry? Entry, StateProof Proof);

/// <summary>
/// The ledger's storage port. Implemented on RocksDB (<see cref="RocksDbLedgerStore"/>) and in memory
/// (<see cref="InMemoryLedgerStore"/>) with the same behaviour.
/// <list type="number">
/// <item>Heights are contiguous from 1; height 0 is the genesis, whose hash is the previous hash of block 1.</item>
/// <item><see cref="Commit"/> stores a block, its certificate, its transaction index entries, its state
/// changes and the new state root in one synced atomic write: after a crash the block is wholly there or not.</item>
/// <item>Each block header carries the state root after executing blocks 1..its executed height (below its own
/// height, never decreasing); the store checks the claim against the root it recorded for that height.</item>
/// <item>Reads may run concurrently with one committing writer.</item>
/// </list>
/// </summary>
public interface ILedgerStore : IDisposable
{
    Hash32 GenesisHash { get; }

    /// <summary>Height of the last committed block (0 when only the genesis exists).</summary>
    ulong Height { get; }

    /// <summary>Hash of the block at <see cref="Height"/> (the genesis hash at 0).</summary>
    Hash32 TipHash { get; }

    /// <summary>The state root after executing every committed block.</summary>
    Hash32 StateRoot { get; }

    /// <summary>The state root after executing blocks 1..<paramref name="height"/> (height 0: the empty root).</summary>
    Hash32? GetStateRoot(ulong height);

    CommittedBlock? GetBlock(ulong height);

    /// <summary>The stored canonical bytes of the committed block at <paramref name="height"/>.</summary>
    byte[]? GetBlockBytes(ulong height);

    TxLocation? GetTxLocation(Hash32 txId);

    StateEntry? GetState(ReadOnlySpan<byte> key);

    /// <summary>Entries whose key starts with <paramref name="prefix"/>, in key order.</summary>
    IEnumerable<KeyValuePair<byte[], StateEntry>> ScanState(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> startAfter = default);

    /// <summary>
    /// A proof of the key's current value, or of its absence, against <see cref="StateRoot"/> (read it after the
    /// proof, or use <see cref="ReadState"/>: a commit may land in between).
    /// </summary>
    StateProof ProveState(ReadOnlySpan<byte> key);

    /// <summary>The key's value, its proof, and the height and state root they belong to, all from one committed state.</summary>
    StateRead ReadState(ReadOnlySpan<byte> key);

    /// <summary>
    /// Appends <paramref name="block"/> with the state changes of executing it, atomically and durably.
    /// Throws <see cref="LedgerException"/> (InvalidBlock, InvalidCertificate, DuplicateTransaction,
    /// TooLarge) and writes nothing when the block does not extend the chain. Returns the new state root.
    /// </summary>
    Hash32 Commit(CommittedBlock block, IReadOnlyList<StateWrite> writes);

    /// <summary>Consensus metadata (view, votes, checkpoints) by name; null when absent.</summary>
    byte[]? GetMeta(string name);

    /// <summary>Stores consensus metadata durably (synced) before returning.</summary>
    void PutMeta(string name, ReadOnlySpan<byte> value);

    /// <summary>
    /// Puts (value not null) and deletes (null) several metadata records in one atomic write, synced when
    /// <paramref name="sync"/> (one sync for the lot: the node's group commit of consensus records).
    /// </summary>
    void WriteMeta(IReadOnlyList<KeyValuePair<string, byte[]?>> records, bool sync = true);

    /// <summary>Metadata records whose name starts with <paramref name="prefix"/>, in name order.</summary>
    IEnumerable<KeyValuePair<string, byte[]>> ScanMeta(string prefix);
}
