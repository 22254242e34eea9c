using System.Globalization;
using System.Text;
using Chain.Accel.Encoding;

namespace Chain.Chaincode;

/// <summary>
/// The outcomes of a block's transactions, in block order, as the runtime stores them in state under
/// <see cref="Key"/>: <c>$results/&lt;height, 20 digits&gt;</c>. Contract ids are <c>[a-z0-9.-]</c>, so no contract can
/// write there. Being state, the results are covered by the state root that a later block's header carries and its
/// commit certificate signs, can be proven with a state proof, and are recomputed by anyone replaying the chain.
/// Encoding (ENCODING.md, tag 0x30): u32 count, then per transaction: id (32 bytes), success (bool), steps (u64),
/// error (string, empty on success), events (u32 count, then contract, name (strings) and data (bytes)).
/// </summary>
public static class BlockResults
{
    public const byte Tag = 0x30;
    public const byte FormatVersion = 1;
    public const string Prefix = "$results/";

    /// <summary>Bounds applied when decoding results read from a node or a copied store.</summary>
    public const int MaxTransactions = 100_000, MaxEvents = 100_000, MaxString = 64 * 1024, MaxData = 1 << 20;

    public static byte[] Key(ulong height) => Encoding.UTF8.GetBytes(Prefix + height.ToString("D20", CultureInfo.InvariantCulture));

    public static byte[] Encode(IReadOnlyList<TxOutcome> outcomes)
    {
        var w = new CanonicalWriter(64 + outcomes.Count * 64).U8(Tag).U8(FormatVersion).U32((uint)outcomes.Count);
        foreach (var o in outcomes)
        {
            w.Hash(o.TxId).Bool(o.Success).U64((ulong)o.Steps).String(o.Error ?? "").U32((uint)o.Events.Count);
            foreach (var e in o.Events) w.String(e.Contract).String(e.Name).Bytes(e.Data);
        }
        return w.ToArray();
    }

    /// <summary>Strict decode; throws <see cref="CanonicalDecodeException"/> (a <see cref="FormatException"/>) on anything else.</summary>
    public static IReadOnlyList<TxOutcome> Decode(ReadOnlySpan<byte> bytes)
    {
        var r = new CanonicalReader(bytes);
        r.Header(Tag, FormatVersion, "results");
        var count = r.Count(MaxTransactions, "results.count");
        var outcomes = new List<TxOutcome>(Math.Min(count, 4096));
        for (var i = 0; i < count; i++)
        {
            var id = r.Hash("results.tx");
            var success = r.Bool("results.success");
            var steps = r.U64("results.steps");
            var error = r.String(MaxString, "results.error");
            var eventCount = r.Count(MaxEvents, "results.events");
            var events = new List<ContractEvent>(Math.Min(eventCount, 1024));
            for (var j = 0; j < eventCount; j++)
                events.Add(new ContractEvent(id, r.String(MaxString, "results.event.contract"), r.String(MaxString, "results.event.name"),
                    r.Bytes(MaxData, "results.event.data").ToArray()));
            outcomes.Add(new TxOutcome(id, success, success ? null : error, (long)Math.Min(steps, long.MaxValue), events));
        }
        r.End("results");
        return outcomes;
    }
}
