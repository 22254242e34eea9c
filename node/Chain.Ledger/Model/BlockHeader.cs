using Chain.Accel;
using Chain.Accel.Encoding;

namespace Chain.Ledger.Model;

/// <summary>
/// A block header. Encoding: tag 0x02, version 1, height u64, previous hash, transaction root,
/// executed height u64, state root (after executing blocks 1..executed height), proposer u16, view u64,
/// timestamp i64 (Unix milliseconds, chosen by the proposer, bounded by <see cref="BlockRules"/>),
/// transaction count u32. The block hash is SHA-256 of these 134 bytes.
/// <para>Why an executed height: consensus pipelines several blocks, so block h+1 is proposed before block h
/// is executed. The header commits to the latest state its proposer had executed; it must be below the
/// block's own height and never go back (the store checks both and the root itself).</para>
/// </summary>
public sealed record BlockHeader(
    ulong Height,
    Hash32 PreviousHash,
    Hash32 TxRoot,
    ulong ExecutedHeight,
    Hash32 StateRoot,
    ushort Proposer,
    ulong View,
    long Timestamp,
    uint TxCount)
{
    public const byte Tag = 0x02;
    public const byte FormatVersion = 1;
    public const int EncodedSize = 2 + 8 + 32 + 32 + 8 + 32 + 2 + 8 + 8 + 4;

    public byte[] Encode() => new CanonicalWriter(EncodedSize)
        .U8(Tag).U8(FormatVersion).U64(Height).Hash(PreviousHash).Hash(TxRoot).U64(ExecutedHeight).Hash(StateRoot)
        .U16(Proposer).U64(View).I64(Timestamp).U32(TxCount).ToArray();

    /// <summary>SHA-256 of the canonical header bytes.</summary>
    public Hash32 Hash() => Hash32.Sha256(Encode());

    public static BlockHeader Decode(ReadOnlySpan<byte> bytes) => DecodeException.Translate(bytes, DecodeCanonical);

    private static BlockHeader DecodeCanonical(ReadOnlySpan<byte> bytes)
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
            r.U64("header.executedHeight"), r.Hash("header.stateRoot"), r.U16("header.proposer"), r.U64("header.view"), r.I64("header.timestamp"),
            r.U32("header.txCount"));
        if (header.Height == 0) throw new DecodeException("header.height", "height 0 is the genesis, not a block");
        if (header.ExecutedHeight >= header.Height)
            throw new DecodeException("header.executedHeight", "must be below the block's height");
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
        if ((Int128)timestamp > (Int128)localNowMs + maxFutureDriftMs)
            return $"timestamp {timestamp} is more than {maxFutureDriftMs} ms ahead of local time {localNowMs}";
        return null;
    }
}
