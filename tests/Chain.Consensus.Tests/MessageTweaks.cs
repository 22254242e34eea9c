using Chain.Accel;
using Chain.Consensus.Messages;
using static Chain.Consensus.Tests.ConsensusTestData;

namespace Chain.Consensus.Tests;

/// <summary>A way to change exactly one thing in a <typeparamref name="T"/>, named by its field path.</summary>
public sealed record Tweak<T>(string Field, Func<T> Make)
{
    /// <summary>The same change seen from the object that holds the <typeparamref name="T"/>.</summary>
    public Tweak<TOuter> Within<TOuter>(string field, Func<T, TOuter> wrap) =>
        new(field + Field, () => wrap(Make()));
}

/// <summary>
/// Every single-field change of a message: a leaf value changed (a bit of a hash, signature or number, a byte
/// of a payload), an optional part added or removed, a list element added, removed or changed, at any depth.
/// Each tweaked message differs from the original in exactly that field. Tweaked messages are for the signing
/// bytes (and for forging): ids may reach n and lists may leave ascending order, so they need not decode.
/// </summary>
public static class MessageTweaks
{
    /// <summary>
    /// The changes of <paramref name="m"/> (of a network of <paramref name="n"/> replicas); the random
    /// values are drawn from <paramref name="rng"/> when a tweak is made.
    /// </summary>
    public static IReadOnlyList<Tweak<ConsensusMessage>> Of(Random rng, int n, ConsensusMessage m) => m switch
    {
        PrePrepare p =>
        [
            new(".Sender", () => p with { Sender = Other(rng, p.Sender) }),
            new(".View", () => p with { View = new View(Other(rng, p.View.Value)) }),
            new(".Seq", () => p with { Seq = Other(rng, p.Seq) }),
            new(".Parent", () => p with { Parent = Other(rng, p.Parent) }),
            new(".Digest", () => p with { Digest = Other(rng, p.Digest) }),
            new(".Payload", () => p with { Payload = Other(rng, p.Payload) }),
            new(".Signature", () => p with { Signature = Other(rng, p.Signature) }),
        ],
        Vote v => [.. Of(rng, v).Select(t => t.Within<ConsensusMessage>("", x => x))],
        CertificateMessage c =>
        [
            new(".Sender", () => c with { Sender = Other(rng, c.Sender) }),
            .. Of(rng, n, c.Certificate).Select(t => t.Within<ConsensusMessage>(".Certificate",
                qc => c with { Certificate = qc })),
        ],
        Checkpoint c =>
        [
            new(".Sender", () => c with { Sender = Other(rng, c.Sender) }),
            new(".Seq", () => c with { Seq = Other(rng, c.Seq) }),
            new(".Digest", () => c with { Digest = Other(rng, c.Digest) }),
            new(".Signature", () => c with { Signature = Other(rng, c.Signature) }),
        ],
        ViewChange vc => [.. Of(rng, n, vc).Select(t => t.Within<ConsensusMessage>("", x => x))],
        NewView nv =>
        [
            new(".Sender", () => nv with { Sender = Other(rng, nv.Sender) }),
            new(".View", () => nv with { View = new View(Other(rng, nv.View.Value)) }),
            .. ListOf(rng, nv.Proof, () => RandomViewChange(rng, n, newView: nv.View), vc => Of(rng, n, vc))
                .Select(t => t.Within<ConsensusMessage>(".Proof", proof => nv with { Proof = proof })),
            new(".Signature", () => nv with { Signature = Other(rng, nv.Signature) }),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(m)),
    };

    /// <summary>
    /// The part of <paramref name="message"/> its sender signs, with the rest blanked: the signature, a
    /// pre-prepare's payload (its digest binds it), a vote's and a checkpoint's sender (the signature is checked
    /// under the sender's key, and vote bytes are the ledger's, which name no replica).
    /// </summary>
    public static ConsensusMessage SignedPart(ConsensusMessage message) => message switch
    {
        PrePrepare p => p with { Payload = [], Signature = default },
        Vote v => v with { Sender = default, Signature = default },
        Checkpoint c => c with { Sender = default, Signature = default },
        ViewChange vc => vc with { Signature = default },
        NewView nv => nv with { Signature = default },
        _ => throw new ArgumentOutOfRangeException(nameof(message), "a certificate message is not signed"),
    };

    private static IEnumerable<Tweak<Vote>> Of(Random rng, Vote v) =>
    [
        new(".Sender", () => v with { Sender = Other(rng, v.Sender) }),
        new(".Phase", () => v with { Phase = Other(v.Phase) }),
        new(".View", () => v with { View = new View(Other(rng, v.View.Value)) }),
        new(".Seq", () => v with { Seq = Other(rng, v.Seq) }),
        new(".Digest", () => v with { Digest = Other(rng, v.Digest) }),
        new(".Signature", () => v with { Signature = Other(rng, v.Signature) }),
    ];

    private static IEnumerable<Tweak<QuorumCertificate>> Of(Random rng, int n, QuorumCertificate qc) =>
    [
        new(".Phase", () => qc with { Phase = Other(qc.Phase) }),
        new(".View", () => qc with { View = new View(Other(rng, qc.View.Value)) }),
        new(".Seq", () => qc with { Seq = Other(rng, qc.Seq) }),
        new(".Digest", () => qc with { Digest = Other(rng, qc.Digest) }),
        .. SignaturesOf(rng, n, qc.Votes).Select(t => t.Within(".Votes", votes => qc with { Votes = votes })),
    ];

    private static IEnumerable<Tweak<ViewChange>> Of(Random rng, int n, ViewChange vc) =>
    [
        new(".Sender", () => vc with { Sender = Other(rng, vc.Sender) }),
        new(".NewView", () => vc with { NewView = new View(Other(rng, vc.NewView.Value)) }),
        .. OptionalOf(rng, vc.Stable, () => RandomCheckpointCertificate(rng, n), s =>
            [
                new(".Seq", () => s with { Seq = Other(rng, s.Seq) }),
                new(".Digest", () => s with { Digest = Other(rng, s.Digest) }),
                .. SignaturesOf(rng, n, s.Signatures).Select(t => t.Within(".Signatures",
                    sigs => s with { Signatures = sigs })),
            ]).Select(t => t.Within(".Stable", stable => vc with { Stable = stable })),
        .. ListOf(rng, vc.Entries, () => RandomEntry(rng, n, RandomSeq(rng)), e => Of(rng, n, e))
            .Select(t => t.Within(".Entries", entries => vc with { Entries = entries })),
        new(".Signature", () => vc with { Signature = Other(rng, vc.Signature) }),
    ];

    private static IEnumerable<Tweak<ViewChangeEntry>> Of(Random rng, int n, ViewChangeEntry e) =>
    [
        new(".Seq", () => e with { Seq = Other(rng, e.Seq) }),
        // A certificate and a vote each travel with their proposal: both come and go together.
        e.Prepared is null
            ? new(".Prepared", () => e with
            {
                Prepared = RandomCertificate(rng, n, e.Seq), PreparedProposal = RandomProposal(rng, e.Seq),
            })
            : new(".Prepared", () => e with { Prepared = null, PreparedProposal = null }),
        e.LastVote is null
            ? new(".LastVote", () => e with
            {
                LastVote = RandomVote(rng, n, e.Seq), VotedProposal = RandomProposal(rng, e.Seq),
            })
            : new(".LastVote", () => e with { LastVote = null, VotedProposal = null }),
        .. e.Prepared is { } qc
            ? Of(rng, n, qc).Select(t => t.Within(".Prepared", x => e with { Prepared = x }))
            : [],
        .. e.PreparedProposal is { } pp
            ? Of(rng, pp).Select(t => t.Within(".PreparedProposal", x => e with { PreparedProposal = x }))
            : [],
        .. e.LastVote is { } v ? Of(rng, v).Select(t => t.Within(".LastVote", x => e with { LastVote = x })) : [],
        .. e.VotedProposal is { } vp
            ? Of(rng, vp).Select(t => t.Within(".VotedProposal", x => e with { VotedProposal = x }))
            : [],
    ];

    private static IEnumerable<Tweak<ReportedProposal>> Of(Random rng, ReportedProposal p) =>
    [
        new(".Seq", () => p with { Seq = Other(rng, p.Seq) }),
        new(".Parent", () => p with { Parent = Other(rng, p.Parent) }),
        new(".Digest", () => p with { Digest = Other(rng, p.Digest) }),
        new(".Payload", () => p with { Payload = Other(rng, p.Payload) }),
    ];

    private static IEnumerable<Tweak<IReadOnlyList<SignedBy>>> SignaturesOf(Random rng, int n,
        IReadOnlyList<SignedBy> signatures) =>
        ListOf(rng, signatures, () => new SignedBy(RandomReplica(rng, n), RandomSignature(rng)), s =>
        [
            new(".Replica", () => s with { Replica = Other(rng, s.Replica) }),
            new(".Signature", () => s with { Signature = Other(rng, s.Signature) }),
        ]);

    /// <summary>Remove or insert an element (anywhere), or change one.</summary>
    private static IEnumerable<Tweak<IReadOnlyList<T>>> ListOf<T>(Random rng, IReadOnlyList<T> list, Func<T> draw,
        Func<T, IEnumerable<Tweak<T>>> tweaks)
    {
        if (list.Count > 0)
        {
            yield return new(".remove", () =>
            {
                var copy = list.ToList();
                copy.RemoveAt(rng.Next(copy.Count));
                return copy;
            });
        }
        yield return new(".insert", () =>
        {
            var copy = list.ToList();
            copy.Insert(rng.Next(list.Count + 1), draw());
            return copy;
        });
        for (var i = 0; i < list.Count; i++)
        {
            var at = i;
            foreach (var t in tweaks(list[at]))
            {
                yield return t.Within<IReadOnlyList<T>>($"[{at}]", x =>
                {
                    var copy = list.ToArray();
                    copy[at] = x;
                    return copy;
                });
            }
        }
    }

    /// <summary>Add or remove the optional part, or change it.</summary>
    private static IEnumerable<Tweak<T?>> OptionalOf<T>(Random rng, T? value, Func<T> draw,
        Func<T, IEnumerable<Tweak<T>>> tweaks) where T : class =>
        value is null
            ? [new(".add", () => draw())]
            : [new(".remove", () => null), .. tweaks(value).Select(t => t.Within<T?>("", x => x))];

    // ---- different values ----

    private static ulong Other(Random rng, ulong value) => value ^ (1UL << rng.Next(64));

    /// <summary>A different sequence number, never 0.</summary>
    private static SeqNo Other(Random rng, SeqNo seq)
    {
        var other = Other(rng, seq.Value);
        return new SeqNo(other == 0 ? seq.Value + 1 : other);
    }

    /// <summary>A different id, below 16 when the original is.</summary>
    private static ReplicaId Other(Random rng, ReplicaId id) => new((ushort)(id.Value ^ (1 << rng.Next(4))));

    private static VotePhase Other(VotePhase phase) =>
        phase == VotePhase.Commit ? VotePhase.Prepare : VotePhase.Commit;

    private static Hash32 Other(Random rng, Hash32 hash)
    {
        var bytes = hash.ToArray();
        bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
        return Hash32.FromBytes(bytes);
    }

    private static Signature Other(Random rng, Signature signature)
    {
        var bytes = signature.Span.ToArray();
        bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
        return new Signature(bytes);
    }

    /// <summary>A bit flipped, a byte appended, or the last byte dropped.</summary>
    private static byte[] Other(Random rng, byte[] bytes)
    {
        var copy = bytes.ToArray();
        switch (bytes.Length == 0 ? 0 : rng.Next(3))
        {
            case 0:
                return [.. copy, (byte)rng.Next(256)];
            case 1:
                return copy[..^1];
            default:
                copy[rng.Next(copy.Length)] ^= (byte)(1 << rng.Next(8));
                return copy;
        }
    }
}
