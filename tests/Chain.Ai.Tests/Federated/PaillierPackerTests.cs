using System.Numerics;
using Chain.Ai.Federated;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>Fixed-point encoding and packing of float vectors into Paillier plaintexts; secure sums of several clients.</summary>
public sealed class PaillierPackerTests(ITestOutputHelper output)
{
    private static PaillierKeyPair Key => PaillierTestKeys.Small.Value;

    [Fact]
    public void Slot_arithmetic_matches_the_documented_layout()
    {
        // 512-bit n: ⌊511/48⌋ = 10 slots; K = 10 → h = 4; bound (2^43 − 1)/2^20.
        var packer = new PaillierPacker(Key.PublicKey, fractionalBits: 20, slotBits: 48, maxAddends: 10);
        Assert.Equal(10, packer.SlotsPerCiphertext);
        Assert.Equal(4, packer.HeadroomBits);
        Assert.Equal((Math.Pow(2, 43) - 1) / Math.Pow(2, 20), packer.MaxAbs);
        Assert.Equal(3, packer.CiphertextCount(25));
        Assert.Equal(4, new PaillierPacker(Key.PublicKey, 10, 64, 16).HeadroomBits);
        Assert.Equal(5, new PaillierPacker(Key.PublicKey, 10, 64, 17).HeadroomBits);
        Assert.Equal(0, new PaillierPacker(Key.PublicKey, 10, 64, 1).HeadroomBits);
        // 2048-bit n would hold ⌊2047/48⌋ = 42 values per ciphertext.
        Assert.Equal(42, 2047 / 48);
    }

    [Fact]
    public void Packing_puts_each_value_in_its_own_slot()
    {
        var packer = new PaillierPacker(Key.PublicKey, fractionalBits: 4, slotBits: 16, maxAddends: 4);
        var offset = 1 << (16 - 2 - 1);
        var plain = packer.Pack([1f, -2f, 0.5f]);
        Assert.Single(plain);
        var expected = (BigInteger)(offset + 16) + ((BigInteger)(offset - 32) << 16) + ((BigInteger)(offset + 8) << 32);
        Assert.Equal(expected, plain[0]);
    }

    private static Gen<float[]> Vectors(double bound, int maxLength) =>
        from length in Gen.Choose(0, maxLength)
        from values in Gen.ArrayOf(Gen.Choose(-1_000_000, 1_000_000).Select(i => (float)(i / 1_000_000.0 * bound)), length)
        select values;

    [Property(MaxTest = 25)]
    public Property Round_trip_within_fixed_point_precision() => Prop.ForAll(Arb.From(Vectors(1000, 40)), values =>
    {
        var packer = new PaillierPacker(Key.PublicKey, fractionalBits: 20, slotBits: 48, maxAddends: 10);
        var back = packer.Decrypt(Key.PrivateKey, packer.Encrypt(values), addends: 1);
        var tolerance = packer.Resolution / 2;
        return back.Length == values.Length
            && values.Zip(back).All(t => Math.Abs(t.First - t.Second) <= tolerance + Math.Abs(t.First) * 1e-7);
    });

    [Property(MaxTest = 15)]
    public Property Packed_sum_of_clients_equals_plain_sum() => Prop.ForAll(
        Arb.From(Gen.Choose(1, 10)), Arb.From(Gen.Choose(1, 30)), Arb.From(Gen.Choose(0, int.MaxValue)), (clients, length, seed) =>
    {
        var packer = new PaillierPacker(Key.PublicKey, fractionalBits: 16, slotBits: 40, maxAddends: 10);
        var random = new Random(seed);
        var vectors = Enumerable.Range(0, clients)
            .Select(_ => Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2 - 1) * packer.MaxAbs)).ToArray())
            .ToArray();
        var sum = vectors.Select(v => packer.Encrypt(v)).Aggregate(packer.Add);
        var decrypted = packer.Decrypt(Key.PrivateKey, sum, clients);
        var ok = true;
        for (var i = 0; i < length; i++)
        {
            var plain = vectors.Sum(v => (double)v[i]);
            var tolerance = clients * packer.Resolution / 2 + Math.Abs(plain) * 1.2e-7;
            ok &= Math.Abs(decrypted[i] - plain) <= tolerance;
        }
        return ok.Label($"seed {seed}, clients {clients}, length {length}");
    });

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(16)]
    public void Extreme_values_at_the_bounds_sum_without_carrying(int clients)
    {
        // The worst cases for a slot: every client at +MaxAbs (the slot's top) or −MaxAbs (the slot's bottom), alternating
        // per slot so that any carry or borrow between neighbours would show.
        // 28-bit slots, 4 headroom bits: offset 2^23, bound (2^23 − 1)/2^12, exactly representable as a float.
        var packer = new PaillierPacker(Key.PublicKey, fractionalBits: 12, slotBits: 28, maxAddends: 16);
        var max = (float)packer.MaxAbs;
        Assert.Equal(packer.MaxAbs, max);
        var length = packer.SlotsPerCiphertext * 2 + 3;
        var values = Enumerable.Range(0, length).Select(i => i % 3 == 0 ? max : i % 3 == 1 ? -max : 0f).ToArray();
        var sum = Enumerable.Range(0, clients).Select(_ => packer.Encrypt(values)).Aggregate(packer.Add);
        var decrypted = packer.Decrypt(Key.PrivateKey, sum, clients);
        output.WriteLine($"max {max}, slots {packer.SlotsPerCiphertext}, clients {clients}, first sums {decrypted[0]}, {decrypted[1]}");
        for (var i = 0; i < length; i++) Assert.Equal((double)values[i] * clients, (double)decrypted[i]); // exact: multiples of 2^−12 within float precision
    }

    [Fact]
    public void Out_of_range_and_non_finite_values_are_refused()
    {
        var packer = new PaillierPacker(Key.PublicKey, fractionalBits: 12, slotBits: 32, maxAddends: 16);
        var over = (float)(packer.MaxAbs + 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => packer.Encrypt([0f, over]));
        Assert.Throws<ArgumentOutOfRangeException>(() => packer.Encrypt([-over]));
        Assert.Throws<ArgumentException>(() => packer.Encrypt([float.NaN]));
        Assert.Throws<ArgumentException>(() => packer.Encrypt([float.PositiveInfinity]));
        var ok = packer.Encrypt([1f, 2f]);
        Assert.Throws<ArgumentOutOfRangeException>(() => packer.Decrypt(Key.PrivateKey, ok, 17));
        Assert.Throws<ArgumentOutOfRangeException>(() => packer.Decrypt(Key.PrivateKey, ok, 0));
        Assert.Throws<ArgumentException>(() => packer.Add(ok, packer.Encrypt([1f])));
        Assert.Throws<ArgumentException>(() => packer.Decrypt(PaillierTestKeys.Medium.Value.PrivateKey, ok, 1));
    }

    [Fact]
    public void Bad_packer_parameters_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PaillierPacker(Key.PublicKey, 12, 65, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PaillierPacker(Key.PublicKey, 12, 1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PaillierPacker(Key.PublicKey, -1, 32, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PaillierPacker(Key.PublicKey, 12, 32, 0));
        Assert.Throws<ArgumentException>(() => new PaillierPacker(Key.PublicKey, 12, 8, 1 << 7)); // 7 headroom bits in 8
    }
}
