using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics;
using System.Security.Cryptography;

namespace Chain.Ai.Federated;

/// <summary>What is wrong with a Paillier input.</summary>
public enum PaillierError
{
    /// <summary>The bytes end before the encoding does.</summary>
    Truncated,

    /// <summary>The bytes are not an encrypted vector (magic, version, counts, trailing bytes, a ciphertext out of range).</summary>
    Malformed,

    /// <summary>Encrypted under (or decrypted with) another public key.</summary>
    WrongKey,

    /// <summary>Packed with other slot parameters than the packer's.</summary>
    WrongPacking,

    /// <summary>More addends than the packing's headroom allows (the slots could carry into each other).</summary>
    TooManyAddends,

    /// <summary>Vectors of different lengths.</summary>
    ShapeMismatch,

    /// <summary>A decrypted plaintext does not fit the packing (corrupted ciphertext or a lie about the addend count).</summary>
    Corrupt,
}

/// <summary>A refused Paillier input, with what is wrong (<see cref="Error"/>).</summary>
public sealed class PaillierException(PaillierError error, string message) : Exception(message)
{
    public PaillierError Error { get; } = error;
}

/// <summary>How a vector is encrypted.</summary>
public sealed record PaillierEncryptOptions
{
    /// <summary>Threads encrypting ciphertexts in parallel (default: every core).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>The randomness for the nonces r (default: the system CSPRNG). Drawn in ciphertext order on the calling thread,
    /// so a seeded source gives the same ciphertexts for any thread count.</summary>
    public RandomNumberGenerator? Rng { get; init; }

    /// <summary>Precomputed nonce powers r^n mod n² to use (each once) before computing fresh ones (the offline/online split).</summary>
    public PaillierNoncePool? Pool { get; init; }

    internal int CheckedThreads() =>
        Threads is >= 1 and <= 1024 ? Threads : throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "1 to 1024 threads.");
}

/// <summary>
/// Paillier encryption for one public key on the fast path: g = n + 1 (g^m = 1 + m·n mod n², no exponentiation), the nonce
/// power r^n mod n² by <see cref="Montgomery"/> (about 3x <see cref="BigInteger.ModPow"/>), whole vectors in parallel, and
/// optionally nonce powers computed ahead (<see cref="PaillierNoncePool"/>). Ciphertexts equal
/// <see cref="PaillierPublicKey.EncryptWithNonce"/> for the same nonce. (The private-key holder could also compute r^n modulo
/// p² and q² separately by CRT, about 3x faster again; that needs p and q, so it does not apply to the clients.)
/// </summary>
public sealed class PaillierEncryptor
{
    private readonly Montgomery _nSquared;

    public PaillierEncryptor(PaillierPublicKey publicKey)
    {
        PublicKey = publicKey ?? throw new ArgumentNullException(nameof(publicKey));
        _nSquared = new Montgomery(publicKey.NSquared);
    }

    public PaillierPublicKey PublicKey { get; }

    /// <summary>r^n mod n² for a nonce r in [1, n): the expensive, message-independent part of an encryption.</summary>
    public BigInteger NoncePower(BigInteger r)
    {
        if (r <= 0 || r >= PublicKey.N) throw new ArgumentOutOfRangeException(nameof(r), "The nonce must lie in [1, n).");
        return _nSquared.ModPow(r, PublicKey.N);
    }

    /// <summary>E(m) = (1 + m·n)·r^n mod n² with a fresh nonce.</summary>
    public BigInteger Encrypt(BigInteger m, RandomNumberGenerator? rng = null) =>
        EncryptWithNoncePower(m, NoncePower(PublicKey.RandomUnit(rng)));

    /// <summary>E(m) with a given nonce r (equals <see cref="PaillierPublicKey.EncryptWithNonce"/>).</summary>
    public BigInteger EncryptWithNonce(BigInteger m, BigInteger r) => EncryptWithNoncePower(m, NoncePower(r));

    /// <summary>
    /// The online part: (1 + m·n)·rn mod n² = rn + n·(m·rn mod n) mod n² for a precomputed rn = r^n mod n² (one
    /// multiplication, no exponentiation). Each rn must be used for one encryption only.
    /// </summary>
    public BigInteger EncryptWithNoncePower(BigInteger m, BigInteger rn)
    {
        PublicKey.CheckPlaintext(m, nameof(m));
        PublicKey.CheckCiphertext(rn, nameof(rn));
        var n = PublicKey.N;
        var c = rn + m * rn % n * n;
        return c >= PublicKey.NSquared ? c - PublicKey.NSquared : c;
    }

    /// <summary>Encrypts every plaintext (nonces drawn in order on this thread, exponentiations on <see cref="PaillierEncryptOptions.Threads"/>).</summary>
    public BigInteger[] EncryptMany(IReadOnlyList<BigInteger> plaintexts, PaillierEncryptOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(plaintexts);
        options ??= new PaillierEncryptOptions();
        var threads = options.CheckedThreads();
        if (options.Pool is { } pool && pool.PublicKey.N != PublicKey.N)
            throw new PaillierException(PaillierError.WrongKey, "The nonce pool belongs to another public key.");
        foreach (var m in plaintexts) PublicKey.CheckPlaintext(m, nameof(plaintexts));
        var powers = new BigInteger[plaintexts.Count];
        var nonces = new BigInteger[plaintexts.Count];
        for (var i = 0; i < powers.Length; i++)
        {
            if (options.Pool is not null && options.Pool.TryTake(out var rn)) powers[i] = rn;
            else nonces[i] = PublicKey.RandomUnit(options.Rng);
        }
        var result = new BigInteger[plaintexts.Count];
        Parallel.For(0, result.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            var rn = nonces[i].IsZero ? powers[i] : NoncePower(nonces[i]);
            result[i] = EncryptWithNoncePower(plaintexts[i], rn);
        });
        return result;
    }
}

/// <summary>
/// Nonce powers r^n mod n² computed ahead of time (the offline phase, e.g. while a client trains), each handed out once.
/// Thread-safe. The pool is as secret as the plaintexts: whoever knows the r^n of a ciphertext can decrypt it.
/// </summary>
public sealed class PaillierNoncePool
{
    private readonly PaillierEncryptor _encryptor;
    private readonly ConcurrentQueue<BigInteger> _powers = new();

    public PaillierNoncePool(PaillierEncryptor encryptor) => _encryptor = encryptor ?? throw new ArgumentNullException(nameof(encryptor));

    public PaillierPublicKey PublicKey => _encryptor.PublicKey;

    /// <summary>Nonce powers left.</summary>
    public int Count => _powers.Count;

    /// <summary>Computes <paramref name="count"/> fresh nonce powers on <paramref name="threads"/> threads (nonces drawn in order here).</summary>
    public void Fill(int count, int threads = 0, RandomNumberGenerator? rng = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (threads == 0) threads = Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var nonces = new BigInteger[count];
        for (var i = 0; i < count; i++) nonces[i] = PublicKey.RandomUnit(rng);
        var powers = new BigInteger[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => powers[i] = _encryptor.NoncePower(nonces[i]));
        foreach (var p in powers) _powers.Enqueue(p);
    }

    /// <summary>Takes (and removes) one nonce power; false when the pool is empty.</summary>
    public bool TryTake(out BigInteger power) => _powers.TryDequeue(out power);
}

/// <summary>
/// CRT decryption (<see cref="PaillierPrivateKey.Decrypt"/>) with the two half-size exponentiations c^(p−1) mod p² and
/// c^(q−1) mod q² done by <see cref="Montgomery"/>; results equal <see cref="PaillierPrivateKey.Decrypt"/>.
/// </summary>
public sealed class PaillierDecryptor
{
    private readonly Montgomery _p2;
    private readonly Montgomery _q2;

    public PaillierDecryptor(PaillierPrivateKey privateKey)
    {
        PrivateKey = privateKey ?? throw new ArgumentNullException(nameof(privateKey));
        _p2 = new Montgomery(privateKey.PSquared);
        _q2 = new Montgomery(privateKey.QSquared);
    }

    public PaillierPrivateKey PrivateKey { get; }

    public PaillierPublicKey PublicKey => PrivateKey.PublicKey;

    public BigInteger Decrypt(BigInteger c)
    {
        PublicKey.CheckCiphertext(c, nameof(c));
        var k = PrivateKey;
        var mp = (_p2.ModPow(c, k.P - 1) - 1) / k.P * k.Hp % k.P;
        var mq = (_q2.ModPow(c, k.Q - 1) - 1) / k.Q * k.Hq % k.Q;
        var u = (mq - mp) * k.PInverse % k.Q;
        if (u.Sign < 0) u += k.Q;
        return mp + u * k.P;
    }

    /// <summary>Decrypts every ciphertext on <paramref name="threads"/> threads (0: every core).</summary>
    public BigInteger[] DecryptMany(IReadOnlyList<BigInteger> ciphertexts, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(ciphertexts);
        if (threads == 0) threads = Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var result = new BigInteger[ciphertexts.Count];
        Parallel.For(0, result.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => result[i] = Decrypt(ciphertexts[i]));
        return result;
    }
}

/// <summary>
/// A float vector (a model update, or a sum of <see cref="Addends"/> updates) as packed Paillier ciphertexts: what a client
/// sends and what the aggregator multiplies together. Immutable.
/// </summary>
/// <remarks>
/// Bytes (big-endian): "PVEC", version 1, SHA-256 of n (32 bytes, unsigned big-endian n), slot bits (1 byte), fractional
/// bits (1), max addends (int32), addends (int32), length (int32), ciphertext count (int32), then each ciphertext in
/// ⌈bits(n²)/8⌉ bytes. Decoding is strict: the exact size, the key, the packing, the counts and each ciphertext's range
/// (1 ≤ c &lt; n²) are checked, each failure a <see cref="PaillierException"/>.
/// </remarks>
public sealed class PaillierVector
{
    /// <summary>The largest vector length accepted (decoding refuses more before allocating).</summary>
    public const int MaxLength = 100_000_000;

    private const int HeaderSize = 4 + 1 + 32 + 1 + 1 + 4 + 4 + 4 + 4;
    private const byte Version = 1;
    private static ReadOnlySpan<byte> Magic => "PVEC"u8;

    private readonly BigInteger[] _ciphertexts;

    private PaillierVector(PaillierPacker packer, int length, int addends, BigInteger[] ciphertexts)
    {
        Packer = packer;
        Length = length;
        Addends = addends;
        _ciphertexts = ciphertexts;
    }

    /// <summary>The packing (and through it the public key).</summary>
    public PaillierPacker Packer { get; }

    /// <summary>Values carried.</summary>
    public int Length { get; }

    /// <summary>How many encrypted updates this is the sum of.</summary>
    public int Addends { get; }

    public IReadOnlyList<BigInteger> Ciphertexts => _ciphertexts;

    /// <summary>Packs (<see cref="PaillierPacker.Pack"/>) and encrypts <paramref name="values"/> (one addend).</summary>
    public static PaillierVector Encrypt(PaillierEncryptor encryptor, PaillierPacker packer, ReadOnlySpan<float> values,
        PaillierEncryptOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(encryptor);
        ArgumentNullException.ThrowIfNull(packer);
        if (encryptor.PublicKey.N != packer.PublicKey.N)
            throw new PaillierException(PaillierError.WrongKey, "The encryptor and the packer use different public keys.");
        if (values.Length > MaxLength) throw new ArgumentException($"At most {MaxLength} values.", nameof(values));
        var plaintexts = packer.Pack(values);
        return new PaillierVector(packer, values.Length, 1, encryptor.EncryptMany(plaintexts, options));
    }

    /// <summary>The homomorphic sum (ciphertext products mod n²): decrypts to the element-wise sum of both vectors' values.</summary>
    public PaillierVector Add(PaillierVector other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Sum([this, other], threads: 1);
    }

    /// <summary>The homomorphic sum of several vectors (the aggregator's work), ciphertexts split over <paramref name="threads"/>.</summary>
    public static PaillierVector Sum(IReadOnlyList<PaillierVector> vectors, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count == 0) throw new ArgumentException("Nothing to add.", nameof(vectors));
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var first = vectors[0] ?? throw new ArgumentException("A vector is null.", nameof(vectors));
        long addends = 0;
        foreach (var v in vectors)
        {
            if (v is null) throw new ArgumentException("A vector is null.", nameof(vectors));
            if (v.Packer.PublicKey.N != first.Packer.PublicKey.N)
                throw new PaillierException(PaillierError.WrongKey, "The vectors are encrypted under different public keys.");
            if (!SamePacking(v.Packer, first.Packer))
                throw new PaillierException(PaillierError.WrongPacking, "The vectors are packed differently.");
            if (v.Length != first.Length)
                throw new PaillierException(PaillierError.ShapeMismatch, $"Vectors of different lengths ({v.Length} vs {first.Length}).");
            addends += v.Addends;
        }
        if (addends > first.Packer.MaxAddends)
            throw new PaillierException(PaillierError.TooManyAddends,
                $"{addends} addends exceed the packing's headroom for {first.Packer.MaxAddends}: the slots would carry into each other.");
        var nSquared = first.Packer.PublicKey.NSquared;
        var sum = new BigInteger[first._ciphertexts.Length];
        Parallel.For(0, sum.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            var acc = vectors[0]._ciphertexts[i];
            for (var v = 1; v < vectors.Count; v++) acc = acc * vectors[v]._ciphertexts[i] % nSquared;
            sum[i] = acc;
        });
        return new PaillierVector(first.Packer, first.Length, (int)addends, sum);
    }

    /// <summary>Decrypts (in parallel) and unpacks: the element-wise sum of the <see cref="Addends"/> encrypted updates.</summary>
    public float[] Decrypt(PaillierDecryptor decryptor, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(decryptor);
        if (decryptor.PublicKey.N != Packer.PublicKey.N)
            throw new PaillierException(PaillierError.WrongKey, "The private key does not belong to the vector's public key.");
        var plaintexts = decryptor.DecryptMany(_ciphertexts, threads);
        try
        {
            return Packer.Unpack(plaintexts, Length, Addends);
        }
        catch (ArgumentException e)
        {
            throw new PaillierException(PaillierError.Corrupt, $"The decrypted sum does not fit the packing: {e.Message}");
        }
    }

    /// <summary>The encoded size of a vector of <paramref name="length"/> values under <paramref name="packer"/>.</summary>
    public static long EncodedSize(PaillierPacker packer, int length)
    {
        ArgumentNullException.ThrowIfNull(packer);
        return HeaderSize + (long)packer.CiphertextCount(length) * CiphertextBytes(packer.PublicKey);
    }

    public byte[] ToBytes()
    {
        var width = CiphertextBytes(Packer.PublicKey);
        var bytes = new byte[EncodedSize(Packer, Length)];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        span[4] = Version;
        KeyFingerprint(Packer.PublicKey).CopyTo(span[5..]);
        span[37] = (byte)Packer.SlotBits;
        span[38] = (byte)Packer.FractionalBits;
        BinaryPrimitives.WriteInt32BigEndian(span[39..], Packer.MaxAddends);
        BinaryPrimitives.WriteInt32BigEndian(span[43..], Addends);
        BinaryPrimitives.WriteInt32BigEndian(span[47..], Length);
        BinaryPrimitives.WriteInt32BigEndian(span[51..], _ciphertexts.Length);
        for (var i = 0; i < _ciphertexts.Length; i++)
        {
            var slot = span.Slice(HeaderSize + i * width, width);
            var c = _ciphertexts[i];
            var size = c.GetByteCount(isUnsigned: true);
            c.TryWriteBytes(slot[(width - size)..], out _, isUnsigned: true, isBigEndian: true);
        }
        return bytes;
    }

    /// <summary>Decodes an encrypted vector for <paramref name="packer"/> (its key and slot parameters must match), strictly.</summary>
    public static PaillierVector FromBytes(ReadOnlySpan<byte> bytes, PaillierPacker packer)
    {
        ArgumentNullException.ThrowIfNull(packer);
        if (bytes.Length < HeaderSize)
            throw new PaillierException(PaillierError.Truncated, $"{bytes.Length} bytes: shorter than the {HeaderSize}-byte header.");
        if (!bytes[..4].SequenceEqual(Magic)) throw new PaillierException(PaillierError.Malformed, "Not an encrypted vector (no PVEC magic).");
        if (bytes[4] != Version) throw new PaillierException(PaillierError.Malformed, $"Unsupported encrypted vector version {bytes[4]}.");
        if (!bytes.Slice(5, 32).SequenceEqual(KeyFingerprint(packer.PublicKey)))
            throw new PaillierException(PaillierError.WrongKey, "The vector is encrypted under another public key.");
        int slotBits = bytes[37], fractionalBits = bytes[38];
        var maxAddends = BinaryPrimitives.ReadInt32BigEndian(bytes[39..]);
        var addends = BinaryPrimitives.ReadInt32BigEndian(bytes[43..]);
        var length = BinaryPrimitives.ReadInt32BigEndian(bytes[47..]);
        var count = BinaryPrimitives.ReadInt32BigEndian(bytes[51..]);
        if (slotBits != packer.SlotBits || fractionalBits != packer.FractionalBits || maxAddends != packer.MaxAddends)
            throw new PaillierException(PaillierError.WrongPacking,
                $"Packed with {slotBits}-bit slots, {fractionalBits} fractional bits, {maxAddends} addends; the packer has "
                + $"{packer.SlotBits}, {packer.FractionalBits}, {packer.MaxAddends}.");
        if (addends < 1 || addends > maxAddends)
            throw new PaillierException(PaillierError.Malformed, $"{addends} addends: not in [1, {maxAddends}].");
        if (length < 0 || length > MaxLength) throw new PaillierException(PaillierError.Malformed, $"Length {length} out of range.");
        if (count != packer.CiphertextCount(length))
            throw new PaillierException(PaillierError.Malformed, $"{count} ciphertexts for {length} values (expected {packer.CiphertextCount(length)}).");
        var width = CiphertextBytes(packer.PublicKey);
        var expected = HeaderSize + (long)count * width;
        if (bytes.Length < expected)
            throw new PaillierException(PaillierError.Truncated, $"{bytes.Length} bytes: the vector needs {expected}.");
        if (bytes.Length > expected)
            throw new PaillierException(PaillierError.Malformed, $"{bytes.Length - expected} bytes after the vector.");
        var nSquared = packer.PublicKey.NSquared;
        var ciphertexts = new BigInteger[count];
        for (var i = 0; i < count; i++)
        {
            var c = new BigInteger(bytes.Slice(HeaderSize + i * width, width), isUnsigned: true, isBigEndian: true);
            if (c.IsZero || c >= nSquared)
                throw new PaillierException(PaillierError.Malformed, $"Ciphertext {i} is not in [1, n²).");
            ciphertexts[i] = c;
        }
        return new PaillierVector(packer, length, addends, ciphertexts);
    }

    /// <summary>SHA-256 of n (unsigned, big-endian): names the public key in encodings.</summary>
    public static byte[] KeyFingerprint(PaillierPublicKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        return SHA256.HashData(publicKey.N.ToByteArray(isUnsigned: true, isBigEndian: true));
    }

    private static int CiphertextBytes(PaillierPublicKey key) => (int)((key.NSquared.GetBitLength() + 7) / 8);

    private static bool SamePacking(PaillierPacker a, PaillierPacker b) =>
        a.SlotBits == b.SlotBits && a.FractionalBits == b.FractionalBits && a.MaxAddends == b.MaxAddends;
}

/// <summary>One in-process encrypted aggregation round (<see cref="PaillierAggregation.Round"/>).</summary>
public sealed record PaillierRoundOptions
{
    public int Clients { get; init; } = 10;
    public int Parameters { get; init; } = 100_000;

    /// <summary>Threads per client encryption, for the aggregator and for decryption (default: every core).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    public int SlotBits { get; init; } = 32;
    public int FractionalBits { get; init; } = 24;

    /// <summary>Compute each client's nonce powers ahead (offline) and encrypt online from them.</summary>
    public bool Precompute { get; init; }

    /// <summary>Seed of the synthetic updates (uniform in ±<see cref="UpdateBound"/>).</summary>
    public int Seed { get; init; } = 9;

    public float UpdateBound { get; init; } = 1f;

    internal void Validate()
    {
        if (Clients is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(Clients), Clients, "1 to 1024 clients.");
        if (Parameters is < 1 or > PaillierVector.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(Parameters), Parameters, $"1 to {PaillierVector.MaxLength} parameters.");
        if (Threads is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "1 to 1024 threads.");
        if (!(UpdateBound > 0) || !float.IsFinite(UpdateBound)) throw new ArgumentOutOfRangeException(nameof(UpdateBound), UpdateBound, "A positive bound.");
    }
}

/// <summary>Timings and sizes of one encrypted round.</summary>
/// <param name="Bits">The modulus size.</param>
/// <param name="Clients">Clients in the round.</param>
/// <param name="Parameters">Values per update.</param>
/// <param name="Threads">Threads per client encryption, aggregation and decryption.</param>
/// <param name="SlotsPerCiphertext">Values packed per ciphertext.</param>
/// <param name="CiphertextsPerClient">Ciphertexts per update.</param>
/// <param name="BytesPerClient">The encoded update a client sends (<see cref="PaillierVector.ToBytes"/>).</param>
/// <param name="ClientOffline">Per client: computing its nonce powers ahead (zero without precomputation).</param>
/// <param name="ClientEncrypt">Per client: packing, encrypting (online part if precomputed) and serialising its update.</param>
/// <param name="ServerAggregate">Decoding every client's bytes and multiplying the ciphertexts.</param>
/// <param name="Decrypt">Decrypting and unpacking the sum.</param>
/// <param name="MaxAbsError">Largest |decrypted sum − plain float sum| over the parameters.</param>
/// <param name="ErrorBound">The fixed-point bound: clients × resolution/2, plus float rounding of the sum.</param>
public sealed record PaillierRoundReport(
    int Bits, int Clients, int Parameters, int Threads, int SlotsPerCiphertext, int CiphertextsPerClient, long BytesPerClient,
    IReadOnlyList<TimeSpan> ClientOffline, IReadOnlyList<TimeSpan> ClientEncrypt, TimeSpan ServerAggregate, TimeSpan Decrypt,
    double MaxAbsError, double ErrorBound)
{
    public bool SumMatches => MaxAbsError <= ErrorBound;

    /// <summary>Every client's encryption one after the other (one machine doing all of them).</summary>
    public TimeSpan ClientEncryptTotal => TimeSpan.FromTicks(ClientEncrypt.Sum(t => t.Ticks));

    /// <summary>The slowest client: the round's client phase when each client encrypts on its own machine at once.</summary>
    public TimeSpan ClientEncryptWall => ClientEncrypt.Max();

    public TimeSpan ClientOfflineTotal => TimeSpan.FromTicks(ClientOffline.Sum(t => t.Ticks));
}

/// <summary>Per-ciphertext costs on one thread (milliseconds), reference and fast paths.</summary>
public sealed record PaillierUnitCosts(
    int Bits, int Repetitions, double EncryptBigIntegerMs, double EncryptMontgomeryMs, double EncryptOnlineMs, double DecryptCrtBigIntegerMs,
    double DecryptCrtMontgomeryMs, double AddMs);

/// <summary>Secure aggregation of model updates with packed Paillier: one in-process round and unit costs.</summary>
public static class PaillierAggregation
{
    /// <summary>python-paillier's published 2048-bit costs per value (ms): encrypt, decrypt, add.</summary>
    public const double PythonPaillierEncryptMs = 19.6, PythonPaillierDecryptMs = 5.9, PythonPaillierAddMs = 0.06;

    /// <summary>
    /// Runs one round in-process: <see cref="PaillierRoundOptions.Clients"/> clients each pack, encrypt and serialise a
    /// seeded random update (one after the other, each with <see cref="PaillierRoundOptions.Threads"/> threads, timed
    /// separately); the aggregator decodes and multiplies them; the key holder decrypts the sum, which is compared with the
    /// plain float sum.
    /// </summary>
    public static PaillierRoundReport Round(PaillierKeyPair keys, PaillierRoundOptions options, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var packer = new PaillierPacker(keys.PublicKey, options.FractionalBits, options.SlotBits, options.Clients);
        if (options.UpdateBound > packer.MaxAbs)
            throw new ArgumentOutOfRangeException(nameof(options), $"Updates of ±{options.UpdateBound} exceed the packing's bound ±{packer.MaxAbs}.");
        var encryptor = new PaillierEncryptor(keys.PublicKey);
        var random = new Random(options.Seed);
        var plainSum = new double[options.Parameters];
        var sent = new List<byte[]>(options.Clients);
        var offline = new List<TimeSpan>(options.Clients);
        var online = new List<TimeSpan>(options.Clients);
        var update = new float[options.Parameters];
        for (var client = 0; client < options.Clients; client++)
        {
            for (var i = 0; i < update.Length; i++)
            {
                update[i] = (float)((random.NextDouble() * 2 - 1) * options.UpdateBound);
                plainSum[i] += update[i];
            }
            PaillierNoncePool? pool = null;
            var clock = Stopwatch.StartNew();
            if (options.Precompute)
            {
                pool = new PaillierNoncePool(encryptor);
                pool.Fill(packer.CiphertextCount(update.Length), options.Threads);
            }
            offline.Add(options.Precompute ? clock.Elapsed : TimeSpan.Zero);
            clock.Restart();
            var vector = PaillierVector.Encrypt(encryptor, packer, update, new PaillierEncryptOptions { Threads = options.Threads, Pool = pool });
            sent.Add(vector.ToBytes());
            online.Add(clock.Elapsed);
            progress?.Invoke($"client {client + 1}/{options.Clients}: encrypted in {clock.Elapsed.TotalSeconds:0.00} s"
                             + (options.Precompute ? $" (+{offline[^1].TotalSeconds:0.00} s offline)" : ""));
        }

        var server = Stopwatch.StartNew();
        var received = sent.Select(b => PaillierVector.FromBytes(b, packer)).ToList();
        var sum = PaillierVector.Sum(received, options.Threads);
        var aggregate = server.Elapsed;

        var decryptor = new PaillierDecryptor(keys.PrivateKey);
        var decryptClock = Stopwatch.StartNew();
        var result = sum.Decrypt(decryptor, options.Threads);
        var decrypt = decryptClock.Elapsed;

        double maxError = 0, maxSum = 0;
        for (var i = 0; i < result.Length; i++)
        {
            maxError = Math.Max(maxError, Math.Abs(result[i] - plainSum[i]));
            maxSum = Math.Max(maxSum, Math.Abs(plainSum[i]));
        }
        // Each addend rounds by ≤ resolution/2; the float conversion of the sum by ≤ half an ulp of the largest sum.
        var bound = options.Clients * packer.Resolution / 2 + maxSum * Math.ScaleB(1.0, -24) + 1e-12;
        return new PaillierRoundReport(keys.PublicKey.Bits, options.Clients, options.Parameters, options.Threads, packer.SlotsPerCiphertext,
            packer.CiphertextCount(options.Parameters), sent[0].Length, offline, online, aggregate, decrypt, maxError, bound);
    }

    /// <summary>
    /// Per-ciphertext costs on the calling thread, averaged over <paramref name="repetitions"/> random plaintexts:
    /// encryption with <see cref="BigInteger.ModPow"/> (<see cref="PaillierPublicKey.Encrypt"/>) and with
    /// <see cref="Montgomery"/>, the online part with a precomputed nonce power, CRT decryption both ways, and one
    /// homomorphic addition. Checks on the way that both paths agree.
    /// </summary>
    public static PaillierUnitCosts MeasureUnitCosts(PaillierKeyPair keys, int repetitions = 5)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (repetitions is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(repetitions), repetitions, "1 to 10,000.");
        var pub = keys.PublicKey;
        var encryptor = new PaillierEncryptor(pub);
        var decryptor = new PaillierDecryptor(keys.PrivateKey);
        var messages = Enumerable.Range(0, repetitions).Select(_ => PaillierMath.RandomBelow(pub.N)).ToArray();
        var nonces = messages.Select(_ => pub.RandomUnit()).ToArray();
        var reference = new BigInteger[repetitions];
        var fast = new BigInteger[repetitions];
        _ = encryptor.EncryptWithNonce(messages[0], nonces[0]); // warm the JIT
        _ = decryptor.Decrypt(pub.EncryptWithNonce(messages[0], nonces[0]));
        var encryptReference = Time(i => reference[i] = pub.EncryptWithNonce(messages[i], nonces[i]));
        var encryptFast = Time(i => fast[i] = encryptor.EncryptWithNonce(messages[i], nonces[i]));
        if (!reference.SequenceEqual(fast)) throw new InvalidOperationException("Montgomery encryption differs from BigInteger.ModPow.");
        var powers = nonces.Select(encryptor.NoncePower).ToArray();
        var encryptOnline = Time(i => fast[i] = encryptor.EncryptWithNoncePower(messages[i], powers[i]));
        if (!reference.SequenceEqual(fast)) throw new InvalidOperationException("The online encryption differs.");
        var plainReference = new BigInteger[repetitions];
        var plainFast = new BigInteger[repetitions];
        var decryptReference = Time(i => plainReference[i] = keys.PrivateKey.Decrypt(reference[i]));
        var decryptFast = Time(i => plainFast[i] = decryptor.Decrypt(reference[i]));
        if (!plainReference.SequenceEqual(messages) || !plainFast.SequenceEqual(messages))
            throw new InvalidOperationException("Decryption does not invert encryption.");
        const int adds = 2000;
        var acc = reference[0];
        var addClock = Stopwatch.StartNew();
        for (var i = 0; i < adds; i++) acc = acc * reference[i % repetitions] % pub.NSquared;
        var add = addClock.Elapsed.TotalMilliseconds / adds;
        GC.KeepAlive(acc);
        return new PaillierUnitCosts(pub.Bits, repetitions, encryptReference, encryptFast, encryptOnline, decryptReference, decryptFast, add);

        double Time(Action<int> action)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < repetitions; i++) action(i);
            return clock.Elapsed.TotalMilliseconds / repetitions;
        }
    }
}
