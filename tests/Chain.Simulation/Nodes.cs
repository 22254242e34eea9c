using Chain.Consensus;
using Chain.Consensus.Messages;

namespace Chain.Simulation;

/// <summary>
/// Bytes for one replica id (<see cref="To"/>), or for every other replica when <see cref="To"/> is null.
/// <see cref="Message"/> is the decoded form when the sender built a well-formed message (null for junk).
/// </summary>
public sealed record Envelope(ReplicaId? To, byte[] Bytes, ConsensusMessage? Message)
{
    /// <summary>The message type, for the per-kind metrics ("Junk" when not a message).</summary>
    public string Kind => Message?.GetType().Name ?? "Junk";
}

/// <summary>
/// What a node produced for one input, in the <see cref="Ready"/> order: persist, then send, then commit.
/// (The simulator's own type, because Byzantine nodes must be able to build one and <see cref="Ready"/>'s
/// constructor is internal to the consensus assembly.)
/// </summary>
public sealed record NodeOutput(
    IReadOnlyList<PersistRecord> Persist,
    IReadOnlyList<Envelope> Send,
    IReadOnlyList<CommittedEntry> Committed,
    IReadOnlyList<Evidence> Evidence,
    IReadOnlyList<ConsensusEvent> Events,
    Status? Status)
{
    public static NodeOutput Empty { get; } = new([], [], [], [], [], null);

    public static NodeOutput FromReady(Ready ready) => new(
        ready.Persist,
        [.. ready.Send.Select(o => new Envelope(o.To, o.Bytes, o.Message))],
        ready.Committed,
        ready.Evidence,
        ready.Events,
        ready.Status);
}

/// <summary>A replica as the host sees it: the real <see cref="Replica"/>, a fake, or a Byzantine wrapper.</summary>
public interface INode
{
    ReplicaId Id { get; }

    /// <summary>The latest status; null for nodes that have none (e.g. a silent Byzantine replica).</summary>
    Status? Status { get; }

    NodeOutput Step(Input input);
}

/// <summary>Everything needed to (re)construct a node, as the host does on start and on restart.</summary>
public sealed record NodeContext(
    ReplicaConfig Config,
    ISigner Signer,
    ISignatureVerifier Verifier,
    IProposalValidator Validator,
    IReadOnlyList<PersistRecord> Persisted);

/// <summary>Builds the honest node for a context: the real <see cref="Replica"/>, or a test's fake.</summary>
public delegate INode NodeFactory(NodeContext context);

/// <summary>The real replica behind <see cref="INode"/>.</summary>
public sealed class ReplicaNode(Replica replica) : INode
{
    public static NodeFactory Factory { get; } = context => new ReplicaNode(new Replica(
        context.Config, context.Signer, context.Verifier, context.Validator, context.Persisted));

    public ReplicaId Id => replica.Id;

    public Status? Status => replica.Status;

    public NodeOutput Step(Input input) => NodeOutput.FromReady(replica.Step(input));
}
