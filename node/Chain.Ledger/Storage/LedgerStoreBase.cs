using System.Buffers.Binary;
using Chain.Accel;
using Chain.Accel.Offload;
using Chain.Ledger.Model;
using Chain.Ledger.State;

namespace Chain.Ledger.Storage;

/// <summary>The column families (RocksDB) or tables (in memory) of a ledger store.</summary>
public enum Column
{
    /// <summary>height (u64 BE) -> committed block bytes.</summary>
    Blocks,
    /// <summary>transaction id -> height (u64 BE) || index (u32 BE).</summary>
    TxIndex,
    /// <summary>state key -> version (u64 BE) || value.</summary>
    State,
    /// <summary>state tree position (33 bytes) -> tree node.</summary>
    StateTree,
    /// <summary>height (u64 BE) -> state root after executing blocks 1..height (0 -> the empty root).</summary>
    StateRoots,
    /// <summary>name (UTF-8) -> bytes: chain tip, genesis hash, state root, consensus metadata.</summary>
    Meta,
}

/// <summary>One put (value not null) or delete in an atomic write.</summary>
public readonly record struct StoreOp(Column Column, byte[] Key, byte[]? Value);

/// <summary>
/// The behaviour both stores share: validation, indexing, the state tree and the tip. Subclasses
/// supply three primitives over <see cref="Column"/>s: read, scan, and an atomic (optionally synced) write.
/// </summary>
public abstract class LedgerStoreBase : ILedgerStore
{
    private const string GenesisKey = "chain/genesis";
    private const string TipKey = "chain/tip";
    private const string StateRootKey = "chain/stateRoot";
    private const string AppMetaPrefix = "app/";

    private readonly object _commitLock = new();
    private volatile Tip _tip = new(0, Hash32.Zero, long.MinValue, 0, Hash32.Zero);

    private sealed record Tip(ulong Height, Hash32 Hash, long Timestamp, ulong ExecutedHeight, Hash32 StateRoot);

    protected LedgerStoreBase(LedgerLimits limits) => Limits = limits.Validate();

    private readonly ReaderWriterLockSlim _stateLock = new(LockRecursionPolicy.NoRecursion);

    public LedgerLimits Limits { get; }
    public Hash32 GenesisHash { get; private set; }
    public ulong Height => _tip.Height;
    public Hash32 TipHash => _tip.Hash;
    public Hash32 StateRoot => _tip.StateRoot;

    protected abstract byte[]? Read(Column column, ReadOnlySpan<byte> key);

    /// <summary>Entries whose key starts with <paramref name="prefix"/>, in key order; with <paramref name="startAfter"/>, only keys after it (a seek, not a skip).</summary>
    protected abstract IEnumerable<KeyValuePair<byte[], byte[]>> Scan(Column column, byte[] prefix, byte[]? startAfter = null);

    protected abstract void Write(IReadOnlyList<StoreOp> ops, bool sync);

    /// <summary>Binds a new store to a genesis, or checks an existing one belongs to it and loads its tip.</summary>
    protected void Initialise(Hash32 genesisHash, long genesisTimestamp)
    {
        var stored = Read(Column.Meta, Key(GenesisKey));
        if (stored is null)
        {
            if (Read(Column.Blocks, HeightKey(1)) is not null)
                throw Corrupt("blocks exist but the genesis hash is missing");
            Write([Meta(GenesisKey, genesisHash.ToArray()), Meta(TipKey, EncodeTip(0, genesisHash, genesisTimestamp, 0)),
                Meta(StateRootKey, Hash32.Zero.ToArray()), new StoreOp(Column.StateRoots, HeightKey(0), Hash32.Zero.ToArray())],
                sync: true);
            stored = genesisHash.ToArray();
        }
        if (stored.Length != Hash32.Size || Hash32.FromBytes(stored) != genesisHash)
            throw Corrupt("this data directory belongs to another chain (genesis hash differs)");
        GenesisHash = genesisHash;
        _tip = LoadTip();
    }

    /// <summary>For a read-only open: checks the genesis hash and reads the tip record, nothing more (the auditor's verifier checks the rest).</summary>
    protected void InitialiseReadOnly(Hash32 genesisHash)
    {
        var stored = Read(Column.Meta, Key(GenesisKey)) ?? throw Corrupt("not a ledger: the genesis hash record is missing");
        if (stored.Length != Hash32.Size || Hash32.FromBytes(stored) != genesisHash)
            throw Corrupt("this data directory belongs to another chain (genesis hash differs)");
        GenesisHash = genesisHash;
        _tip = LoadTip(check: false);
    }

    private Tip LoadTip(bool check = true)
    {
        var tip = Read(Column.Meta, Key(TipKey));
        var root = Read(Column.Meta, Key(StateRootKey));
        if (tip is not { Length: 56 } || root is not { Length: Hash32.Size }) throw Corrupt("tip or state root record is missing");
        var height = BinaryPrimitives.ReadUInt64BigEndian(tip);
        var hash = Hash32.FromBytes(tip.AsSpan(8, 32));
        var timestamp = BinaryPrimitives.ReadInt64BigEndian(tip.AsSpan(40));
        var executed = BinaryPrimitives.ReadUInt64BigEndian(tip.AsSpan(48));
        var stateRoot = Hash32.FromBytes(root);
        if (!check) return new Tip(height, hash, timestamp, executed, stateRoot);
        if (height > 0)
        {
            var block = GetBlock(height) ?? throw Corrupt($"tip block {height} is missing");
            if (block.Block.Hash != hash) throw Corrupt($"tip block {height} does not match the recorded tip hash");
        }
        if (Read(Column.Blocks, HeightKey(height + 1)) is not null) throw Corrupt($"a block exists above the tip {height}");
        if (SparseMerkleTree.Root(new NodeReader(this)) != stateRoot) throw Corrupt("state tree does not match the recorded root");
        if (GetStateRoot(height) != stateRoot) throw Corrupt($"state root of height {height} is not the recorded root");
        return new Tip(height, hash, timestamp, executed, stateRoot);
    }

    public CommittedBlock? GetBlock(ulong height)
    {
        var bytes = GetBlockBytes(height);
        return bytes is null ? null : CommittedBlock.Decode(bytes, Limits);
    }

    public byte[]? GetBlockBytes(ulong height) => height == 0 ? null : Read(Column.Blocks, HeightKey(height));

    public Hash32? GetStateRoot(ulong height)
    {
        var v = Read(Column.StateRoots, HeightKey(height));
        if (v is null) return null;
        return v.Length == Hash32.Size ? Hash32.FromBytes(v) : throw Corrupt($"state root of height {height} is malformed");
    }

    public TxLocation? GetTxLocation(Hash32 txId)
    {
        var v = Read(Column.TxIndex, txId.ToArray());
        if (v is null) return null;
        if (v.Length != 12) throw Corrupt($"transaction index entry for {txId.Short} is malformed");
        return new TxLocation(BinaryPrimitives.ReadUInt64BigEndian(v), checked((int)BinaryPrimitives.ReadUInt32BigEndian(v.AsSpan(8))));
    }

    public StateEntry? GetState(ReadOnlySpan<byte> key)
    {
        var v = Read(Column.State, key);
        return v is null ? null : DecodeEntry(v);
    }

    public IEnumerable<KeyValuePair<byte[], StateEntry>> ScanState(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> startAfter = default) =>
        Scan(Column.State, prefix.ToArray(), startAfter.IsEmpty ? null : startAfter.ToArray()).Select(kv => KeyValuePair.Create(kv.Key, DecodeEntry(kv.Value)));

    public StateProof ProveState(ReadOnlySpan<byte> key)
    {
        var keyHash = SparseMerkleTree.KeyHash(key);
        _stateLock.EnterReadLock();
        try
        {
            return SparseMerkleTree.Prove(new NodeReader(this), keyHash);
        }
        finally
        {
            _stateLock.ExitReadLock();
        }
    }

    public StateRead ReadState(ReadOnlySpan<byte> key)
    {
        var keyHash = SparseMerkleTree.KeyHash(key);
        _stateLock.EnterReadLock();
        try
        {
            var tip = _tip;
            return new StateRead(tip.Height, tip.StateRoot, GetState(key), SparseMerkleTree.Prove(new NodeReader(this), keyHash));
        }
        finally
        {
            _stateLock.ExitReadLock();
        }
    }

    public byte[]? GetMeta(string name) => Read(Column.Meta, Key(AppMetaPrefix + name));

    public void PutMeta(string name, ReadOnlySpan<byte> value) =>
        Write([Meta(AppMetaPrefix + name, value.ToArray())], sync: true);

    public void WriteMeta(IReadOnlyList<KeyValuePair<string, byte[]?>> records, bool sync = true)
    {
        if (records.Count == 0) return;
        Write([.. records.Select(r => new StoreOp(Column.Meta, Key(AppMetaPrefix + r.Key), r.Value))], sync);
    }

    public IEnumerable<KeyValuePair<string, byte[]>> ScanMeta(string prefix) =>
        Scan(Column.Meta, Key(AppMetaPrefix + prefix)).Select(kv =>
            KeyValuePair.Create(System.Text.Encoding.UTF8.GetString(kv.Key)[AppMetaPrefix.Length..], kv.Value));

    public Hash32 Commit(CommittedBlock committed, IReadOnlyList<StateWrite> writes)
    {
        lock (_commitLock)
        {
            var tip = _tip;
            var block = committed.Block;
            var height = tip.Height + 1;
            CheckExtends(committed, tip, height);
            var claimed = GetStateRoot(block.Header.ExecutedHeight);
            if (claimed != block.Header.StateRoot)
                throw new LedgerException(LedgerError.InvalidBlock,
                    $"block {height} claims state root {block.Header.StateRoot.Short} after height {block.Header.ExecutedHeight}, " +
                    $"which is {claimed?.Short ?? "unknown"}");
            var ops = new List<StoreOp>(block.Transactions.Count + writes.Count * 2 + 64)
            {
                new(Column.Blocks, HeightKey(height), committed.Encode()),
            };
            IndexTransactions(block, height, ops);
            var root = ApplyState(writes, height, ops);
            ops.Add(Meta(TipKey, EncodeTip(height, block.Hash, block.Header.Timestamp, block.Header.ExecutedHeight)));
            ops.Add(Meta(StateRootKey, root.ToArray()));
            ops.Add(new StoreOp(Column.StateRoots, HeightKey(height), root.ToArray()));
            // Readers of the state tree (proofs) hold the read side: they never see half of one commit's nodes.
            _stateLock.EnterWriteLock();
            try
            {
                Write(ops, sync: true);
                _tip = new Tip(height, block.Hash, block.Header.Timestamp, block.Header.ExecutedHeight, root);
            }
            finally
            {
                _stateLock.ExitWriteLock();
            }
            return root;
        }
    }

    private static void CheckExtends(CommittedBlock committed, Tip tip, ulong height)
    {
        var h = committed.Block.Header;
        static LedgerException Invalid(string why) => new(LedgerError.InvalidBlock, why);
        if (h.Height != height) throw Invalid($"block height {h.Height} does not follow the tip {tip.Height}");
        if (h.PreviousHash != tip.Hash) throw Invalid($"block {height} does not link to the tip {tip.Hash.Short}");
        if (h.ExecutedHeight >= height || h.ExecutedHeight < tip.ExecutedHeight)
            throw Invalid($"block {height} executed height {h.ExecutedHeight} is not in [{tip.ExecutedHeight}, {height - 1}]");
        if (h.Timestamp <= tip.Timestamp) throw Invalid($"block {height} timestamp is not after its parent's");
        var body = committed.Block.CheckBody();
        if (body is not null) throw Invalid($"block {height}: {body}");
        var cert = committed.Certificate;
        if (cert.BlockHash != committed.Block.Hash || cert.Height != height)
            throw new LedgerException(LedgerError.InvalidCertificate, $"certificate is not for block {height}");
    }

    private void IndexTransactions(Block block, ulong height, List<StoreOp> ops)
    {
        var seen = new HashSet<Hash32>();
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            var id = block.Transactions[i].Id;
            if (!seen.Add(id) || Read(Column.TxIndex, id.ToArray()) is not null)
                throw new LedgerException(LedgerError.DuplicateTransaction, $"transaction {id.Short} is already committed");
            var location = new byte[12];
            BinaryPrimitives.WriteUInt64BigEndian(location, height);
            BinaryPrimitives.WriteUInt32BigEndian(location.AsSpan(8), (uint)i);
            ops.Add(new StoreOp(Column.TxIndex, id.ToArray(), location));
        }
    }

    private Hash32 ApplyState(IReadOnlyList<StateWrite> writes, ulong height, List<StoreOp> ops)
    {
        // The last write to a key within a block wins.
        // Key hashes and value digests are hashed as batches on the process's accelerator.
        var keys = new ReadOnlyMemory<byte>[writes.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            var w = writes[i];
            if (w.Key.Length == 0 || w.Key.Length > Limits.MaxStateKeyBytes)
                throw new LedgerException(LedgerError.TooLarge, $"state key of {w.Key.Length} bytes (1-{Limits.MaxStateKeyBytes})");
            keys[i] = w.Key;
        }
        var keyHashes = new Hash32[keys.Length];
        Offloaded.Current.Sha256(keys, keyHashes, SparseMerkleTree.KeyTag);
        var final = new Dictionary<Hash32, StateWrite>();
        for (var i = 0; i < keyHashes.Length; i++) final[keyHashes[i]] = writes[i];
        var finalWrites = final.ToArray();
        var entries = new byte[finalWrites.Length][];
        var valued = new List<ReadOnlyMemory<byte>>(finalWrites.Length);
        for (var i = 0; i < finalWrites.Length; i++)
        {
            if (finalWrites[i].Value.Value is not { } value) continue; // a delete
            // The entry is version || value, exactly what the value digest hashes (SparseMerkleTree.ValueDigest).
            entries[i] = EncodeEntry(height, value);
            valued.Add(entries[i]);
        }
        var digests = new Hash32[valued.Count];
        Offloaded.Current.Sha256(valued, digests, SparseMerkleTree.ValueTag);
        var changes = new List<(Hash32 KeyHash, Hash32? ValueDigest)>(final.Count);
        var next = 0;
        for (var i = 0; i < finalWrites.Length; i++)
        {
            var (keyHash, w) = finalWrites[i];
            if (entries[i] is null)
            {
                ops.Add(new StoreOp(Column.State, w.Key, null));
                changes.Add((keyHash, null));
            }
            else
            {
                ops.Add(new StoreOp(Column.State, w.Key, entries[i]));
                changes.Add((keyHash, digests[next++]));
            }
        }
        var update = SparseMerkleTree.Update(new NodeReader(this), changes);
        foreach (var (position, node) in update.Changes) ops.Add(new StoreOp(Column.StateTree, position.Encode(), node?.Encode()));
        return update.Root;
    }

    private sealed class NodeReader(LedgerStoreBase store) : ITreeNodeReader
    {
        public TreeNode? Get(NodeKey key)
        {
            var bytes = store.Read(Column.StateTree, key.Encode());
            return bytes is null ? null : TreeNode.Decode(bytes);
        }
    }

    internal static byte[] HeightKey(ulong height)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(key, height);
        return key;
    }

    private static byte[] Key(string name) => System.Text.Encoding.UTF8.GetBytes(name);

    private static StoreOp Meta(string name, byte[] value) => new(Column.Meta, Key(name), value);

    private static byte[] EncodeTip(ulong height, Hash32 hash, long timestamp, ulong executedHeight)
    {
        var v = new byte[56];
        BinaryPrimitives.WriteUInt64BigEndian(v, height);
        hash.WriteTo(v.AsSpan(8));
        BinaryPrimitives.WriteInt64BigEndian(v.AsSpan(40), timestamp);
        BinaryPrimitives.WriteUInt64BigEndian(v.AsSpan(48), executedHeight);
        return v;
    }

    private static byte[] EncodeEntry(ulong version, byte[] value)
    {
        var v = new byte[8 + value.Length];
        BinaryPrimitives.WriteUInt64BigEndian(v, version);
        value.CopyTo(v, 8);
        return v;
    }

    private static StateEntry DecodeEntry(byte[] v) =>
        v.Length >= 8
            ? new StateEntry(v[8..], BinaryPrimitives.ReadUInt64BigEndian(v))
            : throw Corrupt("state entry is shorter than its version");

    protected static LedgerException Corrupt(string why) => new(LedgerError.StoreCorrupt, why);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _stateLock.Dispose();
    }
}
