using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Accel.Tests.OpenCl;

/// <summary>Batch SHA-256 on OpenCL is bit-identical to the CPU reference, with and without the tag.</summary>
[Collection(OpenClCollection.Name)]
public sealed class OpenClSha256Tests(OpenClFixture fixture)
{
    private static Gen<int> Seed => Gen.Choose(0, int.MaxValue - 1);

    private void AssertSameAsReference(IReadOnlyList<ReadOnlyMemory<byte>> messages, byte? tag, string context)
    {
        var expected = Batches.Digests(OpenClFixture.Reference, messages, tag);
        var actual = Batches.Digests(fixture.Accelerator, messages, tag);
        for (var i = 0; i < messages.Count; i++)
        {
            Assert.True(expected[i] == actual[i],
                $"{context}: message {i} of {messages.Count} ({messages[i].Length} bytes, tag {tag?.ToString() ?? "none"}): "
                + $"OpenCL {actual[i]}, reference {expected[i]}");
        }
    }

    [Property(MaxTest = 150)]
    public Property Random_batches_match_the_reference() => Prop.ForAll(Arb.From(Seed), seed =>
    {
        var rng = new Random(seed);
        AssertSameAsReference(Batches.Messages(rng, 200), Batches.Tag(rng), $"seed {seed}");
    });

    [Theory]
    [InlineData(null)]
    [InlineData((byte)0)]
    [InlineData((byte)0x4c)]
    [InlineData((byte)0xff)]
    public void Every_length_from_0_to_300_matches_the_reference(byte? tag)
    {
        var rng = new Random(300);
        var messages = Enumerable.Range(0, 301).Select(length => Batches.Slice(rng, length)).ToArray();
        AssertSameAsReference(messages, tag, "lengths 0..300");
    }

    [Fact]
    public void An_empty_batch_writes_nothing()
    {
        fixture.Accelerator.Sha256([], Span<Hash32>.Empty);
        fixture.Accelerator.Sha256([], Span<Hash32>.Empty, 7);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(0, (byte)1)]
    [InlineData(56, null)]
    [InlineData(64, (byte)2)]
    public void A_single_message_matches_the_reference(int length, byte? tag) =>
        AssertSameAsReference([Batches.Slice(new Random(length), length)], tag, "single message");

    [Fact]
    public void Known_answers()
    {
        // FIPS 180-4 examples: SHA-256("") and SHA-256("abc").
        var digests = Batches.Digests(fixture.Accelerator, [ReadOnlyMemory<byte>.Empty, "abc"u8.ToArray()], null);
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", digests[0].ToString());
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", digests[1].ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData((byte)9)]
    public void A_1_MiB_message_among_small_ones_matches_the_reference(byte? tag)
    {
        var rng = new Random(1 << 20);
        ReadOnlyMemory<byte>[] messages =
            [Batches.Slice(rng, 3), Batches.Slice(rng, 1 << 20), Batches.Slice(rng, 0), Batches.Slice(rng, (1 << 20) + 1)];
        AssertSameAsReference(messages, tag, "1 MiB");
    }

    [Property(MaxTest = 40)]
    public Property Batches_split_over_many_launches_match_the_reference() => Prop.ForAll(Arb.From(Seed), seed =>
    {
        var rng = new Random(seed);
        // A message longer than a launch's byte limit is a launch of its own.
        var messages = Batches.Messages(rng, 100).Append(Batches.Slice(rng, 1500 + rng.Next(1000))).ToArray();
        var tag = Batches.Tag(rng);
        var expected = Batches.Digests(OpenClFixture.Reference, messages, tag);
        Assert.True(expected.SequenceEqual(Batches.Digests(fixture.Small, messages, tag)), $"seed {seed}: differs from the reference");
    });
}
