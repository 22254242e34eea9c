using Chain.Consensus;

namespace Chain.Simulation.Byzantine;

/// <summary>
/// Replays old traffic: it remembers (a bounded sample of) the messages it received and sent, and on some
/// ticks sends a few of them again, later: its own old messages to their old destinations (validly signed,
/// but stale), and other replicas' messages relayed as itself (the transport authenticates it as the sender,
/// so the inner sender no longer matches). Otherwise honest.
/// </summary>
public sealed class ReplayingNode(INode inner, ISigner signer, int replicas, Random random)
    : ByzantineNode(inner, signer, replicas, random)
{
    private const int Memory = 64;

    private readonly List<Envelope> _seen = [];

    protected override NodeOutput Misbehave(Input input, NodeOutput output)
    {
        if (input is PeerMessage message) Remember(new Envelope(null, message.Bytes, null));
        foreach (var envelope in output.Send) Remember(envelope);
        if (input is not Tick || _seen.Count == 0 || Random.NextDouble() >= 0.3) return output;
        var sends = new List<Envelope>(output.Send);
        var count = Random.Next(1, 4);
        for (var i = 0; i < count; i++)
        {
            var old = _seen[Random.Next(_seen.Count)];
            sends.Add(old.To is null && old.Message is null ? old with { To = RandomOther() } : old);
        }
        return WithSends(output, sends);
    }

    private void Remember(Envelope envelope)
    {
        if (_seen.Count < Memory) _seen.Add(envelope);
        else _seen[Random.Next(Memory)] = envelope;
    }
}
