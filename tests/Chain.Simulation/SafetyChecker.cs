using Chain.Accel;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// The invariants of DESIGN.md, checked by the simulation after every step (only honest instances are checked):
/// <list type="bullet">
/// <item><b>Agreement</b> (I1): no two honest replicas commit different digests at one height.</item>
/// <item><b>Certificates</b> (I4): every committed entry carries q valid commit votes or n valid prepare votes.</item>
/// <item><b>Integrity</b>: no transaction twice in one honest ledger; every committed transaction was submitted
/// by a client of the client set, with a valid client signature; every committed payload decodes.</item>
/// <item><b>Contiguity</b>: ledgers grow one height at a time on the previous digest (checked by the host).</item>
/// <item><b>Bounded memory</b> (I5): <see cref="Status.LogSize"/> ≤ W + K + <see cref="LogSizeSlack"/>, and the
/// high watermark is at most W above the stable checkpoint.</item>
/// </list>
/// Liveness is checked at the end of a run by <see cref="CheckLiveness"/>.
/// </summary>
internal sealed class SafetyChecker(Scenario scenario, Func<string, SimulationViolation> violation)
{
    /// <summary>
    /// Slack over W + K for <see cref="Status.LogSize"/>: the log holds heights in (stable, stable + W], and may
    /// still hold up to K heights below a checkpoint that is certified but not yet applied (the window slides
    /// when the checkpoint becomes stable), plus at most 4 entries outside the height window: the current view
    /// change or new view being assembled, a pending checkpoint and a proposal waiting for its parent.
    /// </summary>
    public const int LogSizeSlack = 4;

    private readonly FakeVerifier _verifier = new(scenario.N);
    private readonly Dictionary<ulong, (Hash32 Digest, ReplicaId Replica)> _decided = [];
    private readonly Dictionary<TxId, long> _submitted = [];

    public int LogBound => scenario.Options.Window + scenario.Options.CheckpointInterval + LogSizeSlack;

    public IReadOnlyDictionary<TxId, long> Submitted => _submitted;

    public void OnSubmitted(SimTransaction tx, long now) => _submitted[tx.Id] = now;

    public void OnCommitted(ReplicaHost host, CommittedEntry entry, SimTransaction[]? txs,
        IReadOnlyList<TxId> duplicates)
    {
        if (!host.IsHonest) return;
        var height = entry.Seq.Value;
        if (_decided.TryGetValue(height, out var first))
        {
            if (first.Digest != entry.Digest)
            {
                throw violation($"agreement broken at height {height}: {first.Replica} has {first.Digest.Short}.., " +
                                $"{host.Id} has {entry.Digest.Short}..");
            }
        }
        else
        {
            _decided[height] = (entry.Digest, host.Id);
        }
        var problem = Certificates.Problem(entry, _verifier, scenario.N);
        if (problem is not null) throw violation($"certificate of {host.Id}'s block {entry.Seq} is invalid: {problem}");
        CheckIntegrity(host, entry, txs, duplicates);
    }

    private void CheckIntegrity(ReplicaHost host, CommittedEntry entry, SimTransaction[]? txs,
        IReadOnlyList<TxId> duplicates)
    {
        if (txs is null) throw violation($"integrity: {host.Id} committed an undecodable payload at {entry.Seq}");
        if (duplicates.Count > 0)
        {
            throw violation($"integrity: {host.Id} committed {duplicates[0]} twice " +
                            $"(again at {entry.Seq}, {duplicates.Count} duplicate(s))");
        }
        foreach (var tx in txs)
        {
            if (!tx.IsValid(scenario.Clients))
                throw violation($"integrity: {host.Id} committed forged transaction {tx.Id}");
            if (!_submitted.ContainsKey(tx.Id)) throw violation($"integrity: {host.Id} committed unsubmitted {tx.Id}");
        }
    }

    public void OnStatus(ReplicaHost host, Status status)
    {
        if (!host.IsHonest) return;
        if (status.LogSize > LogBound)
        {
            var o = scenario.Options;
            throw violation($"bounded memory: {host.Id} holds {status.LogSize} log entries, bound is {LogBound} " +
                            $"(W={o.Window} + K={o.CheckpointInterval} + {LogSizeSlack})");
        }
        if (status.HighWatermark.Value > status.StableCheckpoint.Value + (ulong)scenario.Options.Window)
        {
            throw violation($"bounded memory: {host.Id} high watermark {status.HighWatermark} is more than " +
                            $"W={scenario.Options.Window} above its stable checkpoint {status.StableCheckpoint}");
        }
    }

    /// <summary>
    /// True when every transaction was submitted and every honest replica that is up has committed all of them and
    /// is not in a view change.
    /// </summary>
    public bool Settled(IEnumerable<ReplicaHost> hosts) =>
        _submitted.Count == scenario.Transactions &&
        hosts.Where(h => h.IsHonest && h.IsUp).All(h => LivenessProblem(h) is null);

    /// <summary>
    /// Liveness at the end of a run: every honest replica that is up committed every submitted transaction, and
    /// view changes terminated: a quorum of honest replicas that are up shares one installed view. A replica may
    /// still wait in a view change only for a view above that one: it asked for a higher view alone, and by PBFT's
    /// rule it never returns to a lower view (its report would go stale); it keeps its ledger current through
    /// state transfer and rejoins at the cluster's next view change.
    /// </summary>
    public void CheckLiveness(IEnumerable<ReplicaHost> hosts)
    {
        if (_submitted.Count < scenario.Transactions)
        {
            throw violation(
                $"liveness: only {_submitted.Count}/{scenario.Transactions} transactions were submitted by the end");
        }
        var live = hosts.Where(h => h.IsHonest && h.IsUp).ToList();
        foreach (var host in live)
        {
            var problem = LivenessProblem(host);
            if (problem is not null) throw violation("liveness: " + problem);
        }
        // View changes terminated: no honest replica is still in a view change, except one waiting for a view above
        // every installed view (it asked for a higher view alone; PBFT never returns it to a lower one; new work
        // brings the others up). Replicas idle in different installed views are not stuck: the next work, or any
        // message of a higher view, moves the lower ones up.
        var installed = live.Where(h => h.Status is { InViewChange: false }).Select(h => h.Status!.View).DefaultIfEmpty().Max();
        foreach (var waiting in live.Where(h => h.Status is { InViewChange: true } && h.Status.View <= installed))
            throw violation($"liveness: {waiting.Id} is still in a view change to {waiting.Status!.View}, not above the installed {installed}");
        if (live.Count > 0 && live.All(h => h.Status is { InViewChange: true }))
            throw violation("liveness: every honest replica is in a view change; view changes must terminate");
    }

    private string? LivenessProblem(ReplicaHost host)
    {
        var missing = _submitted.Keys.Where(tx => !host.Ledger.Contains(tx)).ToList();
        if (missing.Count > 0)
        {
            return $"{host.Id} committed {_submitted.Count - missing.Count}/{_submitted.Count} transactions " +
                   $"(height {host.Ledger.Height}; missing {string.Join(", ", missing.Take(5))}" +
                   $"{(missing.Count > 5 ? ", ..." : "")}); status: {Describe(host.Status)}";
        }
        return null;
    }

    private static string Describe(Status? s) => s is null
        ? "none"
        : $"view {s.View} primary {s.Primary} inViewChange={s.InViewChange} committed {s.Committed} " +
          $"stable {s.StableCheckpoint} next {s.NextProposal?.ToString() ?? "-"}";
}
