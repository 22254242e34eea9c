using Chain.Accel;
using Chain.Consensus;
using Chain.Consensus.Messages;

namespace Chain.Simulation.Byzantine;

/// <summary>
/// An equivocating primary: every pre-prepare it sends goes unchanged to one half of the replicas (fixed per
/// incarnation, chosen at random) and, to the other half, as a different proposal for the same (view, seq):
/// the same transactions in reverse order (or none, when there is at most one), on the alternative parent
/// it sent that half at seq−1, with the matching digest, correctly signed. Otherwise honest.
/// </summary>
public sealed class EquivocatingNode : ByzantineNode
{
    private readonly HashSet<ReplicaId> _sideB;
    private readonly Dictionary<ulong, (Hash32 Real, Hash32 Alternative)> _alternatives = [];

    public EquivocatingNode(INode inner, ISigner signer, int replicas, Random random)
        : base(inner, signer, replicas, random)
    {
        var others = Others().ToArray();
        Random.Shuffle(others);
        _sideB = [.. others.Take(others.Length / 2 + Random.Next(2))];
    }

    public IReadOnlySet<ReplicaId> SideB => _sideB;

    protected override NodeOutput Misbehave(Input input, NodeOutput output)
    {
        if (!output.Send.Any(e => e.Message is PrePrepare p && p.Sender == Id)) return output;
        var sends = new List<Envelope>();
        foreach (var envelope in output.Send)
        {
            if (envelope.Message is not PrePrepare pp || pp.Sender != Id)
            {
                sends.Add(envelope);
                continue;
            }
            var alternative = Wrap(null, Alternative(pp));
            foreach (var to in Targets(envelope))
                sends.Add(_sideB.Contains(to) ? alternative with { To = to } : envelope with { To = to });
        }
        return WithSends(output, sends);
    }

    private PrePrepare Alternative(PrePrepare pp)
    {
        var parent = _alternatives.TryGetValue(pp.Seq.Value - 1, out var below) && below.Real == pp.Parent
            ? below.Alternative
            : pp.Parent;
        byte[] payload;
        if (SimPayload.TryDecode(pp.Payload, out _, out var txs))
        {
            payload = SimPayload.Encode(parent, txs.Length >= 2 ? [.. txs.Reverse()] : []);
        }
        else
        {
            payload = [.. pp.Payload, 0];
        }
        var digest = SimPayload.Digest(pp.Seq.Value, parent, payload);
        _alternatives[pp.Seq.Value] = (pp.Digest, digest);
        return Sign(pp with { Parent = parent, Digest = digest, Payload = payload });
    }
}
