using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>Something scheduled at a virtual time.</summary>
internal abstract record SimEvent;

/// <summary>Every replica that is up gets one <see cref="Tick"/> (in a seeded random order).</summary>
internal sealed record TickAllEvent : SimEvent;

/// <summary>Bytes from instance <see cref="From"/> arrive at instance <see cref="To"/>.</summary>
internal sealed record DeliverEvent(int From, int To, byte[] Bytes, string Kind, long SentAt) : SimEvent;

/// <summary>A client submits a transaction to every replica's mempool.</summary>
internal sealed record SubmitEvent(SimTransaction Tx) : SimEvent;

internal sealed record CrashEvent(CrashSpec Spec, int Instance) : SimEvent;

internal sealed record RestartEvent(int Instance) : SimEvent;

/// <summary>A state transfer for <see cref="Request"/> completes (if the host is still in that incarnation).</summary>
internal sealed record TransferEvent(int Instance, int Incarnation, StateTransferNeeded Request, int Attempt)
    : SimEvent;

/// <summary>
/// The event queue, ordered by (virtual time, insertion order): equal times run in the order they were
/// scheduled, so a run is a function of the seed alone.
/// </summary>
internal sealed class EventQueue
{
    private readonly PriorityQueue<SimEvent, (long Time, long Order)> _queue = new();
    private long _order;

    public int Count => _queue.Count;

    public void Schedule(long time, SimEvent ev) => _queue.Enqueue(ev, (time, _order++));

    public bool TryNext(out SimEvent ev, out long time)
    {
        if (_queue.TryDequeue(out var next, out var priority))
        {
            ev = next;
            time = priority.Time;
            return true;
        }
        ev = null!;
        time = 0;
        return false;
    }
}
