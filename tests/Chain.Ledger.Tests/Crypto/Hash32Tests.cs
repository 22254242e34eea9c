using Chain.Accel;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Crypto;

public class Hash32Tests
{
    /// <summary>
    /// Regression: GetHashCode narrowed a u64 to int in a checked build (CheckForOverflowUnderflow), so putting
    /// almost any hash or public key in a HashSet or Dictionary threw OverflowException.
    /// </summary>
    [Fact]
    public void Hashes_with_high_bits_set_work_as_dictionary_keys()
    {
        var max = Hash32.FromBytes(Enumerable.Repeat((byte)0xff, Hash32.Size).ToArray());
        var set = new HashSet<Hash32> { max, Hash32.Zero, Hash32.Sha256("x"u8) };
        Assert.Contains(max, set);
        var keys = new HashSet<PublicKey> { new(max), TestData.Key(0).PublicKey };
        Assert.Equal(2, keys.Count);
    }

    [Property(MaxTest = 200)]
    public Property Bytes_hex_and_order_round_trip() => Prop.ForAll(
        Generators.Arbitrary(r => (TestData.RandomHash(r), TestData.RandomHash(r))), s =>
        {
            var (a, b) = s.Value;
            Assert.Equal(a, Hash32.FromBytes(a.ToArray()));
            Assert.Equal(a, Hash32.Parse(a.ToString()));
            Assert.True(Hash32.TryParse(a.ToString().ToUpperInvariant(), out var upper) && upper == a);
            Assert.Equal(Math.Sign(a.ToArray().AsSpan().SequenceCompareTo(b.ToArray())), Math.Sign(a.CompareTo(b)));
            Assert.Equal(a.GetHashCode(), Hash32.FromBytes(a.ToArray()).GetHashCode());
            Assert.Equal(a.ToArray().AsSpan().SequenceEqual(b.ToArray()), a == b);
        });

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("000000000000000000000000000000000000000000000000000000000000000")]
    public void TryParse_rejects_anything_but_64_hex_characters(string text)
    {
        Assert.False(Hash32.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Hash32.Parse(text));
    }
}
