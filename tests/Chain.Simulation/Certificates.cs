using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Simulation;

/// <summary>Quorum arithmetic and the commit-proof check a host applies to blocks it did not commit itself.</summary>
public static class Certificates
{
    /// <summary>f = ⌊(n−1)/3⌋.</summary>
    public static int Faults(int n) => (n - 1) / 3;

    /// <summary>q = ⌈(n+f+1)/2⌉ (2f+1 when n = 3f+1).</summary>
    public static int Quorum(int n) => (n + Faults(n) + 2) / 2;

    /// <summary>
    /// Why <paramref name="entry"/>'s certificate does not prove it (null if it does): it must name the entry's
    /// height and digest and carry q distinct valid commit votes, or n distinct valid prepare votes (the fast
    /// path), each over <see cref="MessageCodec.VoteBytes"/>.
    /// </summary>
    public static string? Problem(CommittedEntry entry, ISignatureVerifier verifier, int n)
    {
        var qc = entry.Certificate;
        if (qc.Seq != entry.Seq) return $"certificate is for {qc.Seq}, entry is {entry.Seq}";
        if (qc.Digest != entry.Digest)
            return $"certificate digest {qc.Digest.Short} != entry digest {entry.Digest.Short}";
        var needed = qc.Phase == VotePhase.Commit ? Quorum(n) : n;
        var bytes = MessageCodec.VoteBytes(qc.Phase, qc.Seq, qc.View, qc.Digest);
        var signers = new HashSet<ReplicaId>();
        foreach (var vote in qc.Votes)
        {
            if (vote.Replica.Value < n && verifier.Verify(vote.Replica, bytes, vote.Signature))
                signers.Add(vote.Replica);
        }
        return signers.Count >= needed
            ? null
            : $"{qc.Phase} certificate has {signers.Count} distinct valid votes, needs {needed}";
    }
}
