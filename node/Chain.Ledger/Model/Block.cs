using System.Collections.ObjectModel;
using Chain.Accel;
using Chain.Accel.Encoding;
using Chain.Accel.Offload;
using Chain.Ledger.Merkle;

namespace Chain.Ledger.Model;

/// <summary>
/// A block: header and the ordered transactions. Encoding: tag 0x03, version 1, the header (126 bytes),
/// u32 transaction count, then each transaction length-prefixed. <see cref="Decode"/> checks that the
/// header's transaction root and count match the body.
/// </summary>
public sealed class Block
{
    public const byte Tag = 0x03;
    public const byte FormatVersion = 1;

    private Hash32[]? _leaves;

    public Block(BlockHeader header, IReadOnlyList<Transaction> transactions)
    {
        Header = header;
        Transactions = new ReadOnlyCollection<Transaction>(transactions.ToArray());
        Hash = header.Hash();
    }

    public BlockHeader Header { get; }
    public IReadOnlyList<Transaction> Transactions { get; }

    /// <summary>The block hash (the header's hash).</summary>
    public Hash32 Hash { get; }

    public ulong Height => Header.Height;

    /// <summary>Builds a block whose header commits to <paramref name="transactions"/>.</summary>
    public static Block Create(ulong height, Hash32 previousHash, ulong executedHeight, Hash32 stateRoot, ushort proposer,
        ulong view, long timestamp, IReadOnlyList<Transaction> transactions)
    {
        var header = new BlockHeader(height, previousHash, ComputeTxRoot(transactions), executedHeight, stateRoot, proposer,
            view, timestamp, (uint)transactions.Count);
        return new Block(header, transactions);
    }

    /// <summary>
    /// The Merkle leaf of each transaction: over its whole canonical bytes, signature included. Hashed as one batch on
    /// the process's accelerator (<see cref="Offloaded.Current"/>).
    /// </summary>
    public static Hash32[] LeafHashes(IReadOnlyList<Transaction> transactions)
    {
        var encoded = new ReadOnlyMemory<byte>[transactions.Count];
        for (var i = 0; i < encoded.Length; i++) encoded[i] = transactions[i].EncodedMemory;
        var leaves = new Hash32[encoded.Length];
        Offloaded.Current.Sha256(encoded, leaves, MerkleTree.LeafTag);
        return leaves;
    }

    public static Hash32 ComputeTxRoot(IReadOnlyList<Transaction> transactions) => MerkleTree.Root(LeafHashes(transactions));

    /// <summary>The leaf hashes of this block's transactions (computed once).</summary>
    private Hash32[] Leaves => _leaves ??= LeafHashes(Transactions);

    /// <summary>The inclusion proof of the transaction at <paramref name="index"/>.</summary>
    public MerkleProof ProveTransaction(int index) => MerkleTree.Prove(Leaves, index);

    /// <summary>Null when the header's root and count match the body, else the reason.</summary>
    public string? CheckBody()
    {
        if (Header.TxCount != Transactions.Count)
            return $"header says {Header.TxCount} transactions, body has {Transactions.Count}";
        var root = MerkleTree.Root(Leaves);
        return root == Header.TxRoot ? null : $"transaction root {root.Short} does not match header {Header.TxRoot.Short}";
    }

    public byte[] Encode()
    {
        var size = BlockHeader.EncodedSize + 8 + Transactions.Sum(t => t.Encoded.Length + 4);
        var w = new CanonicalWriter(size).U8(Tag).U8(FormatVersion);
        Write(w);
        return w.ToArray();
    }

    internal void Write(CanonicalWriter w)
    {
        w.Fixed(Header.Encode()).U32((uint)Transactions.Count);
        foreach (var tx in Transactions) w.Bytes(tx.Encoded);
    }

    public static Block Decode(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null) => DecodeException.Translate(bytes, b => DecodeCanonical(b, limits));

    private static Block DecodeCanonical(ReadOnlySpan<byte> bytes, LedgerLimits? limits = null)
    {
        limits ??= LedgerLimits.Default;
        if (bytes.Length > limits.MaxBlockBytes)
            throw new DecodeException("block", $"{bytes.Length} bytes, limit {limits.MaxBlockBytes}", LedgerError.TooLarge);
        var r = new CanonicalReader(bytes);
        r.Header(Tag, FormatVersion, "block");
        var block = Read(ref r, limits);
        r.End("block");
        return block;
    }

    internal static Block Read(ref CanonicalReader r, LedgerLimits limits)
    {
        var header = BlockHeader.Read(ref r);
        var count = r.Count(limits.MaxTransactionsPerBlock, "block.transactions");
        var encoded = new byte[count][];
        for (var i = 0; i < count; i++) encoded[i] = r.Bytes(limits.MaxTransactionBytes, "block.transaction").ToArray();
        var block = new Block(header, Transaction.DecodeBatch(encoded, limits));
        var problem = block.CheckBody();
        if (problem is not null) throw new DecodeException("block.body", problem, LedgerError.InvalidBlock);
        return block;
    }

    public override string ToString() => $"block {Height} {Hash.Short} ({Transactions.Count} tx)";
}
