using Chain.Accel;
using Chain.Consensus.Messages;

namespace Chain.Consensus;

/// <summary>Everything a replica knows about one height inside its window.</summary>
internal sealed class Slot(SeqNo seq)
{
    public SeqNo Seq { get; } = seq;

    /// <summary>The proposal accepted in the current view (from a pre-prepare or a new view), if any.</summary>
    public ReportedProposal? Proposal { get; set; }

    public View ProposalView { get; set; }

    /// <summary>The signed pre-prepare behind <see cref="Proposal"/> (null when it came from a new view).</summary>
    public PrePrepare? PrePrepare { get; set; }

    /// <summary>A pre-prepare held back until its parent is known (validated then, against a complete chain).</summary>
    public PrePrepare? PendingPrePrepare { get; set; }

    /// <summary>Proposals seen, by digest (any view): payloads for certificates that arrive before or without a pre-prepare.</summary>
    public Dictionary<Hash32, ReportedProposal> Known { get; } = new();

    /// <summary>This replica's latest prepare vote (persisted) and the proposal it voted for.</summary>
    public Vote? MyPrepare { get; set; }

    public ReportedProposal? MyPrepareProposal { get; set; }

    /// <summary>This replica's latest commit vote (persisted).</summary>
    public Vote? MyCommit { get; set; }

    /// <summary>The highest-view prepare certificate this replica accepted (persisted), with its proposal.</summary>
    public QuorumCertificate? Prepared { get; set; }

    public ReportedProposal? PreparedProposal { get; set; }

    /// <summary>Certificates that arrived before they could be used (parent not yet prepared, payload unknown).</summary>
    public List<QuorumCertificate> PendingCertificates { get; } = [];

    /// <summary>A verified commit proof (q commit votes or n prepare votes).</summary>
    public QuorumCertificate? CommitProof { get; set; }

    /// <summary>Votes collected in the current view: phase -> digest -> replica -> vote.</summary>
    public Dictionary<(VotePhase, Hash32), Dictionary<ReplicaId, Vote>> Votes { get; } = new();

    /// <summary>First vote seen per (phase, sender) in the current view, for equivocation evidence.</summary>
    public Dictionary<(VotePhase, ReplicaId), Vote> FirstVotes { get; } = new();

    /// <summary>Tick at which the collector first held a quorum of prepare votes (fast-path wait).</summary>
    public long? PrepareQuorumTick { get; set; }

    public bool PreparedSent { get; set; }

    public bool CommitSent { get; set; }

    /// <summary>Forget everything tied to the previous view (keeps what view changes report).</summary>
    public void ResetForView()
    {
        Proposal = null;
        PrePrepare = null;
        Votes.Clear();
        FirstVotes.Clear();
        PrepareQuorumTick = null;
        PreparedSent = false;
        CommitSent = false;
    }

}
