using Chain.Accel;

namespace Chain.Consensus.Messages;

/// <summary>Which vote: the values equal the ledger's certificate phases.</summary>
public enum VotePhase : byte
{
    Commit = 1,
    Prepare = 2,
}

/// <summary>One replica's signature inside a certificate.</summary>
public readonly record struct SignedBy(ReplicaId Replica, Signature Signature);

/// <summary>Every message between replicas. <see cref="Sender"/> must equal the authenticated peer.</summary>
public abstract record ConsensusMessage(ReplicaId Sender);

/// <summary>
/// The primary's proposal for (view, seq). <see cref="Parent"/> is the digest of the proposal at seq-1;
/// <see cref="Digest"/> is what the host's validator computes from (seq, parent, payload). Signed over
/// the encoding without the payload (the digest binds it).
/// </summary>
public sealed record PrePrepare(ReplicaId Sender, View View, SeqNo Seq, Hash32 Parent, Hash32 Digest, byte[] Payload,
    Signature Signature) : ConsensusMessage(Sender);

/// <summary>A prepare or commit vote. The signature is over the ledger's vote bytes, so votes form certificates.</summary>
public sealed record Vote(ReplicaId Sender, VotePhase Phase, View View, SeqNo Seq, Hash32 Digest, Signature Signature)
    : ConsensusMessage(Sender);

/// <summary>
/// Votes of distinct replicas for one (phase, view, seq, digest), strictly ascending by replica.
/// A prepare certificate needs a quorum; a commit proof is a quorum of commit votes or all n prepare votes.
/// </summary>
public sealed record QuorumCertificate(VotePhase Phase, View View, SeqNo Seq, Hash32 Digest, IReadOnlyList<SignedBy> Votes);

/// <summary>
/// A certificate forwarded by the collector (linear mode): a prepare certificate ("prepared") or a commit
/// proof ("decide"). Self-authenticating: the votes are checked, not the forwarder.
/// </summary>
public sealed record CertificateMessage(ReplicaId Sender, QuorumCertificate Certificate) : ConsensusMessage(Sender);

/// <summary>A replica's signed statement that the block at seq has this digest (PBFT §4.3).</summary>
public sealed record Checkpoint(ReplicaId Sender, SeqNo Seq, Hash32 Digest, Signature Signature) : ConsensusMessage(Sender);

/// <summary>A quorum of checkpoint signatures for one (seq, digest): a stable checkpoint.</summary>
public sealed record CheckpointCertificate(SeqNo Seq, Hash32 Digest, IReadOnlyList<SignedBy> Signatures);

/// <summary>A proposal a replica reports in a view change: what it saw and how far it got.</summary>
public sealed record ReportedProposal(SeqNo Seq, Hash32 Parent, Hash32 Digest, byte[] Payload);

/// <summary>
/// A replica's view-change report for one height above its stable checkpoint: its highest prepare
/// certificate (with the proposal) and its prepare vote of the latest view it voted in (with the proposal).
/// </summary>
public sealed record ViewChangeEntry(SeqNo Seq, QuorumCertificate? Prepared, ReportedProposal? PreparedProposal,
    Vote? LastVote, ReportedProposal? VotedProposal);

/// <summary>A replica's request to move to <see cref="NewView"/> (PBFT §4.4), signed over its encoding.</summary>
public sealed record ViewChange(ReplicaId Sender, View NewView, CheckpointCertificate? Stable,
    IReadOnlyList<ViewChangeEntry> Entries, Signature Signature) : ConsensusMessage(Sender);

/// <summary>
/// The new primary's announcement of view <see cref="View"/> with a quorum of view changes as proof. Every
/// replica recomputes the proposals to re-issue from the proof; the message is signed by the new primary.
/// </summary>
public sealed record NewView(ReplicaId Sender, View View, IReadOnlyList<ViewChange> Proof, Signature Signature)
    : ConsensusMessage(Sender);
