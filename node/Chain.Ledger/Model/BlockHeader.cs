using Chain.Ledger.Crypto;
using Chain.Ledger.Encoding;

namespace Chain.Ledger.Model;

/// <summary>
/// A block header. Encoding: tag 0x02, version 1, height u64, previous hash, transaction root,
/// state root (after executing every block before this one), proposer u16, view u64, timestamp i64
/// (Unix milliseconds, chosen by the proposer, bounded by <see cref="BlockRules"/>), transaction count u32.
/// The block hash is SHA-256 of these 126 bytes.
/// </summary>
public sealed record BlockHeader(
    ulong Height,
    Hash32 PreviousHash,
    Hash32 TxRoot,
    Hash32 StateRoot,
    ushort Proposer,
    ulong View,
    long Timestamp,
    uint TxCount)
{
    public const byte Tag = 0x02;
    public const byte FormatVersion = 1;
    public const int EncodedSize = 2 + 8 + 32 * 3 + 2 + 8 + 8 + 4;

    public byte[] Encode() => new CanonicalWriter(EncodedSize)
        .U8(Tag).U8(FormatVersion).U64(Height).Hash(PreviousHash).Hash(TxRoot).Hash(StateRoot)
        .U16(Proposer).U64(View).I64(Timestamp).U32(TxCount).ToArray();

    /// <summary>SHA-256 of the canonical header bytes.</summary>
    public Hash32 Hash() => Hash32.Sha256(Encode());

    public static BlockHeader Decode(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        var header = Read(ref r);
        r.End("header");
        return header;
    }

    internal static BlockHeader Read(ref CanonicalReader r)
    {
        r.Header(Tag, FormatVersion, "header");
        var header = new BlockHeader(r.U64("header.height"), r.Hash("header.previousHash"), r.Hash("header.txRoot"),
            r.Hash("header.stateRoot"), r.U16("header.proposer"), r.U64("header.view"), r.I64("header.timestamp"),
            r.U32("header.txCount"));
        if (header.Height == 0) throw new DecodeException("header.height", "height 0 is the genesis, not a block");
        return header;
    }
}

/// <summary>Protocol rules on block headers that need no storage.</summary>
public static class BlockRules
{
    /// <summary>
    /// A proposer's timestamp must be strictly after its parent's and at most
    /// <paramref name="maxFutureDriftMs"/> ahead of the checking replica's clock (passed in, never read here).
    /// Returns null when valid, else the reason.
    /// </summary>
    public static string? CheckTimestamp(long parentTimestamp, long timestamp, long localNowMs, long maxFutureDriftMs)
    {
        if (timestamp <= parentTimestamp) return $"timestamp {timestamp} is not after the parent's {parentTimestamp}";
        if (timestamp > localNowMs + maxFutureDriftMs)
            return $"timestamp {timestamp} is more than {maxFutureDriftMs} ms ahead of local time {localNowMs}";
        return null;
    }
}
