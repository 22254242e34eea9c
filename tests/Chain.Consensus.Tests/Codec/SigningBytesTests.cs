using Chain.Consensus.Codec;
using Chain.Consensus.Messages;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Consensus.Tests.Codec;

/// <summary>
/// What each sender signs: every signed field is bound (changing any one of them, at any depth, changes the
/// bytes) and nothing else is (a pre-prepare's payload, a vote's or checkpoint's sender, the signature itself).
/// <see cref="MessageTweaks.SignedPart"/> states which fields are signed.
/// </summary>
public class SigningBytesTests
{
    private const int TweaksPerMessage = 8;

    [Property(MaxTest = 400)]
    public Property Signing_bytes_change_exactly_when_a_signed_field_changes() =>
        Prop.ForAll(Generators.Messages(), s =>
        {
            var (n, m) = (s.Value.N, s.Value.Message);
            if (m is CertificateMessage) return;
            var rng = new Random(s.Seed);
            var bytes = MessageCodec.SigningBytes(m)!;
            var tweaks = MessageTweaks.Of(rng, n, m);
            for (var i = 0; i < TweaksPerMessage; i++)
            {
                var tweak = tweaks[rng.Next(tweaks.Count)];
                var other = tweak.Make();
                Assert.True(ConsensusAssert.Diff(m, other) is not null,
                    $"seed {s.Seed}: {tweak.Field} changed nothing");
                var signed = ConsensusAssert.Diff(MessageTweaks.SignedPart(m), MessageTweaks.SignedPart(other));
                var same = bytes.AsSpan().SequenceEqual(MessageCodec.SigningBytes(other));
                Assert.True(same == (signed is null), signed is null
                    ? $"seed {s.Seed}: changing the unsigned {m.GetType().Name}{tweak.Field} changed the signing bytes"
                    : $"seed {s.Seed}: changing {signed} left the signing bytes unchanged");
            }
        });

    [Property(MaxTest = 300)]
    public Property Signing_bytes_of_different_messages_differ() =>
        Prop.ForAll(Generators.Messages(), Generators.Messages(), (a, b) =>
        {
            if (a.Value.Message is CertificateMessage || b.Value.Message is CertificateMessage) return;
            var signed = ConsensusAssert.Diff(MessageTweaks.SignedPart(a.Value.Message),
                MessageTweaks.SignedPart(b.Value.Message));
            var same = MessageCodec.SigningBytes(a.Value.Message)!.AsSpan()
                .SequenceEqual(MessageCodec.SigningBytes(b.Value.Message));
            Assert.Equal(signed is null, same);
        });

    [Property(MaxTest = 300)]
    public Property A_pre_prepare_s_signing_bytes_do_not_depend_on_its_payload() =>
        Prop.ForAll(Generators.PrePrepares(), Arb.From(Generators.Seed), (s, seed) =>
        {
            var p = s.Value.Message;
            var other = p with { Payload = ConsensusTestData.RandomPayload(new Random(seed)) };
            Assert.Equal(MessageCodec.SigningBytes(p), MessageCodec.SigningBytes(other));
            // The encoding is the signing header (without the domain), the payload and the signature.
            var signing = MessageCodec.SigningBytes(p)!;
            var encoded = MessageCodec.Encode(p);
            var header = signing.AsSpan("chain.consensus.v1\0"u8.Length);
            Assert.True(encoded.AsSpan().StartsWith(header));
            Assert.Equal(header.Length + 4 + p.Payload.Length + 64, encoded.Length);
        });

    [Property(MaxTest = 100)]
    public Property A_certificate_message_is_not_signed() => Prop.ForAll(Generators.CertificateMessages(), s =>
        Assert.Null(MessageCodec.SigningBytes(s.Value.Message)));

    [Fact]
    public void Each_kind_signs_under_its_own_domain()
    {
        var rng = new Random(3);
        (ConsensusMessage Message, byte[] Prefix)[] cases =
        [
            (ConsensusTestData.RandomVote(rng, 4), "chain.vote.v1\0"u8.ToArray()),
            (ConsensusTestData.RandomCheckpoint(rng, 4), "chain.checkpoint.v1\0"u8.ToArray()),
            (ConsensusTestData.RandomPrePrepare(rng, 4), [.. "chain.consensus.v1\0"u8, MessageCodec.PrePrepareTag, 1]),
            (ConsensusTestData.RandomViewChange(rng, 4), [.. "chain.consensus.v1\0"u8, MessageCodec.ViewChangeTag, 1]),
            (ConsensusTestData.RandomNewView(rng, 4), [.. "chain.consensus.v1\0"u8, MessageCodec.NewViewTag, 1]),
        ];
        foreach (var (m, prefix) in cases)
        {
            Assert.True(MessageCodec.SigningBytes(m).AsSpan().StartsWith(prefix),
                $"{m.GetType().Name} does not sign under {Convert.ToHexStringLower(prefix)}");
        }
    }
}
