using System.Numerics;
using System.Security.Cryptography;
using Chain.Ai.Federated;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>A deterministic byte source for seeded tests (NOT cryptographically secure).</summary>
internal sealed class SeededRng(int seed) : RandomNumberGenerator
{
    private readonly Random _random = new(seed);

    public override void GetBytes(byte[] data) => _random.NextBytes(data);

    public override void GetBytes(Span<byte> data) => _random.NextBytes(data);
}

/// <summary>Keys shared by the tests (key generation dominates the cost; one seeded 512-bit key and one 1024-bit key).</summary>
internal static class PaillierTestKeys
{
    public const int Seed = 9005;
    public static readonly Lazy<PaillierKeyPair> Small = new(() => PaillierKeyPair.Generate(512, new SeededRng(Seed)));
    public static readonly Lazy<PaillierKeyPair> Medium = new(() => PaillierKeyPair.Generate(1024, new SeededRng(Seed + 1)));
}

/// <summary>Paillier keys, encryption, CRT decryption and the additive homomorphism.</summary>
public sealed class PaillierTests(ITestOutputHelper output)
{
    private static PaillierKeyPair Key => PaillierTestKeys.Small.Value;

    private static readonly Gen<BigInteger> Plaintexts =
        from bytes in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 64)
        from small in Gen.Choose(0, 3)
        select small switch
        {
            0 => BigInteger.Zero,
            1 => Key.PublicKey.N - 1,
            _ => new BigInteger(bytes, isUnsigned: true) % Key.PublicKey.N,
        };

    [Fact]
    public void Generated_key_has_the_requested_size_and_structure()
    {
        output.WriteLine($"seed {PaillierTestKeys.Seed}");
        foreach (var key in new[] { PaillierTestKeys.Small.Value, PaillierTestKeys.Medium.Value })
        {
            var pub = key.PublicKey;
            var priv = key.PrivateKey;
            Assert.Contains(pub.Bits, new[] { 512, 1024 });
            Assert.Equal(pub.N, priv.P * priv.Q);
            Assert.NotEqual(priv.P, priv.Q);
            Assert.Equal(pub.Bits / 2, (int)priv.P.GetBitLength());
            Assert.Equal(pub.Bits / 2, (int)priv.Q.GetBitLength());
            Assert.True(PaillierMath.IsProbablePrime(priv.P, 32));
            Assert.True(PaillierMath.IsProbablePrime(priv.Q, 32));
            Assert.Equal(BigInteger.One, BigInteger.GreatestCommonDivisor(pub.N, (priv.P - 1) * (priv.Q - 1)));
            Assert.Equal(pub.N * pub.N, pub.NSquared);
            Assert.Equal(BigInteger.One, priv.Lambda * priv.Mu % pub.N);
            Assert.Equal(BigInteger.Zero, priv.Lambda % (priv.P - 1));
            Assert.Equal(BigInteger.Zero, priv.Lambda % (priv.Q - 1));
        }
    }

    [Fact]
    public void Seeded_generation_is_deterministic()
    {
        var a = PaillierKeyPair.Generate(512, new SeededRng(17));
        var b = PaillierKeyPair.Generate(512, new SeededRng(17));
        Assert.Equal(a.PublicKey.N, b.PublicKey.N);
        Assert.NotEqual(a.PublicKey.N, Key.PublicKey.N);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(511)]
    [InlineData(513)]
    [InlineData(1000)]
    [InlineData(8192)]
    [InlineData(-2048)]
    public void Wrong_key_sizes_are_refused(int bits) =>
        Assert.Throws<ArgumentException>(() => PaillierKeyPair.Generate(bits));

    [Fact]
    public void Miller_rabin_agrees_with_trial_division_and_rejects_carmichael_numbers()
    {
        var rng = new SeededRng(3);
        for (var k = 0; k < 5000; k++)
        {
            var isPrime = k >= 2 && Enumerable.Range(2, Math.Max(0, (int)Math.Sqrt(k) - 1)).All(d => k % d != 0);
            Assert.Equal(isPrime, PaillierMath.IsProbablePrime(k, 8, rng));
        }
        foreach (var carmichael in new long[] { 561, 41041, 825265, 321197185, 5394826801, 232250619601, 9746347772161 })
            Assert.False(PaillierMath.IsProbablePrime(carmichael, 16, rng));
        // 2^127 − 1 and 2^521 − 1 are Mersenne primes; 2^128 + 1 is not prime.
        Assert.True(PaillierMath.IsProbablePrime(BigInteger.Pow(2, 127) - 1, 32, rng));
        Assert.True(PaillierMath.IsProbablePrime(BigInteger.Pow(2, 521) - 1, 32, rng));
        Assert.False(PaillierMath.IsProbablePrime(BigInteger.Pow(2, 128) + 1, 32, rng));
    }

    [Property(MaxTest = 40)]
    public Property Decrypt_inverts_encrypt() => Prop.ForAll(Arb.From(Plaintexts), m =>
        Key.PrivateKey.Decrypt(Key.PublicKey.Encrypt(m)) == m);

    [Property(MaxTest = 30)]
    public Property Crt_decryption_equals_lambda_mu_decryption() => Prop.ForAll(Arb.From(Plaintexts), m =>
    {
        var c = Key.PublicKey.Encrypt(m);
        var crt = Key.PrivateKey.Decrypt(c);
        return crt == Key.PrivateKey.DecryptWithoutCrt(c) && crt == m;
    });

    [Property(MaxTest = 30)]
    public Property Crt_decryption_equals_lambda_mu_on_arbitrary_units() => Prop.ForAll(Arb.From(Plaintexts), x =>
    {
        // Any c in Z*_{n²}, not only fresh encryptions, decrypts the same both ways.
        var c = (x * x + 2) % Key.PublicKey.NSquared;
        if (!BigInteger.GreatestCommonDivisor(c, Key.PublicKey.N).IsOne) return true;
        return Key.PrivateKey.Decrypt(c) == Key.PrivateKey.DecryptWithoutCrt(c);
    });

    [Property(MaxTest = 30)]
    public Property Product_of_ciphertexts_decrypts_to_sum_mod_n() => Prop.ForAll(Arb.From(Plaintexts), Arb.From(Plaintexts), (a, b) =>
    {
        var pub = Key.PublicKey;
        var sum = Key.PrivateKey.Decrypt(pub.Add(pub.Encrypt(a), pub.Encrypt(b)));
        var plainSum = Key.PrivateKey.Decrypt(pub.AddPlain(pub.Encrypt(a), b));
        return sum == (a + b) % pub.N && plainSum == sum;
    });

    [Property(MaxTest = 30)]
    public Property Power_of_ciphertext_decrypts_to_product_mod_n() => Prop.ForAll(Arb.From(Plaintexts), Arb.From(Plaintexts), (a, k) =>
    {
        var pub = Key.PublicKey;
        return Key.PrivateKey.Decrypt(pub.MultiplyPlain(pub.Encrypt(a), k)) == a * k % pub.N;
    });

    [Fact]
    public void Encryption_is_randomised_and_matches_the_formula()
    {
        var pub = Key.PublicKey;
        var m = new BigInteger(123456789);
        Assert.NotEqual(pub.Encrypt(m), pub.Encrypt(m));
        var r = pub.RandomUnit(new SeededRng(5));
        var expected = (1 + m * pub.N) * BigInteger.ModPow(r, pub.N, pub.NSquared) % pub.NSquared;
        Assert.Equal(expected, pub.EncryptWithNonce(m, r));
        // With g = n + 1, g^m = 1 + m·n mod n² (binomial theorem).
        Assert.Equal(BigInteger.ModPow(pub.N + 1, m, pub.NSquared), (1 + m * pub.N) % pub.NSquared);
    }

    [Fact]
    public void Out_of_range_plaintexts_and_ciphertexts_are_refused()
    {
        var pub = Key.PublicKey;
        Assert.Throws<ArgumentOutOfRangeException>(() => pub.Encrypt(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => pub.Encrypt(pub.N));
        Assert.Throws<ArgumentOutOfRangeException>(() => pub.AddPlain(pub.Encrypt(1), pub.N + 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => pub.MultiplyPlain(pub.Encrypt(1), -3));
        Assert.Throws<ArgumentOutOfRangeException>(() => pub.EncryptWithNonce(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Key.PrivateKey.Decrypt(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Key.PrivateKey.Decrypt(pub.NSquared));
        Assert.Throws<ArgumentOutOfRangeException>(() => pub.Add(pub.Encrypt(1), -7));
    }

    [Fact]
    public void From_primes_rebuilds_the_key_and_refuses_bad_primes()
    {
        var k = PaillierKeyPair.FromPrimes(Key.PrivateKey.P, Key.PrivateKey.Q);
        Assert.Equal(Key.PublicKey.N, k.PublicKey.N);
        Assert.Equal(Key.PrivateKey.Hp, k.PrivateKey.Hp);
        Assert.Throws<ArgumentException>(() => PaillierKeyPair.FromPrimes(Key.PrivateKey.P, Key.PrivateKey.P));
        Assert.Throws<ArgumentException>(() => PaillierKeyPair.FromPrimes(Key.PrivateKey.P, Key.PrivateKey.Q + 1));
        // p = 3, q = 7: gcd(21, 2·6) = 3, refused.
        Assert.Throws<ArgumentException>(() => PaillierKeyPair.FromPrimes(3, 7));
    }
}
