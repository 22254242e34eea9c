using System.Numerics;
using Chain.Ai.Federated;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// The fast Paillier path (Montgomery exponentiation, parallel and precomputed encryption, fast CRT decryption), encrypted
/// vectors (homomorphic sums, strict byte decoding) and the in-process round. Properties draw a seed and build their
/// inputs from it; a failure message names the seed.
/// </summary>
public sealed class PaillierAggregationTests(ITestOutputHelper output)
{
    private static PaillierKeyPair Key => PaillierTestKeys.Small.Value;

    private static PaillierPacker Packer(int clients = 8) => new(Key.PublicKey, fractionalBits: 20, slotBits: 32, maxAddends: clients);

    private static BigInteger RandomInteger(Random random, int maxBytes, bool signed = false)
    {
        var bytes = new byte[random.Next(1, maxBytes + 1)];
        random.NextBytes(bytes);
        var value = new BigInteger(bytes, isUnsigned: true);
        return signed && random.Next(4) == 0 ? -value : value;
    }

    private static float[] Update(Random random, int length, float bound) =>
        [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2 - 1) * bound))];

    [Property(MaxTest = 60)]
    public Property Montgomery_modpow_equals_BigInteger_ModPow() => Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), seed =>
    {
        var random = new Random(seed);
        var modulus = RandomInteger(random, random.Next(4) == 0 ? 8 : 300) | 1;
        if (modulus <= 1) modulus = 3;
        var mont = new Montgomery(modulus);
        var bases = new[] { BigInteger.Zero, BigInteger.One, modulus - 1, modulus, RandomInteger(random, 600, signed: true) };
        var exponents = new[] { BigInteger.Zero, BigInteger.One, 2, RandomInteger(random, random.Next(2) == 0 ? 8 : 260) };
        foreach (var b in bases)
        {
            foreach (var e in exponents)
            {
                var reduced = ((b % modulus) + modulus) % modulus;
                Assert.True(BigInteger.ModPow(reduced, e, modulus) == mont.ModPow(b, e),
                    $"seed {seed}: {b}^{e} mod {modulus} ({mont.Limbs} limbs)");
            }
        }
    });

    [Fact]
    public void Montgomery_refuses_even_or_tiny_moduli_and_negative_exponents()
    {
        Assert.Throws<ArgumentException>(() => new Montgomery(10));
        Assert.Throws<ArgumentException>(() => new Montgomery(1));
        Assert.Throws<ArgumentException>(() => new Montgomery(-7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Montgomery(7).ModPow(2, -1));
        Assert.Equal(BigInteger.One, new Montgomery(7).ModPow(5, 0));
    }

    [Property(MaxTest = 20)]
    public Property Fast_encryption_and_decryption_equal_the_reference() => Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), seed =>
    {
        var rng = new SeededRng(seed);
        var pub = Key.PublicKey;
        var encryptor = new PaillierEncryptor(pub);
        var decryptor = new PaillierDecryptor(Key.PrivateKey);
        var m = PaillierMath.RandomBelow(pub.N, rng);
        var r = pub.RandomUnit(rng);
        var c = encryptor.EncryptWithNonce(m, r);
        Assert.True(c == pub.EncryptWithNonce(m, r), $"seed {seed}: Montgomery encryption differs");
        Assert.True(c == encryptor.EncryptWithNoncePower(m, encryptor.NoncePower(r)), $"seed {seed}: the online part differs");
        Assert.True(decryptor.Decrypt(c) == m, $"seed {seed}: fast decryption does not invert");
        // Any unit of Z*_{n²}, not only fresh encryptions, decrypts the same both ways.
        var u = PaillierMath.RandomBelow(pub.NSquared, rng);
        if (!u.IsZero && BigInteger.GreatestCommonDivisor(u, pub.N).IsOne)
            Assert.True(decryptor.Decrypt(u) == Key.PrivateKey.Decrypt(u), $"seed {seed}: fast CRT differs on a unit");
    });

    [Property(MaxTest = 12)]
    public Property Homomorphic_vector_sum_equals_plain_sum() => Prop.ForAll(
        Arb.From(Gen.Choose(1, 6)), Arb.From(Gen.Choose(0, 150)), Arb.From(Gen.Choose(0, int.MaxValue)), (clients, length, seed) =>
    {
        var random = new Random(seed);
        var packer = Packer(clients);
        var encryptor = new PaillierEncryptor(Key.PublicKey);
        var updates = Enumerable.Range(0, clients).Select(_ => Update(random, length, 7.5f)).ToList();
        var vectors = updates.Select(u => PaillierVector.Encrypt(encryptor, packer, u,
            new PaillierEncryptOptions { Threads = random.Next(1, 4), Rng = new SeededRng(random.Next()) })).ToList();
        // The aggregator's sum, once at once and once pairwise.
        var sum = PaillierVector.Sum(vectors, threads: 2);
        var pairwise = vectors.Skip(1).Aggregate(vectors[0], (a, b) => a.Add(b));
        Assert.Equal(sum.Ciphertexts, pairwise.Ciphertexts);
        Assert.Equal(clients, sum.Addends);
        var decrypted = sum.Decrypt(new PaillierDecryptor(Key.PrivateKey), threads: 2);
        Assert.Equal(length, decrypted.Length);
        for (var i = 0; i < length; i++)
        {
            var plain = updates.Sum(u => (double)u[i]);
            var tolerance = clients * packer.Resolution / 2 + Math.Abs(plain) * Math.ScaleB(1.0, -24);
            Assert.True(Math.Abs(decrypted[i] - plain) <= tolerance, $"seed {seed}: value {i}: {decrypted[i]} vs {plain}");
        }
    });

    [Fact]
    public void Parallel_and_sequential_encryption_give_identical_ciphertexts_and_sums()
    {
        const int seed = 4242;
        output.WriteLine($"seed {seed}");
        var packer = Packer();
        var encryptor = new PaillierEncryptor(Key.PublicKey);
        var update = Update(new Random(seed), 500, 3f);
        var sequential = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Threads = 1, Rng = new SeededRng(seed) });
        var parallel = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Threads = 3, Rng = new SeededRng(seed) });
        Assert.Equal(sequential.Ciphertexts, parallel.Ciphertexts);
        // The same nonces through the reference path (BigInteger.ModPow) give the same ciphertexts.
        var rng = new SeededRng(seed);
        var plaintexts = packer.Pack(update);
        var reference = plaintexts.Select(m => Key.PublicKey.EncryptWithNonce(m, Key.PublicKey.RandomUnit(rng))).ToList();
        Assert.Equal(reference, sequential.Ciphertexts);
        // Fresh system randomness: different ciphertexts, the same values.
        var fresh = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Threads = 2 });
        Assert.NotEqual(sequential.Ciphertexts, fresh.Ciphertexts);
        var decryptor = new PaillierDecryptor(Key.PrivateKey);
        var one = sequential.Decrypt(decryptor, threads: 1);
        Assert.Equal(one, parallel.Decrypt(decryptor, threads: 3));
        Assert.Equal(one, fresh.Decrypt(decryptor, threads: 2));
        Assert.Equal(one, packer.Decrypt(Key.PrivateKey, new PackedCiphertexts(sequential.Length, sequential.Ciphertexts), 1));
    }

    [Fact]
    public void Precomputed_nonce_powers_are_used_once_and_decrypt_the_same()
    {
        var packer = Packer();
        var encryptor = new PaillierEncryptor(Key.PublicKey);
        var update = Update(new Random(5), 300, 2f);
        var count = packer.CiphertextCount(update.Length);
        var pool = new PaillierNoncePool(encryptor);
        pool.Fill(count + 2, threads: 2, rng: new SeededRng(77));
        Assert.Equal(count + 2, pool.Count);
        var pooled = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Pool = pool });
        Assert.Equal(2, pool.Count);
        // The same seed drawn for nonces directly gives the same ciphertexts: the pool changes when, not what, is computed.
        var direct = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Rng = new SeededRng(77) });
        Assert.Equal(direct.Ciphertexts, pooled.Ciphertexts);
        // A pool short of powers falls back to fresh nonces for the rest.
        var rest = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Pool = pool });
        Assert.Equal(0, pool.Count);
        var decryptor = new PaillierDecryptor(Key.PrivateKey);
        Assert.Equal(direct.Decrypt(decryptor), rest.Decrypt(decryptor));
        var otherKey = new PaillierNoncePool(new PaillierEncryptor(PaillierTestKeys.Medium.Value.PublicKey));
        Assert.Equal(PaillierError.WrongKey, Assert.Throws<PaillierException>(() =>
            PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Pool = otherKey })).Error);
    }

    [Fact]
    public void Serialisation_round_trips_a_client_update_and_a_sum()
    {
        var packer = Packer(4);
        var encryptor = new PaillierEncryptor(Key.PublicKey);
        var random = new Random(11);
        var a = PaillierVector.Encrypt(encryptor, packer, Update(random, 77, 1f));
        var b = PaillierVector.Encrypt(encryptor, packer, Update(random, 77, 1f));
        foreach (var v in new[] { a, a.Add(b), PaillierVector.Encrypt(encryptor, packer, []) })
        {
            var bytes = v.ToBytes();
            Assert.Equal(PaillierVector.EncodedSize(packer, v.Length), bytes.Length);
            var back = PaillierVector.FromBytes(bytes, packer);
            Assert.Equal((v.Length, v.Addends), (back.Length, back.Addends));
            Assert.Equal(v.Ciphertexts, back.Ciphertexts);
            Assert.Equal(bytes, back.ToBytes());
        }
        // 512-bit n: n² has 1023 or 1024 bits, 128 bytes per ciphertext; 15 values per ciphertext.
        Assert.Equal(55 + 6 * 128, a.ToBytes().Length);
    }

    [Fact]
    public void Malformed_truncated_and_foreign_encodings_are_refused_with_typed_errors()
    {
        var packer = Packer(4);
        var vector = PaillierVector.Encrypt(new PaillierEncryptor(Key.PublicKey), packer, Update(new Random(3), 40, 1f));
        var good = vector.ToBytes();

        PaillierError Decode(byte[] bytes, PaillierPacker? with = null) =>
            Assert.Throws<PaillierException>(() => PaillierVector.FromBytes(bytes, with ?? packer)).Error;
        byte[] Edit(Action<byte[]> edit)
        {
            var copy = (byte[])good.Clone();
            edit(copy);
            return copy;
        }

        Assert.Equal(PaillierError.Truncated, Decode([]));
        Assert.Equal(PaillierError.Truncated, Decode(good[..54]));
        Assert.Equal(PaillierError.Truncated, Decode(good[..^1]));
        Assert.Equal(PaillierError.Malformed, Decode([.. good, 0]));
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[0] = (byte)'X')));
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[4] = 2)));
        Assert.Equal(PaillierError.WrongKey, Decode(Edit(b => b[20] ^= 1)));
        Assert.Equal(PaillierError.WrongKey, Decode(good, new PaillierPacker(PaillierTestKeys.Medium.Value.PublicKey, 20, 32, 4)));
        Assert.Equal(PaillierError.WrongPacking, Decode(good, new PaillierPacker(Key.PublicKey, 20, 32, 5)));
        Assert.Equal(PaillierError.WrongPacking, Decode(Edit(b => b[37] = 48)));
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[46] = 0))); // addends 0
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[46] = 5))); // addends above the maximum
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[47] = 0x80))); // negative length
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[50] = 46))); // 46 values need 4 ciphertexts, not 3
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => b[54] = 4))); // 4 ciphertexts for 40 values
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => Array.Clear(b, 55, 128)))); // ciphertext 0
        Assert.Equal(PaillierError.Malformed, Decode(Edit(b => Array.Fill(b, (byte)0xFF, 55 + 128, 128)))); // ≥ n²
        // Every truncation of a valid encoding is refused as truncated.
        for (var cut = 0; cut < good.Length; cut += 37) Assert.Equal(PaillierError.Truncated, Decode(good[..cut]));
    }

    [Fact]
    public void Length_41_is_refused_only_by_its_ciphertext_count_or_size()
    {
        // 15 values per ciphertext: 40 and 41 values both take 3 ciphertexts, so changing the length to 41 decodes;
        // the decrypted vector then has 41 values, the last one the packing's zero offset (0).
        var packer = Packer(4);
        var vector = PaillierVector.Encrypt(new PaillierEncryptor(Key.PublicKey), packer, Update(new Random(3), 40, 1f));
        var bytes = vector.ToBytes();
        bytes[50] = 41;
        var decoded = PaillierVector.FromBytes(bytes, packer);
        var values = decoded.Decrypt(new PaillierDecryptor(Key.PrivateKey));
        Assert.Equal(41, values.Length);
        Assert.Equal(-packer.MaxAbs - packer.Resolution, values[40], 3); // an empty slot decodes to −offset
    }

    [Fact]
    public void Sums_refuse_too_many_addends_other_shapes_and_other_keys()
    {
        var packer = Packer(2);
        var encryptor = new PaillierEncryptor(Key.PublicKey);
        var random = new Random(8);
        var a = PaillierVector.Encrypt(encryptor, packer, Update(random, 20, 1f));
        var two = a.Add(a);
        Assert.Equal(PaillierError.TooManyAddends, Assert.Throws<PaillierException>(() => two.Add(a)).Error);
        var shorter = PaillierVector.Encrypt(encryptor, packer, Update(random, 19, 1f));
        Assert.Equal(PaillierError.ShapeMismatch, Assert.Throws<PaillierException>(() => a.Add(shorter)).Error);
        var medium = PaillierTestKeys.Medium.Value;
        var foreign = PaillierVector.Encrypt(new PaillierEncryptor(medium.PublicKey), new PaillierPacker(medium.PublicKey, 20, 32, 2), Update(random, 20, 1f));
        Assert.Equal(PaillierError.WrongKey, Assert.Throws<PaillierException>(() => a.Add(foreign)).Error);
        Assert.Equal(PaillierError.WrongKey, Assert.Throws<PaillierException>(() => a.Decrypt(new PaillierDecryptor(medium.PrivateKey))).Error);
        Assert.Equal(PaillierError.WrongKey, Assert.Throws<PaillierException>(() =>
            PaillierVector.Encrypt(new PaillierEncryptor(medium.PublicKey), packer, [1f])).Error);
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierVector.Encrypt(encryptor, packer, [1f], new PaillierEncryptOptions { Threads = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierVector.Encrypt(encryptor, packer, [1e9f]));
    }

    [Fact]
    public void A_small_round_decrypts_the_plain_sum_with_and_without_precomputation()
    {
        foreach (var precompute in new[] { false, true })
        {
            var report = PaillierAggregation.Round(Key, new PaillierRoundOptions
            {
                Clients = 3, Parameters = 250, Threads = 2, SlotBits = 32, FractionalBits = 20, Precompute = precompute, Seed = 9,
            });
            output.WriteLine($"precompute {precompute}: encrypt {report.ClientEncryptTotal.TotalMilliseconds:0} ms, offline "
                             + $"{report.ClientOfflineTotal.TotalMilliseconds:0} ms, error {report.MaxAbsError:G3} (bound {report.ErrorBound:G3})");
            Assert.True(report.SumMatches, $"error {report.MaxAbsError} above {report.ErrorBound}");
            Assert.Equal((3, 250, 15, 17), (report.Clients, report.Parameters, report.SlotsPerCiphertext, report.CiphertextsPerClient));
            Assert.Equal(PaillierVector.EncodedSize(new PaillierPacker(Key.PublicKey, 20, 32, 3), 250), report.BytesPerClient);
            Assert.Equal(3, report.ClientEncrypt.Count);
            Assert.Equal(precompute, report.ClientOffline.All(t => t > TimeSpan.Zero));
            Assert.True(report.ClientEncryptWall <= report.ClientEncryptTotal);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierAggregation.Round(Key, new PaillierRoundOptions { Clients = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierAggregation.Round(Key, new PaillierRoundOptions { Parameters = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierAggregation.Round(Key, new PaillierRoundOptions { UpdateBound = 1e6f }));
    }

    [Fact]
    public void Unit_costs_are_measured_on_agreeing_paths()
    {
        var costs = PaillierAggregation.MeasureUnitCosts(Key, repetitions: 3);
        output.WriteLine(costs.ToString());
        Assert.Equal(512, costs.Bits);
        Assert.True(costs.EncryptMontgomeryMs > 0 && costs.EncryptOnlineMs > 0 && costs.DecryptCrtMontgomeryMs > 0 && costs.AddMs > 0);
    }

    [Fact]
    public async Task The_cli_runs_a_round_and_refuses_bad_arguments()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Cli.Program.RunAsync(["fl", "paillier", "--clients", "3", "--params", "200", "--bits", "512", "--threads", "2",
            "--unit-reps", "2", "--fractional-bits", "20"], stdout, stderr);
        output.WriteLine(stdout.ToString());
        Assert.True(code == 0, $"exit {code}: {stderr}");
        var text = stdout.ToString();
        Assert.Contains("python-paillier", text, StringComparison.Ordinal);
        Assert.Contains("15 values per ciphertext", text, StringComparison.Ordinal);
        Assert.Contains(": OK", text, StringComparison.Ordinal);
        Assert.Contains("bytes per client", text, StringComparison.Ordinal);
        foreach (var bad in new string[][] { ["--bits", "1000"], ["--clients", "0", "--bits", "512"], ["--threads", "-1", "--bits", "512"] })
        {
            using var badOut = new StringWriter();
            using var badErr = new StringWriter();
            Assert.Equal(2, await Cli.Program.RunAsync(["fl", "paillier", "--params", "10", .. bad], badOut, badErr));
            Assert.Contains("error:", badErr.ToString(), StringComparison.Ordinal);
        }
    }
}
