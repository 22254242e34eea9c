using Chain.Accel.Encoding;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Consensus.Tests;

/// <summary>
/// Structural equality of consensus messages. The records hold byte arrays and lists, which records compare by
/// reference, so <c>Equals</c> is useless for decoded messages: <see cref="Diff"/> walks every field instead.
/// </summary>
public static class ConsensusAssert
{
    /// <summary>Fails, naming the first differing field, unless the two messages are equal field by field.</summary>
    public static void Equal(ConsensusMessage expected, ConsensusMessage actual)
    {
        var diff = Diff(expected, actual);
        Assert.True(diff is null, "messages differ at " + diff);
    }

    /// <summary>Decodes <paramref name="bytes"/> and fails unless it throws <c>CanonicalDecodeException</c>.</summary>
    public static CanonicalDecodeException Rejects(byte[] bytes, CodecLimits limits)
    {
        var e = Record.Exception(() => MessageCodec.Decode(bytes, limits));
        return e as CanonicalDecodeException
            ?? throw new Xunit.Sdk.XunitException(
                "expected CanonicalDecodeException, got " + (e?.ToString() ?? "a decoded message"));
    }

    /// <summary>Null when the messages are equal field by field, else the path of the first difference.</summary>
    public static string? Diff(ConsensusMessage a, ConsensusMessage b) => Message(a.GetType().Name, a, b);

    private static string? Message(string path, ConsensusMessage a, ConsensusMessage b) => (a, b) switch
    {
        (PrePrepare x, PrePrepare y) => First(
            Field(path + ".Sender", x.Sender, y.Sender),
            Field(path + ".View", x.View, y.View),
            Field(path + ".Seq", x.Seq, y.Seq),
            Field(path + ".Parent", x.Parent, y.Parent),
            Field(path + ".Digest", x.Digest, y.Digest),
            Bytes(path + ".Payload", x.Payload, y.Payload),
            Field(path + ".Signature", x.Signature, y.Signature)),
        (Vote x, Vote y) => VoteDiff(path, x, y),
        (CertificateMessage x, CertificateMessage y) => First(
            Field(path + ".Sender", x.Sender, y.Sender),
            Qc(path + ".Certificate", x.Certificate, y.Certificate)),
        (Checkpoint x, Checkpoint y) => First(
            Field(path + ".Sender", x.Sender, y.Sender),
            Field(path + ".Seq", x.Seq, y.Seq),
            Field(path + ".Digest", x.Digest, y.Digest),
            Field(path + ".Signature", x.Signature, y.Signature)),
        (ViewChange x, ViewChange y) => First(
            Field(path + ".Sender", x.Sender, y.Sender),
            Field(path + ".NewView", x.NewView, y.NewView),
            Optional(path + ".Stable", x.Stable, y.Stable, (p, s, t) => First(
                Field(p + ".Seq", s.Seq, t.Seq),
                Field(p + ".Digest", s.Digest, t.Digest),
                Signatures(p + ".Signatures", s.Signatures, t.Signatures))),
            List(path + ".Entries", x.Entries, y.Entries, Entry),
            Field(path + ".Signature", x.Signature, y.Signature)),
        (NewView x, NewView y) => First(
            Field(path + ".Sender", x.Sender, y.Sender),
            Field(path + ".View", x.View, y.View),
            List(path + ".Proof", x.Proof, y.Proof, (p, s, t) => Message(p, s, t)),
            Field(path + ".Signature", x.Signature, y.Signature)),
        _ => $"{path}: a {a.GetType().Name} and a {b.GetType().Name}",
    };

    private static string? VoteDiff(string path, Vote x, Vote y) => First(
        Field(path + ".Sender", x.Sender, y.Sender),
        Field(path + ".Phase", x.Phase, y.Phase),
        Field(path + ".View", x.View, y.View),
        Field(path + ".Seq", x.Seq, y.Seq),
        Field(path + ".Digest", x.Digest, y.Digest),
        Field(path + ".Signature", x.Signature, y.Signature));

    private static string? Qc(string path, QuorumCertificate x, QuorumCertificate y) => First(
        Field(path + ".Phase", x.Phase, y.Phase),
        Field(path + ".View", x.View, y.View),
        Field(path + ".Seq", x.Seq, y.Seq),
        Field(path + ".Digest", x.Digest, y.Digest),
        Signatures(path + ".Votes", x.Votes, y.Votes));

    private static string? Signatures(string path, IReadOnlyList<SignedBy> x, IReadOnlyList<SignedBy> y) =>
        List(path, x, y, (p, s, t) => First(
            Field(p + ".Replica", s.Replica, t.Replica),
            Field(p + ".Signature", s.Signature, t.Signature)));

    private static string? Proposal(string path, ReportedProposal x, ReportedProposal y) => First(
        Field(path + ".Seq", x.Seq, y.Seq),
        Field(path + ".Parent", x.Parent, y.Parent),
        Field(path + ".Digest", x.Digest, y.Digest),
        Bytes(path + ".Payload", x.Payload, y.Payload));

    private static string? Entry(string path, ViewChangeEntry x, ViewChangeEntry y) => First(
        Field(path + ".Seq", x.Seq, y.Seq),
        Optional(path + ".Prepared", x.Prepared, y.Prepared, Qc),
        Optional(path + ".PreparedProposal", x.PreparedProposal, y.PreparedProposal, Proposal),
        Optional(path + ".LastVote", x.LastVote, y.LastVote, VoteDiff),
        Optional(path + ".VotedProposal", x.VotedProposal, y.VotedProposal, Proposal));

    private static string? First(params string?[] diffs) => diffs.FirstOrDefault(d => d is not null);

    private static string? Field<T>(string path, T x, T y) =>
        EqualityComparer<T>.Default.Equals(x, y) ? null : $"{path}: {x} != {y}";

    private static string? Bytes(string path, byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y)
        ? null
        : $"{path}: {x.Length} bytes {Convert.ToHexStringLower(x.AsSpan(0, Math.Min(x.Length, 16)))}..."
          + $" != {y.Length} bytes {Convert.ToHexStringLower(y.AsSpan(0, Math.Min(y.Length, 16)))}...";

    private static string? Optional<T>(string path, T? x, T? y, Func<string, T, T, string?> inner) where T : class =>
        (x, y) switch
        {
            (null, null) => null,
            (not null, not null) => inner(path, x, y),
            _ => $"{path}: {(x is null ? "absent" : "present")} != {(y is null ? "absent" : "present")}",
        };

    private static string? List<T>(string path, IReadOnlyList<T> x, IReadOnlyList<T> y,
        Func<string, T, T, string?> item)
    {
        if (x.Count != y.Count) return $"{path}.Count: {x.Count} != {y.Count}";
        for (var i = 0; i < x.Count; i++)
        {
            if (item($"{path}[{i}]", x[i], y[i]) is { } diff) return diff;
        }
        return null;
    }
}
