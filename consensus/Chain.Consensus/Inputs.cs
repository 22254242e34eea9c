using Chain.Accel;

namespace Chain.Consensus;

/// <summary>Everything that can happen to a replica. The host delivers one at a time to <see cref="Replica.Step"/>.</summary>
public abstract record Input;

/// <summary>Bytes received from an authenticated peer (the transport vouches for <see cref="From"/>).</summary>
public sealed record PeerMessage(ReplicaId From, byte[] Bytes) : Input;

/// <summary>
/// One logical time unit. <see cref="PendingWork"/>: the host holds client transactions not yet committed
/// (a backup uses it to suspect a primary that makes no progress). <see cref="QuorumReachable"/>: the host is
/// connected to enough peers for a quorum; when it is not, the replica does not suspect the primary (a view
/// change could not complete, and a replica that leaves the view alone cannot come back until the next one).
/// </summary>
public sealed record Tick(bool PendingWork, bool QuorumReachable = true) : Input;

/// <summary>The primary's host offers a proposal for <see cref="Seq"/> on top of <see cref="Parent"/> (see Status.NextProposal).</summary>
public sealed record Propose(SeqNo Seq, Hash32 Parent, byte[] Payload) : Input;

/// <summary>The host has durably executed and stored every committed block up to <see cref="Seq"/>.</summary>
public sealed record Applied(SeqNo Seq) : Input;

/// <summary>
/// The host finished a state transfer: it holds committed blocks up to <see cref="Seq"/>, each verified
/// against its commit certificate, the last with digest <see cref="Digest"/>. <see cref="History"/>: the proposer and view of the transferred blocks
/// (from their headers), so reputation stays identical to the other replicas'.
/// </summary>
public sealed record CaughtUp(SeqNo Seq, Hash32 Digest, IReadOnlyList<BlockOrigin>? History = null) : Input;
