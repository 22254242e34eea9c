using Chain.Accel;

namespace Chain.Consensus;

/// <summary>Signs with this replica's key. Must be deterministic (Ed25519 is).</summary>
public interface ISigner
{
    Signature Sign(ReadOnlySpan<byte> message);
}

/// <summary>Checks a replica's signature against the validator set's keys. Never throws.</summary>
public interface ISignatureVerifier
{
    bool Verify(ReplicaId signer, ReadOnlySpan<byte> message, Signature signature);
}

/// <summary>
/// The host's verdict on a proposal's payload. <see cref="Proposer"/> and <see cref="ProposedIn"/>, when the
/// payload records them (a block header does), are checked against the pre-prepare and feed reputation.
/// </summary>
public readonly record struct ProposalCheck(bool Valid, Hash32 Digest, string? Reason, ReplicaId? Proposer = null,
    View? ProposedIn = null)
{
    /// <summary>Replicas whose misbehaviour this block records as evidence (proven by two signed conflicting messages).</summary>
    public IReadOnlyList<ReplicaId> Penalised { get; init; } = [];

    public static ProposalCheck Accept(Hash32 digest) => new(true, digest, null);

    public static ProposalCheck Accept(Hash32 digest, ReplicaId proposer, View view) => new(true, digest, null, proposer, view);

    public static ProposalCheck Reject(string reason) => new(false, default, reason);
}

/// <summary>
/// The application contract: consensus orders opaque payloads; the host says whether a payload is a valid
/// proposal at <c>seq</c> on top of <c>parent</c>, and what its digest is. Must be a deterministic function
/// of its arguments and of blocks the host has already committed (never of clocks or local randomness),
/// and must never throw.
/// </summary>
public interface IProposalValidator
{
    /// <summary>Judges a fresh proposal: is it a valid block at <paramref name="seq"/> on <paramref name="parent"/>?</summary>
    ProposalCheck Check(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload);

    /// <summary>
    /// The digest (and, if recorded, proposer and view) of a payload, without judging it: a pure function of the
    /// bytes. Valid is false only for bytes that do not decode. Consensus uses it for proposals a quorum has
    /// already accepted (view-change re-proposals, committed blocks), which must never be judged again: the
    /// host's view of what is valid may have moved on, but a prepared block must survive the view change.
    /// </summary>
    ProposalCheck Describe(SeqNo seq, Hash32 parent, ReadOnlySpan<byte> payload);
}

/// <summary>Ed25519 signing with a key held by the host (the reference <see cref="ISigner"/>).</summary>
public sealed class Ed25519Signer(SigningKey key) : ISigner
{
    public Signature Sign(ReadOnlySpan<byte> message) => key.Sign(message);
}

/// <summary>Ed25519 verification against the validators' public keys, indexed by replica id.</summary>
public sealed class Ed25519Verifier(IReadOnlyList<PublicKey> keys) : ISignatureVerifier
{
    public bool Verify(ReplicaId signer, ReadOnlySpan<byte> message, Signature signature) =>
        signer.Value < keys.Count && Ed25519.Verify(keys[signer.Value], message, signature);
}
