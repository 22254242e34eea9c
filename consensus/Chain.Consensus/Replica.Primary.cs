using Chain.Accel;

namespace Chain.Consensus;

// Primary selection (DESIGN.md "Primary selection by reputation").
public sealed partial class Replica
{
    private readonly Reputation _reputation;

    /// <summary>The schedule in force: fixed while a view runs, recomputed when a view change starts.</summary>
    private PrimarySchedule _schedule;

    private ReplicaId PrimaryOf(View view) =>
        _options is { Mode: ProtocolMode.Linear, UseReputation: true }
            ? _schedule.PrimaryOf(view)
            : new((ushort)(view.Value % (ulong)_n));

    /// <summary>Linear mode: the schedule from the reputation at the stable checkpoint (agreed by every replica there).</summary>
    private PrimarySchedule ScheduleFor(View target) =>
        _options is { Mode: ProtocolMode.Linear, UseReputation: true } && _reputation.Count > 0
            ? _reputation.Schedule(_stable, target)
            : _schedule;

    private void RecordOrigin(SeqNo seq, Hash32 parent, byte[] payload)
    {
        var check = _validator.Describe(seq, parent, payload);
        if (check.Proposer is { } proposer && check.ProposedIn is { } view)
            _reputation.Record(new BlockOrigin(seq, proposer, view) { Penalised = check.Penalised });
    }
}
