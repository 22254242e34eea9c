using Chain.Accel;

namespace Chain.Consensus;

/// <summary>Who this replica is and where its committed chain stands when it starts.</summary>
/// <param name="Id">This replica.</param>
/// <param name="ReplicaCount">n, the size of the validator set.</param>
/// <param name="Options">Validated consensus options.</param>
/// <param name="Committed">The host's last committed height (0 = genesis).</param>
/// <param name="CommittedDigest">The digest at <paramref name="Committed"/> (the genesis hash at 0).</param>
public sealed record ReplicaConfig(ReplicaId Id, int ReplicaCount, ConsensusOptions Options, SeqNo Committed, Hash32 CommittedDigest);

/// <summary>
/// One improved-PBFT replica as a pure state machine (see DESIGN.md): <see cref="Step"/> takes one input
/// and returns a <see cref="Ready"/>. No clock, randomness, threads or I/O; never throws on peer input.
/// </summary>
public sealed partial class Replica
{
    /// <summary>
    /// Creates a replica, restoring its consensus records (<paramref name="persisted"/>: everything the host
    /// stored from earlier <see cref="Ready.Persist"/> lists, with deletions applied) after a restart.
    /// </summary>
    public Replica(ReplicaConfig config, ISigner signer, ISignatureVerifier verifier, IProposalValidator validator,
        IEnumerable<PersistRecord>? persisted = null)
    {
        throw new NotImplementedException("skeleton: the protocol lands in the next commit");
    }

    public ReplicaId Id => throw new NotImplementedException();

    public Status Status => throw new NotImplementedException();

    /// <summary>Handles one input; the host carries out the result in the order <see cref="Ready"/> documents.</summary>
    public Ready Step(Input input) => throw new NotImplementedException();
}
