using Chain.Consensus;
using Chain.Consensus.Messages;

namespace Chain.Simulation.Byzantine;

/// <summary>
/// Votes for conflicting digests: for every prepare or commit vote the honest code sends, each intended
/// recipient gets the real vote or (half the time) a correctly signed vote for a random digest, and other
/// replicas get one or the other too. Otherwise honest.
/// </summary>
public sealed class ConflictingVoterNode(INode inner, ISigner signer, int replicas, Random random)
    : ByzantineNode(inner, signer, replicas, random)
{
    protected override NodeOutput Misbehave(Input input, NodeOutput output)
    {
        if (!output.Send.Any(e => e.Message is Vote)) return output;
        var sends = new List<Envelope>();
        foreach (var envelope in output.Send)
        {
            if (envelope.Message is Vote vote && vote.Sender == Id) AddConflicting(sends, envelope, vote);
            else sends.Add(envelope);
        }
        return WithSends(output, sends);
    }

    private void AddConflicting(List<Envelope> sends, Envelope envelope, Vote vote)
    {
        var intended = Targets(envelope).ToHashSet();
        foreach (var to in Others())
        {
            var roll = Random.NextDouble();
            if (intended.Contains(to))
            {
                sends.Add(roll < 0.5 ? envelope with { To = to } : Fake(to, vote));
            }
            else if (roll < 0.3)
            {
                sends.Add(Fake(to, vote));
            }
            else if (roll < 0.5)
            {
                sends.Add(envelope with { To = to });
            }
        }
    }

    private Envelope Fake(ReplicaId to, Vote vote) => Wrap(to, Sign(vote with { Digest = RandomHash() }));
}
