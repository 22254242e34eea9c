using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// The simulated network between instances. Routing: a message for replica id t goes to t's instance; with
/// twins, an instance on side A (B) reaches only side-A (side-B) instances of twinned ids, and a twin instance
/// reaches only instances on its own side. Faults (drop, duplicate, reorder delay) are drawn from the
/// simulation's seeded <see cref="Random"/> when the message is sent; partitions and crashed receivers are
/// checked when it arrives.
/// </summary>
internal sealed class Network(Scenario scenario, IReadOnlyList<ReplicaHost> hosts, Random random, EventQueue queue,
    RunMetrics metrics)
{
    private readonly HashSet<ReplicaId> _twinned =
        [.. scenario.Byzantine.Where(b => b.Kind == ByzantineKind.Twins).Select(b => b.Replica)];

    /// <summary>
    /// Schedules the deliveries of <paramref name="envelope"/>, sent by <paramref name="from"/> at
    /// <paramref name="now"/>.
    /// </summary>
    public void Send(ReplicaHost from, Envelope envelope, long now)
    {
        foreach (var to in Recipients(from, envelope.To))
        {
            metrics.CountSend(envelope.Kind, envelope.Bytes.Length);
            var stable = now >= scenario.Stabilisation;
            if (!stable && random.NextDouble() < scenario.Faults.Drop)
            {
                metrics.MessagesLost++;
                continue;
            }
            var delivery = new DeliverEvent(from.Instance, to.Instance, envelope.Bytes, envelope.Kind, now);
            queue.Schedule(now + Delay(stable), delivery);
            if (random.NextDouble() < scenario.Faults.Duplicate)
            {
                metrics.MessagesDuplicated++;
                queue.Schedule(now + Delay(stable), delivery);
            }
        }
    }

    private long Delay(bool stable)
    {
        var delay = random.NextInt64(scenario.Faults.MinDelay, scenario.Faults.MaxDelay + 1);
        if (!stable && random.NextDouble() < scenario.Faults.Reorder)
            delay += random.NextInt64(1, scenario.Faults.ReorderDelay + 1);
        return delay;
    }

    /// <summary>True if a message from <paramref name="from"/> may arrive at <paramref name="to"/> now.</summary>
    public bool CanDeliver(ReplicaHost from, ReplicaHost to, long now) =>
        to.IsUp && !scenario.Partitions.Any(p => p.Separates(from.Id, to.Id, now));

    /// <summary>The instances a message for <paramref name="to"/> (null: every other replica) reaches.</summary>
    public IEnumerable<ReplicaHost> Recipients(ReplicaHost from, ReplicaId? to)
    {
        foreach (var host in hosts)
        {
            if (host.Id == from.Id) continue;
            if (to is { } id && host.Id != id) continue;
            if (Connected(from, host)) yield return host;
        }
    }

    private bool Connected(ReplicaHost a, ReplicaHost b)
    {
        if (scenario.SplitBrain) return a.TwinSideB == b.TwinSideB;
        if (_twinned.Count == 0) return true;
        var aTwin = _twinned.Contains(a.Id);
        var bTwin = _twinned.Contains(b.Id);
        return (!aTwin && !bTwin) || a.TwinSideB == b.TwinSideB;
    }
}
