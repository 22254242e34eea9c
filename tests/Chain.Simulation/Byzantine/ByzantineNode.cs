using Chain.Accel;
using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Simulation.Byzantine;

/// <summary>
/// A Byzantine replica built around an honest inner node: it runs the honest code and rewrites what it sends.
/// It holds only its own signer, so anything it claims for another replica carries an invalid signature.
/// </summary>
public abstract class ByzantineNode(INode inner, ISigner signer, int replicas, Random random) : INode
{
    protected INode Inner { get; } = inner;
    protected ISigner Signer { get; } = signer;
    protected int Replicas { get; } = replicas;
    protected Random Random { get; } = random;

    public ReplicaId Id => Inner.Id;

    public Status? Status => Inner.Status;

    public NodeOutput Step(Input input)
    {
        var output = Inner.Step(input);
        return Misbehave(input, output);
    }

    /// <summary>Rewrites the honest output for <paramref name="input"/>.</summary>
    protected abstract NodeOutput Misbehave(Input input, NodeOutput output);

    /// <summary>The replica ids an envelope addresses (every other replica for a broadcast).</summary>
    protected IEnumerable<ReplicaId> Targets(Envelope envelope) => envelope.To is { } to
        ? [to]
        : Others();

    protected IEnumerable<ReplicaId> Others() =>
        Enumerable.Range(0, Replicas).Select(i => new ReplicaId((ushort)i)).Where(r => r != Id);

    protected ReplicaId RandomOther()
    {
        var others = Others().ToArray();
        return others[Random.Next(others.Length)];
    }

    protected Hash32 RandomHash()
    {
        Span<byte> bytes = stackalloc byte[Hash32.Size];
        Random.NextBytes(bytes);
        return Hash32.FromBytes(bytes);
    }

    protected Signature RandomSignature()
    {
        Span<byte> bytes = stackalloc byte[Signature.Size];
        Random.NextBytes(bytes);
        return new Signature(bytes);
    }

    /// <summary><paramref name="message"/> signed with this replica's own key (valid if it is the sender).</summary>
    protected T Sign<T>(T message) where T : ConsensusMessage
    {
        var bytes = MessageCodec.SigningBytes(message);
        if (bytes is null) return message;
        var signature = Signer.Sign(bytes);
        ConsensusMessage signed = message switch
        {
            PrePrepare p => p with { Signature = signature },
            Vote v => v with { Signature = signature },
            Checkpoint c => c with { Signature = signature },
            ViewChange vc => vc with { Signature = signature },
            NewView nv => nv with { Signature = signature },
            _ => message,
        };
        return (T)signed;
    }

    protected static Envelope Wrap(ReplicaId? to, ConsensusMessage message) =>
        new(to, MessageCodec.Encode(message), message);

    protected static NodeOutput WithSends(NodeOutput output, IReadOnlyList<Envelope> sends) =>
        output with { Send = sends };
}

/// <summary>Never sends, never commits; answers every input with nothing.</summary>
public sealed class SilentNode(ReplicaId id) : INode
{
    public ReplicaId Id { get; } = id;

    public Status? Status => null;

    public NodeOutput Step(Input input) => NodeOutput.Empty;
}
