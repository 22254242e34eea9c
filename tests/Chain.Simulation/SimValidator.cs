using Chain.Accel;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// The simulator's <see cref="IProposalValidator"/>. A payload is valid at (seq, parent) when it decodes
/// strictly, names the same parent, every transaction comes from the client set with a valid client
/// signature, and no transaction repeats one in the payload, in a committed block below seq, or in a known
/// uncommitted ancestor. The digest is <c>SHA-256(seq ‖ parent ‖ payload)</c>.
/// <para>
/// Ancestors above the committed height are uncommitted, so the validator remembers every payload it accepted
/// (digest → seq, parent, transactions) and walks the parent chain through them. An ancestor it has not seen
/// (a reordered pre-prepare) ends the walk: the check is then as strong as the committed ledger allows, and
/// <see cref="UnknownAncestors"/> counts it. The host keeps this store across crashes (like its block store).
/// </para>
/// </summary>
public sealed class SimValidator(SimLedger ledger, int clients) : IProposalValidator
{
    private readonly record struct Known(ulong Seq, Hash32 Parent, TxId[] Txs);

    private readonly Dictionary<Hash32, Known> _known = [];

    public long Calls { get; private set; }

    /// <summary>Checks that ended their ancestor walk at a payload this host has not seen.</summary>
    public long UnknownAncestors { get; private set; }

    /// <summary>The digest of well-formed payload bytes, without judging the block (for already-accepted proposals).</summary>
    public ProposalCheck Describe(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload)
    {
        Calls++;
        if (!SimPayload.TryDecode(payload, out var named, out var txs) || named != parent) return ProposalCheck.Reject("malformed payload");
        var digest = SimPayload.Digest(seq.Value, parent, payload);
        Remember(digest, new Known(seq.Value, parent, [.. txs.Select(t => t.Id)])); // this host now holds the block
        return ProposalCheck.Accept(digest);
    }

    public ProposalCheck Check(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload)
    {
        Calls++;
        if (!SimPayload.TryDecode(payload, out var named, out var txs))
            return ProposalCheck.Reject("malformed payload");
        if (named != parent) return ProposalCheck.Reject("payload names another parent");
        var digest = SimPayload.Digest(seq.Value, parent, payload);
        if (seq.Value <= ledger.Height)
        {
            return ledger.DigestAt(seq.Value) == digest
                ? ProposalCheck.Accept(digest)
                : ProposalCheck.Reject("conflicts with a committed block");
        }
        if (seq.Value - 1 <= ledger.Height && ledger.DigestAt(seq.Value - 1) != parent)
            return ProposalCheck.Reject("parent is not on the committed chain");
        var reason = CheckTransactions(seq.Value, parent, txs);
        if (reason is not null) return ProposalCheck.Reject(reason);
        Remember(digest, new Known(seq.Value, parent, [.. txs.Select(t => t.Id)]));
        return ProposalCheck.Accept(digest);
    }

    private string? CheckTransactions(ulong seq, Hash32 parent, SimTransaction[] txs)
    {
        var seen = new HashSet<TxId>();
        var ancestors = AncestorTransactions(seq, parent);
        foreach (var tx in txs)
        {
            if (!tx.IsValid(clients)) return $"transaction {tx.Id} has a bad client signature";
            if (!seen.Add(tx.Id)) return $"transaction {tx.Id} appears twice";
            if (ledger.TryGetHeight(tx.Id, out var height) && height != seq) return $"transaction {tx.Id} is committed";
            if (ancestors.Contains(tx.Id)) return $"transaction {tx.Id} is in an ancestor";
        }
        return null;
    }

    /// <summary>
    /// What the primary's host must leave out of a proposal at <paramref name="seq"/> on <paramref name="parent"/>:
    /// the transactions of its uncommitted ancestors (they are in flight). If the walk meets an ancestor this host
    /// has not seen, it cannot tell which known proposals are on the chain, so it leaves out the transactions
    /// of every known proposal above the committed height (conservative: they return once those heights commit).
    /// </summary>
    public HashSet<TxId> InFlight(ulong seq, Hash32 parent)
    {
        var (ancestors, complete) = Walk(seq, parent);
        if (complete) return ancestors;
        foreach (var known in _known.Values.Where(k => k.Seq > ledger.Height)) ancestors.UnionWith(known.Txs);
        return ancestors;
    }

    private HashSet<TxId> AncestorTransactions(ulong seq, Hash32 parent)
    {
        var (ancestors, complete) = Walk(seq, parent);
        if (!complete) UnknownAncestors++;
        return ancestors;
    }

    private (HashSet<TxId> Txs, bool Complete) Walk(ulong seq, Hash32 parent)
    {
        var result = new HashSet<TxId>();
        var height = seq - 1;
        var digest = parent;
        while (height > ledger.Height)
        {
            if (!_known.TryGetValue(digest, out var known) || known.Seq != height) return (result, false);
            result.UnionWith(known.Txs);
            digest = known.Parent;
            height--;
        }
        return (result, true);
    }

    private void Remember(Hash32 digest, Known known)
    {
        _known[digest] = known;
        if (_known.Count < 512) return;
        foreach (var old in _known.Where(kv => kv.Value.Seq <= ledger.Height).Select(kv => kv.Key).ToList())
            _known.Remove(old);
    }
}
