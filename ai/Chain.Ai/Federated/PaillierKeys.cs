using System.Numerics;
using System.Security.Cryptography;

namespace Chain.Ai.Federated;

/// <summary>
/// A Paillier public key with g = n + 1: encryption, and the additive homomorphism on ciphertexts.
/// Plaintexts are integers in [0, n); ciphertexts are integers in Z*_{n^2}.
/// </summary>
public sealed class PaillierPublicKey
{
    public PaillierPublicKey(BigInteger n)
    {
        if (n < 15 || n.IsEven) throw new ArgumentException("n must be an odd composite of at least 4 bits.", nameof(n));
        N = n;
        NSquared = n * n;
        Bits = checked((int)n.GetBitLength());
    }

    /// <summary>The modulus n = p·q.</summary>
    public BigInteger N { get; }

    /// <summary>n², the ciphertext modulus.</summary>
    public BigInteger NSquared { get; }

    /// <summary>The bit length of n.</summary>
    public int Bits { get; }

    /// <summary>E(m) = (1 + m·n)·r^n mod n² for a fresh random r in Z*_n (the g = n + 1 shortcut for g^m).</summary>
    public BigInteger Encrypt(BigInteger m, RandomNumberGenerator? rng = null)
    {
        CheckPlaintext(m, nameof(m));
        var r = RandomUnit(rng);
        return EncryptWithNonce(m, r);
    }

    /// <summary>E(m) with a given nonce r in Z*_n (deterministic; for tests and for precomputed nonces).</summary>
    public BigInteger EncryptWithNonce(BigInteger m, BigInteger r)
    {
        CheckPlaintext(m, nameof(m));
        if (r <= 0 || r >= N) throw new ArgumentOutOfRangeException(nameof(r), "The nonce must lie in [1, n).");
        var gm = (BigInteger.One + m * N) % NSquared;
        return gm * BigInteger.ModPow(r, N, NSquared) % NSquared;
    }

    /// <summary>E(a)·E(b) mod n² = E(a + b mod n).</summary>
    public BigInteger Add(BigInteger c1, BigInteger c2)
    {
        CheckCiphertext(c1, nameof(c1));
        CheckCiphertext(c2, nameof(c2));
        return c1 * c2 % NSquared;
    }

    /// <summary>E(a)·(1 + k·n) mod n² = E(a + k mod n) (no fresh randomness: the result is as hiding as <paramref name="c"/>).</summary>
    public BigInteger AddPlain(BigInteger c, BigInteger k)
    {
        CheckCiphertext(c, nameof(c));
        CheckPlaintext(k, nameof(k));
        return c * ((BigInteger.One + k * N) % NSquared) % NSquared;
    }

    /// <summary>E(a)^k mod n² = E(k·a mod n).</summary>
    public BigInteger MultiplyPlain(BigInteger c, BigInteger k)
    {
        CheckCiphertext(c, nameof(c));
        CheckPlaintext(k, nameof(k));
        return BigInteger.ModPow(c, k, NSquared);
    }

    /// <summary>A uniform random r in [1, n) with gcd(r, n) = 1.</summary>
    public BigInteger RandomUnit(RandomNumberGenerator? rng = null)
    {
        while (true)
        {
            var r = PaillierMath.RandomBelow(N, rng);
            if (!r.IsZero && BigInteger.GreatestCommonDivisor(r, N).IsOne) return r;
        }
    }

    internal void CheckPlaintext(BigInteger m, string name)
    {
        if (m.Sign < 0 || m >= N) throw new ArgumentOutOfRangeException(name, "A Paillier plaintext must lie in [0, n).");
    }

    internal void CheckCiphertext(BigInteger c, string name)
    {
        if (c.Sign <= 0 || c >= NSquared) throw new ArgumentOutOfRangeException(name, "A Paillier ciphertext must lie in [1, n²).");
    }
}

/// <summary>
/// A Paillier private key: λ = lcm(p−1, q−1), μ = λ⁻¹ mod n, and the CRT precomputation of Paillier (1999, §7) as in
/// python-paillier's <c>decrypt_raw</c>: p², q², hp = L_p(g^(p−1) mod p²)⁻¹ mod p, hq likewise, p⁻¹ mod q.
/// </summary>
public sealed class PaillierPrivateKey
{
    internal PaillierPrivateKey(PaillierPublicKey publicKey, BigInteger p, BigInteger q)
    {
        if (p == q) throw new ArgumentException("p and q must be distinct.");
        if (p * q != publicKey.N) throw new ArgumentException("p·q must equal n.");
        if (q < p) (p, q) = (q, p);
        PublicKey = publicKey;
        P = p;
        Q = q;
        PSquared = p * p;
        QSquared = q * q;
        var pm1 = p - 1;
        var qm1 = q - 1;
        Lambda = pm1 * qm1 / BigInteger.GreatestCommonDivisor(pm1, qm1);
        // With g = n + 1: L(g^λ mod n²) = λ mod n, so μ = λ⁻¹ mod n.
        Mu = PaillierMath.ModInverse(Lambda % publicKey.N, publicKey.N);
        var g = publicKey.N + 1;
        Hp = HFunction(g, p, PSquared);
        Hq = HFunction(g, q, QSquared);
        PInverse = PaillierMath.ModInverse(p, q);
    }

    public PaillierPublicKey PublicKey { get; }
    public BigInteger P { get; }
    public BigInteger Q { get; }
    public BigInteger PSquared { get; }
    public BigInteger QSquared { get; }
    public BigInteger Lambda { get; }
    public BigInteger Mu { get; }

    /// <summary>hp = L_p(g^(p−1) mod p²)⁻¹ mod p.</summary>
    public BigInteger Hp { get; }

    /// <summary>hq = L_q(g^(q−1) mod q²)⁻¹ mod q.</summary>
    public BigInteger Hq { get; }

    /// <summary>p⁻¹ mod q, for the CRT recombination.</summary>
    public BigInteger PInverse { get; }

    /// <summary>
    /// CRT decryption: mp = L_p(c^(p−1) mod p²)·hp mod p, mq likewise, m = mp + ((mq − mp)·p⁻¹ mod q)·p.
    /// Two exponentiations of half-size exponents modulo p² and q² instead of one full-size one modulo n².
    /// </summary>
    public BigInteger Decrypt(BigInteger c)
    {
        PublicKey.CheckCiphertext(c, nameof(c));
        var mp = L(BigInteger.ModPow(c % PSquared, P - 1, PSquared), P) * Hp % P;
        var mq = L(BigInteger.ModPow(c % QSquared, Q - 1, QSquared), Q) * Hq % Q;
        var u = (mq - mp) * PInverse % Q;
        if (u.Sign < 0) u += Q;
        return mp + u * P;
    }

    /// <summary>Textbook decryption m = L(c^λ mod n²)·μ mod n (the reference for <see cref="Decrypt"/>).</summary>
    public BigInteger DecryptWithoutCrt(BigInteger c)
    {
        PublicKey.CheckCiphertext(c, nameof(c));
        var n = PublicKey.N;
        return L(BigInteger.ModPow(c, Lambda, PublicKey.NSquared), n) * Mu % n;
    }

    private static BigInteger L(BigInteger x, BigInteger d) => (x - 1) / d;

    private static BigInteger HFunction(BigInteger g, BigInteger x, BigInteger xSquared) =>
        PaillierMath.ModInverse(L(BigInteger.ModPow(g % xSquared, x - 1, xSquared), x), x);
}

/// <summary>A Paillier key pair.</summary>
public sealed class PaillierKeyPair
{
    /// <summary>The smallest accepted modulus size (for tests only; use 2048 or 3072 bits in production).</summary>
    public const int MinBits = 512;

    /// <summary>The largest accepted modulus size.</summary>
    public const int MaxBits = 4096;

    /// <summary>Miller–Rabin rounds with random bases per prime candidate (error ≤ 4^−64 per accepted prime, before the
    /// much better average-case bound for random candidates).</summary>
    public const int MillerRabinRounds = 64;

    private PaillierKeyPair(PaillierPublicKey publicKey, PaillierPrivateKey privateKey)
    {
        PublicKey = publicKey;
        PrivateKey = privateKey;
    }

    public PaillierPublicKey PublicKey { get; }
    public PaillierPrivateKey PrivateKey { get; }

    /// <summary>
    /// A fresh key pair with an n of exactly <paramref name="bits"/> bits: two distinct random primes p, q of bits/2 bits each
    /// (top two bits set, so p·q has exactly <paramref name="bits"/> bits), gcd(pq, (p−1)(q−1)) = 1, g = n + 1.
    /// </summary>
    /// <param name="bits">A multiple of 256 in [512, 4096]; 2048 or 3072 for real use, 512/1024 for tests.</param>
    /// <param name="rng">The randomness source (default: the system CSPRNG).</param>
    public static PaillierKeyPair Generate(int bits = 2048, RandomNumberGenerator? rng = null)
    {
        if (bits < MinBits || bits > MaxBits || bits % 256 != 0)
            throw new ArgumentException($"The key size must be a multiple of 256 in [{MinBits}, {MaxBits}] bits, not {bits}.", nameof(bits));
        var half = bits / 2;
        while (true)
        {
            var p = PaillierMath.RandomPrime(half, MillerRabinRounds, rng);
            var q = PaillierMath.RandomPrime(half, MillerRabinRounds, rng);
            if (p == q) continue;
            var n = p * q;
            if (n.GetBitLength() != bits) continue;
            if (!BigInteger.GreatestCommonDivisor(n, (p - 1) * (q - 1)).IsOne) continue;
            var pub = new PaillierPublicKey(n);
            return new PaillierKeyPair(pub, new PaillierPrivateKey(pub, p, q));
        }
    }

    /// <summary>A key pair from known primes (for tests and for loading a stored key); checks primality and the gcd condition.</summary>
    public static PaillierKeyPair FromPrimes(BigInteger p, BigInteger q, RandomNumberGenerator? rng = null)
    {
        if (p == q) throw new ArgumentException("p and q must be distinct.");
        if (!PaillierMath.IsProbablePrime(p, MillerRabinRounds, rng)) throw new ArgumentException("p is not prime.", nameof(p));
        if (!PaillierMath.IsProbablePrime(q, MillerRabinRounds, rng)) throw new ArgumentException("q is not prime.", nameof(q));
        var n = p * q;
        if (!BigInteger.GreatestCommonDivisor(n, (p - 1) * (q - 1)).IsOne)
            throw new ArgumentException("gcd(pq, (p−1)(q−1)) must be 1.");
        var pub = new PaillierPublicKey(n);
        return new PaillierKeyPair(pub, new PaillierPrivateKey(pub, p, q));
    }
}

/// <summary>Number theory for Paillier: modular inverse, uniform sampling, Miller–Rabin.</summary>
public static class PaillierMath
{
    private static readonly int[] SmallPrimes = Enumerable.Range(3, 2000).Where(IsSmallPrime).ToArray();

    /// <summary>x⁻¹ mod m (extended Euclid); throws if gcd(x, m) ≠ 1.</summary>
    public static BigInteger ModInverse(BigInteger x, BigInteger m)
    {
        if (m <= 1) throw new ArgumentOutOfRangeException(nameof(m), "The modulus must exceed 1.");
        BigInteger a = ((x % m) + m) % m, b = m, x0 = 1, x1 = 0;
        while (!b.IsZero)
        {
            var q = BigInteger.DivRem(a, b, out var rem);
            (a, b) = (b, rem);
            (x0, x1) = (x1, x0 - q * x1);
        }
        if (!a.IsOne) throw new ArgumentException("The value has no inverse modulo m.", nameof(x));
        return ((x0 % m) + m) % m;
    }

    /// <summary>A uniform integer in [0, bound) by rejection sampling on the bit length of bound.</summary>
    public static BigInteger RandomBelow(BigInteger bound, RandomNumberGenerator? rng = null)
    {
        if (bound.Sign <= 0) throw new ArgumentOutOfRangeException(nameof(bound), "The bound must be positive.");
        var bits = (int)bound.GetBitLength();
        var bytes = new byte[(bits + 7) / 8];
        var topMask = (byte)(0xFF >> (bytes.Length * 8 - bits));
        while (true)
        {
            Fill(rng, bytes);
            bytes[^1] &= topMask;
            var r = new BigInteger(bytes, isUnsigned: true);
            if (r < bound) return r;
        }
    }

    /// <summary>A random probable prime of exactly <paramref name="bits"/> bits with its top two bits set.</summary>
    public static BigInteger RandomPrime(int bits, int rounds, RandomNumberGenerator? rng = null)
    {
        if (bits < 16) throw new ArgumentOutOfRangeException(nameof(bits), "At least 16 bits.");
        var bytes = new byte[(bits + 7) / 8];
        var excess = bytes.Length * 8 - bits;
        while (true)
        {
            Fill(rng, bytes);
            bytes[^1] &= (byte)(0xFF >> excess);
            bytes[^1] |= (byte)(0xC0 >> excess); // top two bits: p·q has exactly 2·bits bits
            bytes[0] |= 1;
            var candidate = new BigInteger(bytes, isUnsigned: true);
            if (IsProbablePrime(candidate, rounds, rng)) return candidate;
        }
    }

    /// <summary>Trial division by small primes, then Miller–Rabin with <paramref name="rounds"/> uniform random bases in [2, n−2].</summary>
    public static bool IsProbablePrime(BigInteger n, int rounds, RandomNumberGenerator? rng = null)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), "At least one round.");
        if (n < 2) return false;
        if (n == 2) return true;
        if (n.IsEven) return false;
        foreach (var sp in SmallPrimes)
        {
            if (n == sp) return true;
            if ((n % sp).IsZero) return false;
        }
        var d = n - 1;
        var s = 0;
        while (d.IsEven) { d >>= 1; s++; }
        var nm1 = n - 1;
        for (var i = 0; i < rounds; i++)
        {
            var a = RandomBelow(n - 3, rng) + 2;
            var x = BigInteger.ModPow(a, d, n);
            if (x.IsOne || x == nm1) continue;
            var composite = true;
            for (var j = 1; j < s && composite; j++)
            {
                x = x * x % n;
                if (x == nm1) composite = false;
            }
            if (composite) return false;
        }
        return true;
    }

    private static void Fill(RandomNumberGenerator? rng, byte[] bytes)
    {
        if (rng is null) RandomNumberGenerator.Fill(bytes);
        else rng.GetBytes(bytes);
    }

    private static bool IsSmallPrime(int k)
    {
        for (var i = 2; i * i <= k; i++) if (k % i == 0) return false;
        return true;
    }
}
