namespace Chain.Consensus;

/// <summary>
/// Agreed facts about one committed block: who proposed it and in which view. They come from the block
/// itself (the host's validator decodes them from the payload), so every honest replica records the same.
/// </summary>
public readonly record struct BlockOrigin(SeqNo Seq, ReplicaId Proposer, View View)
{
    /// <summary>Replicas whose proven misbehaviour (evidence) this block records.</summary>
    public IReadOnlyList<ReplicaId> Penalised { get; init; } = [];
}

/// <summary>
/// Reputation-based primary order (DESIGN.md): a pure function of the block origins up to an anchor height.
/// Score = +1 per block proposed, −10 per view the replica led that ended in a view change (the proposer of
/// the last block before the view number jumps); a replica that ended a view is passed over (moved behind
/// every other replica) until <c>CoolOffViews</c> views after the jump; −50 per piece of evidence of its
/// misbehaviour that a committed block records. Ties break by replica id. Cooled
/// replicas are moved back rather than removed, so the rotation always reaches every live replica.
/// A replica that never proposes scores 0 and sits behind every productive one: it leads only after all
/// of them failed in a row.
/// </summary>
internal sealed class Reputation(int replicas, int window, int coolOffViews)
{
    private const int ProposalCredit = 1;
    private const int ViewChangePenalty = 10;
    private const int EvidencePenalty = 50;

    private readonly SortedDictionary<SeqNo, BlockOrigin> _origins = new();

    public int Count => _origins.Count;

    public void Record(BlockOrigin origin)
    {
        if (origin.Proposer.Value >= replicas) return;
        _origins[origin.Seq] = origin;
        while (_origins.Count > window * 2) _origins.Remove(_origins.Keys.First());
    }

    /// <summary>The schedule for views from <paramref name="target"/> on, computed from origins at or below <paramref name="anchor"/>.</summary>
    public PrimarySchedule Schedule(SeqNo anchor, View target)
    {
        var recent = _origins.Values.Where(o => o.Seq <= anchor).TakeLast(window).ToList();
        if (recent.Count == 0) return PrimarySchedule.RoundRobin(replicas);
        var score = new long[replicas];
        var cooledUntil = new ulong[replicas];
        for (var i = 0; i < recent.Count; i++)
        {
            score[recent[i].Proposer.Value] += ProposalCredit;
            foreach (var offender in recent[i].Penalised.Where(p => p.Value < replicas)) score[offender.Value] -= EvidencePenalty;
            if (i + 1 < recent.Count && recent[i + 1].View > recent[i].View)
            {
                var p = recent[i].Proposer.Value;
                score[p] -= ViewChangePenalty;
                cooledUntil[p] = Math.Max(cooledUntil[p], recent[i + 1].View.Value + (ulong)coolOffViews);
            }
        }
        var ranked = Enumerable.Range(0, replicas).OrderByDescending(r => score[r]).ThenBy(r => r).ToList();
        var order = ranked.Where(r => cooledUntil[r] < target.Value).Concat(ranked.Where(r => cooledUntil[r] >= target.Value));
        return new PrimarySchedule(order.Select(r => new ReplicaId((ushort)r)).ToArray(), recent[^1].View);
    }
}

/// <summary>Primary of view v = Order[(v − Base) mod |Order|] for v ≥ Base.</summary>
internal sealed record PrimarySchedule(IReadOnlyList<ReplicaId> Order, View Base)
{
    public static PrimarySchedule RoundRobin(int n) =>
        new(Enumerable.Range(0, n).Select(i => new ReplicaId((ushort)i)).ToArray(), new View(0));

    public ReplicaId PrimaryOf(View view) =>
        view >= Base ? Order[(int)((view.Value - Base.Value) % (ulong)Order.Count)] : Order[(int)(view.Value % (ulong)Order.Count)];
}
