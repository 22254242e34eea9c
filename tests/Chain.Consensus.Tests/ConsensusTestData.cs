using Chain.Accel;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus.Tests;

/// <summary>
/// Random consensus messages drawn from a <see cref="Random"/> (so a failing case is rebuilt from its seed) for a
/// network of n replicas: every replica id is below n, every sequence number is at least 1, every list the
/// decoder requires ascending is strictly ascending, so each message decodes under <see cref="Limits"/>(n).
/// Signatures are random bytes: these messages are for codec tests, not for verification.
/// </summary>
public static class ConsensusTestData
{
    /// <summary>The most replicas <see cref="RandomReplicaCount"/> picks.</summary>
    public const int MaxReplicas = 16;

    /// <summary>The largest payload <see cref="RandomPrePrepare"/> carries.</summary>
    public const int MaxPayload = 2000;

    /// <summary>The most entries <see cref="RandomViewChange"/> reports.</summary>
    public const int MaxEntries = 5;

    /// <summary>The most view changes <see cref="RandomNewView"/> embeds.</summary>
    public const int MaxProof = 4;

    /// <summary>The decoder's bounds with the default options for <paramref name="n"/> replicas.</summary>
    public static CodecLimits Limits(int n) => CodecLimits.For(new ConsensusOptions().Validate(), n);

    // ---- primitive random values ----

    public static byte[] RandomBytes(Random rng, int length)
    {
        var bytes = new byte[length];
        rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>n: 1..<see cref="MaxReplicas"/>, often 1, 4 or 16.</summary>
    public static int RandomReplicaCount(Random rng) => rng.Next(4) switch
    {
        0 => rng.Next(3) switch { 0 => 1, 1 => 4, _ => MaxReplicas },
        _ => rng.Next(1, MaxReplicas + 1),
    };

    /// <summary>A uniform u64, or (one time in eight) a boundary value.</summary>
    public static ulong RandomUInt64(Random rng) => rng.Next(8) == 0
        ? rng.Next(4) switch { 0 => 0UL, 1 => 1UL, 2 => ulong.MaxValue - 1, _ => ulong.MaxValue }
        : BitConverter.ToUInt64(RandomBytes(rng, 8));

    /// <summary>A view: small half the time, else any u64.</summary>
    public static View RandomView(Random rng) => new(rng.Next(2) == 0 ? (ulong)rng.Next(100) : RandomUInt64(rng));

    /// <summary>A sequence number (at least 1): small half the time, else any u64 but 0.</summary>
    public static SeqNo RandomSeq(Random rng) =>
        new(rng.Next(2) == 0 ? (ulong)rng.Next(1, 1000) : Math.Max(1, RandomUInt64(rng)));

    /// <summary>A replica id below <paramref name="n"/>.</summary>
    public static ReplicaId RandomReplica(Random rng, int n) => new((ushort)rng.Next(n));

    /// <summary>
    /// <paramref name="count"/> distinct replica ids below <paramref name="n"/>, ascending (a random subset).
    /// </summary>
    public static ReplicaId[] RandomReplicas(Random rng, int n, int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, n);
        var ids = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(ids);
        return [.. ids.Take(count).Order().Select(i => new ReplicaId((ushort)i))];
    }

    /// <summary>A random 32-byte hash (one time in sixteen the zero hash).</summary>
    public static Hash32 RandomHash(Random rng) =>
        rng.Next(16) == 0 ? Hash32.Zero : Hash32.FromBytes(RandomBytes(rng, Hash32.Size));

    public static Signature RandomSignature(Random rng) => new(RandomBytes(rng, Signature.Size));

    public static VotePhase RandomPhase(Random rng) => rng.Next(2) == 0 ? VotePhase.Commit : VotePhase.Prepare;

    /// <summary>0..<paramref name="max"/> random bytes: empty or full one time in eight each.</summary>
    public static byte[] RandomPayload(Random rng, int max = MaxPayload) => RandomBytes(rng, rng.Next(8) switch
    {
        0 => 0,
        1 => max,
        _ => rng.Next(max + 1),
    });

    /// <summary>
    /// <paramref name="count"/> distinct signatures (random bytes) by replicas below <paramref name="n"/>,
    /// strictly ascending by replica; by default 0..n of them (all n one time in four).
    /// </summary>
    public static SignedBy[] RandomSignatures(Random rng, int n, int? count = null) =>
        [.. RandomReplicas(rng, n, count ?? (rng.Next(4) == 0 ? n : rng.Next(n + 1)))
            .Select(r => new SignedBy(r, RandomSignature(rng)))];

    // ---- random messages ----

    public static PrePrepare RandomPrePrepare(Random rng, int n) =>
        new(RandomReplica(rng, n), RandomView(rng), RandomSeq(rng), RandomHash(rng), RandomHash(rng),
            RandomPayload(rng), RandomSignature(rng));

    public static Vote RandomVote(Random rng, int n, SeqNo? seq = null) =>
        new(RandomReplica(rng, n), RandomPhase(rng), RandomView(rng), seq ?? RandomSeq(rng), RandomHash(rng),
            RandomSignature(rng));

    /// <summary>A certificate with 0..n votes of distinct replicas, strictly ascending.</summary>
    public static QuorumCertificate RandomCertificate(Random rng, int n, SeqNo? seq = null) =>
        new(RandomPhase(rng), RandomView(rng), seq ?? RandomSeq(rng), RandomHash(rng), RandomSignatures(rng, n));

    public static CertificateMessage RandomCertificateMessage(Random rng, int n) =>
        new(RandomReplica(rng, n), RandomCertificate(rng, n));

    public static Checkpoint RandomCheckpoint(Random rng, int n) =>
        new(RandomReplica(rng, n), RandomSeq(rng), RandomHash(rng), RandomSignature(rng));

    public static CheckpointCertificate RandomCheckpointCertificate(Random rng, int n) =>
        new(RandomSeq(rng), RandomHash(rng), RandomSignatures(rng, n));

    /// <summary>A reported proposal at <paramref name="seq"/>, its payload usually short (up to 64 bytes).</summary>
    public static ReportedProposal RandomProposal(Random rng, SeqNo seq) =>
        new(seq, RandomHash(rng), RandomHash(rng), RandomPayload(rng, rng.Next(4) == 0 ? MaxPayload : 64));

    /// <summary>
    /// An entry at <paramref name="seq"/>: half the time a prepare certificate with its proposal, half the time a
    /// vote with its proposal (each independently), all for the same height.
    /// </summary>
    public static ViewChangeEntry RandomEntry(Random rng, int n, SeqNo seq)
    {
        var prepared = rng.Next(2) == 0;
        var voted = rng.Next(2) == 0;
        return new ViewChangeEntry(seq,
            prepared ? RandomCertificate(rng, n, seq) : null, prepared ? RandomProposal(rng, seq) : null,
            voted ? RandomVote(rng, n, seq) : null, voted ? RandomProposal(rng, seq) : null);
    }

    /// <summary><paramref name="count"/> strictly ascending sequence numbers: a run of heights, or scattered.</summary>
    public static SeqNo[] RandomAscendingSeqs(Random rng, int count)
    {
        if (rng.Next(2) == 0)
        {
            var first = Math.Min(RandomSeq(rng).Value, ulong.MaxValue - (ulong)count);
            return [.. Enumerable.Range(0, count).Select(i => new SeqNo(first + (ulong)i))];
        }
        var seqs = new SortedSet<ulong>();
        while (seqs.Count < count) seqs.Add(RandomSeq(rng).Value);
        return [.. seqs.Select(s => new SeqNo(s))];
    }

    /// <summary>
    /// A view change: a stable checkpoint certificate two times in three, and 0..<see cref="MaxEntries"/>
    /// entries at strictly ascending heights.
    /// </summary>
    public static ViewChange RandomViewChange(Random rng, int n, ReplicaId? sender = null, View? newView = null)
    {
        var stable = rng.Next(3) == 0 ? null : RandomCheckpointCertificate(rng, n);
        var entries = RandomAscendingSeqs(rng, rng.Next(MaxEntries + 1)).Select(s => RandomEntry(rng, n, s)).ToArray();
        return new ViewChange(sender ?? RandomReplica(rng, n), newView ?? RandomView(rng), stable, entries,
            RandomSignature(rng));
    }

    /// <summary>A new view with 0..<see cref="MaxProof"/> view changes (at most n) from distinct replicas.</summary>
    public static NewView RandomNewView(Random rng, int n)
    {
        var view = RandomView(rng);
        var senders = RandomReplicas(rng, n, rng.Next(Math.Min(MaxProof, n) + 1));
        rng.Shuffle(senders);
        return new NewView(RandomReplica(rng, n), view, [.. senders.Select(s => RandomViewChange(rng, n, s, view))],
            RandomSignature(rng));
    }

    /// <summary>The six kinds of message, with a generator each.</summary>
    public static IReadOnlyList<(string Kind, Func<Random, int, ConsensusMessage> Draw)> Kinds { get; } =
    [
        (nameof(PrePrepare), RandomPrePrepare),
        (nameof(Vote), (rng, n) => RandomVote(rng, n)),
        (nameof(CertificateMessage), RandomCertificateMessage),
        (nameof(Checkpoint), RandomCheckpoint),
        (nameof(ViewChange), (rng, n) => RandomViewChange(rng, n)),
        (nameof(NewView), RandomNewView),
    ];

    /// <summary>A message of a random kind.</summary>
    public static ConsensusMessage RandomMessage(Random rng, int n) => Kinds[rng.Next(Kinds.Count)].Draw(rng, n);

    /// <summary>Every replica id anywhere in <paramref name="message"/> (senders, voters, signers).</summary>
    public static IEnumerable<ReplicaId> ReplicaIds(ConsensusMessage message)
    {
        yield return message.Sender;
        IEnumerable<ReplicaId> nested = message switch
        {
            CertificateMessage c => c.Certificate.Votes.Select(v => v.Replica),
            ViewChange vc => (vc.Stable?.Signatures.Select(s => s.Replica) ?? []).Concat(vc.Entries.SelectMany(e =>
                (e.Prepared?.Votes.Select(v => v.Replica) ?? []).Concat(e.LastVote is { } v ? [v.Sender] : []))),
            NewView nv => nv.Proof.SelectMany(ReplicaIds),
            _ => [],
        };
        foreach (var id in nested) yield return id;
    }
}

/// <summary>A message drawn for a network of <see cref="N"/> replicas.</summary>
public sealed record InNetwork<T>(int N, T Message) where T : ConsensusMessage
{
    public CodecLimits Limits => ConsensusTestData.Limits(N);

    public override string ToString() => $"n = {N}: {Message}";
}
