using System.Numerics;
using System.Security.Cryptography;

namespace Chain.Ai.Federated;

/// <summary>A float vector encrypted as packed Paillier ciphertexts (<see cref="PaillierPacker"/>).</summary>
public sealed class PackedCiphertexts
{
    public PackedCiphertexts(int length, IReadOnlyList<BigInteger> ciphertexts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentNullException.ThrowIfNull(ciphertexts);
        Length = length;
        Ciphertexts = ciphertexts;
    }

    /// <summary>How many values the ciphertexts carry.</summary>
    public int Length { get; }

    /// <summary>The ciphertexts, each holding up to <see cref="PaillierPacker.SlotsPerCiphertext"/> values.</summary>
    public IReadOnlyList<BigInteger> Ciphertexts { get; }
}

/// <summary>
/// Fixed-point encoding and packing of float vectors into Paillier plaintexts, for secure aggregation of model updates.
/// </summary>
/// <remarks>
/// Arithmetic (B = slotBits, F = fractionalBits, K = maxAddends, h = ⌈log2 K⌉ headroom bits):
/// <list type="bullet">
/// <item>A value v is encoded as e = round(v·2^F) + 2^(B−h−1), an integer in [0, 2^(B−h)), i.e. |round(v·2^F)| ≤ 2^(B−h−1) − 1,
/// so |v| ≤ <see cref="MaxAbs"/> = (2^(B−h−1) − 1)/2^F. The offset keeps every encoding non-negative.</item>
/// <item>The sum of up to K encodings is below K·2^(B−h) ≤ 2^B: it fits in its B-bit slot and never carries into the next.</item>
/// <item>Slot i occupies bits [i·B, (i+1)·B) of the plaintext. The plaintext must stay below n, and n ≥ 2^(L−1) for an
/// L-bit n, so <see cref="SlotsPerCiphertext"/> = ⌊(L−1)/B⌋ slots fit: a sum of packed plaintexts is below 2^(slots·B) ≤ 2^(L−1) ≤ n,
/// so Paillier's addition mod n never wraps either. Examples for L = 2048 and K ≤ 16 (h = 4): B = 48, F = 20 gives 42 values
/// per ciphertext with |v| &lt; 2^23 at resolution 2^−20; B = 32, F = 24 gives 63 values per ciphertext with |v| &lt; 8 at
/// resolution 2^−24 (enough for clipped model updates).</item>
/// <item>Decrypting a sum of a ≤ K ciphertexts gives per slot S = Σ e_j; the value sum is (S − a·2^(B−h−1))/2^F, exact up
/// to the rounding of each addend (≤ 2^−(F+1) each) and the final conversion to float.</item>
/// </list>
/// </remarks>
public sealed class PaillierPacker
{
    private readonly BigInteger _offset;
    private readonly double _scale;
    private readonly double _offsetAsDouble;

    public PaillierPacker(PaillierPublicKey publicKey, int fractionalBits, int slotBits, int maxAddends)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        if (slotBits is < 2 or > 64) throw new ArgumentOutOfRangeException(nameof(slotBits), "A slot has 2 to 64 bits.");
        if (maxAddends < 1) throw new ArgumentOutOfRangeException(nameof(maxAddends), "At least one addend.");
        if (fractionalBits is < 0 or > 52) throw new ArgumentOutOfRangeException(nameof(fractionalBits), "0 to 52 fractional bits.");
        var headroom = maxAddends == 1 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)(maxAddends - 1)); // ⌈log2 K⌉
        if (slotBits - headroom < 2)
            throw new ArgumentException($"{slotBits}-bit slots leave no room for values after {headroom} headroom bits for {maxAddends} addends.");
        if (publicKey.Bits - 1 < slotBits) throw new ArgumentException("The key is too small for one slot.", nameof(slotBits));
        PublicKey = publicKey;
        FractionalBits = fractionalBits;
        SlotBits = slotBits;
        MaxAddends = maxAddends;
        HeadroomBits = headroom;
        SlotsPerCiphertext = (publicKey.Bits - 1) / slotBits;
        _offset = BigInteger.One << (slotBits - headroom - 1);
        _scale = Math.ScaleB(1.0, fractionalBits);
        _offsetAsDouble = Math.ScaleB(1.0, slotBits - headroom - 1);
        MaxAbs = ((double)(_offset - 1)) / _scale;
    }

    public PaillierPublicKey PublicKey { get; }
    public int FractionalBits { get; }
    public int SlotBits { get; }
    public int MaxAddends { get; }

    /// <summary>⌈log2 maxAddends⌉ bits per slot reserved for the carries of a sum.</summary>
    public int HeadroomBits { get; }

    /// <summary>⌊(bits(n) − 1)/slotBits⌋ values per ciphertext.</summary>
    public int SlotsPerCiphertext { get; }

    /// <summary>The largest |v| accepted: (2^(B−h−1) − 1)/2^F.</summary>
    /// <remarks>A value that rounds to ±2^(B−h−1)/2^F is refused even if it is within half a step of this bound.</remarks>
    public double MaxAbs { get; }

    /// <summary>The per-value rounding step 2^−F (each addend is off by at most half of it).</summary>
    public double Resolution => 1.0 / _scale;

    /// <summary>How many ciphertexts a vector of <paramref name="length"/> values needs.</summary>
    public int CiphertextCount(int length) => (length + SlotsPerCiphertext - 1) / SlotsPerCiphertext;

    /// <summary>Encodes, packs and encrypts; throws for NaN/infinite values or |v| above <see cref="MaxAbs"/>.</summary>
    public PackedCiphertexts Encrypt(ReadOnlySpan<float> values, RandomNumberGenerator? rng = null)
    {
        var plaintexts = Pack(values);
        var cts = new BigInteger[plaintexts.Length];
        for (var i = 0; i < cts.Length; i++) cts[i] = PublicKey.Encrypt(plaintexts[i], rng);
        return new PackedCiphertexts(values.Length, cts);
    }

    /// <summary>The packed plaintexts of a vector (no encryption): slot i of plaintext k holds value k·slots + i.</summary>
    public BigInteger[] Pack(ReadOnlySpan<float> values)
    {
        var count = CiphertextCount(values.Length);
        var result = new BigInteger[count];
        var bytes = new byte[(SlotsPerCiphertext * SlotBits + 7) / 8 + 8];
        var offset = (ulong)_offset;
        for (var k = 0; k < count; k++)
        {
            Array.Clear(bytes);
            var start = k * SlotsPerCiphertext;
            var end = Math.Min(values.Length, start + SlotsPerCiphertext);
            for (var i = start; i < end; i++)
            {
                var v = values[i];
                if (!float.IsFinite(v)) throw new ArgumentException($"Value {i} is not finite ({v}).", nameof(values));
                var rounded = Math.Round(v * _scale, MidpointRounding.ToEven); // exact: a float times 2^F
                if (Math.Abs(rounded) >= _offsetAsDouble)
                    throw new ArgumentOutOfRangeException(nameof(values), v, $"Value {i} exceeds the packer's bound ±{MaxAbs}.");
                var fixedPoint = (long)rounded;
                WriteBits(bytes, (i - start) * SlotBits, SlotBits, unchecked((ulong)fixedPoint + offset));
            }
            result[k] = new BigInteger(bytes, isUnsigned: true);
        }
        return result;
    }

    /// <summary>Element-wise homomorphic sum of two packed vectors of the same length.</summary>
    public PackedCiphertexts Add(PackedCiphertexts a, PackedCiphertexts b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Length != b.Length || a.Ciphertexts.Count != b.Ciphertexts.Count)
            throw new ArgumentException($"Packed vectors of different shapes ({a.Length} vs {b.Length} values).");
        var sum = new BigInteger[a.Ciphertexts.Count];
        for (var i = 0; i < sum.Length; i++) sum[i] = PublicKey.Add(a.Ciphertexts[i], b.Ciphertexts[i]);
        return new PackedCiphertexts(a.Length, sum);
    }

    /// <summary>Decrypts the sum of <paramref name="addends"/> encrypted vectors and returns the plain sum of the values.</summary>
    public float[] Decrypt(PaillierPrivateKey privateKey, PackedCiphertexts packed, int addends)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        ArgumentNullException.ThrowIfNull(packed);
        if (privateKey.PublicKey.N != PublicKey.N) throw new ArgumentException("The private key does not match the packer's key.", nameof(privateKey));
        if (addends < 1 || addends > MaxAddends)
            throw new ArgumentOutOfRangeException(nameof(addends), addends, $"Between 1 and {MaxAddends} addends.");
        if (packed.Ciphertexts.Count != CiphertextCount(packed.Length))
            throw new ArgumentException("The ciphertext count does not match the vector length.", nameof(packed));
        var plaintexts = new BigInteger[packed.Ciphertexts.Count];
        for (var k = 0; k < plaintexts.Length; k++) plaintexts[k] = privateKey.Decrypt(packed.Ciphertexts[k]);
        return Unpack(plaintexts, packed.Length, addends);
    }

    /// <summary>The value sums from packed plaintext sums of <paramref name="addends"/> vectors.</summary>
    public float[] Unpack(IReadOnlyList<BigInteger> plaintexts, int length, int addends)
    {
        ArgumentNullException.ThrowIfNull(plaintexts);
        if (addends < 1 || addends > MaxAddends)
            throw new ArgumentOutOfRangeException(nameof(addends), addends, $"Between 1 and {MaxAddends} addends.");
        if (plaintexts.Count != CiphertextCount(length)) throw new ArgumentException("Plaintext count does not match the length.");
        var result = new float[length];
        var totalOffset = (ulong)_offset * (ulong)addends; // < 2^B ≤ 2^64
        var buffer = new byte[(SlotsPerCiphertext * SlotBits + 7) / 8 + 8];
        for (var k = 0; k < plaintexts.Count; k++)
        {
            var m = plaintexts[k];
            if (m.Sign < 0 || m.GetBitLength() > (long)SlotsPerCiphertext * SlotBits)
                throw new ArgumentException($"Plaintext {k} does not fit the packing (wrong key, corrupted or too many addends).");
            Array.Clear(buffer);
            m.TryWriteBytes(buffer, out _, isUnsigned: true);
            var start = k * SlotsPerCiphertext;
            var end = Math.Min(length, start + SlotsPerCiphertext);
            for (var i = start; i < end; i++)
            {
                var slot = ReadBits(buffer, (i - start) * SlotBits, SlotBits);
                var exact = (Int128)slot - (Int128)totalOffset; // exact integer sum of the fixed-point addends
                result[i] = (float)((double)exact / _scale);
            }
        }
        return result;
    }

    private static void WriteBits(byte[] bytes, int bitOffset, int width, ulong value)
    {
        for (var written = 0; written < width;)
        {
            var byteIndex = (bitOffset + written) >> 3;
            var bitInByte = (bitOffset + written) & 7;
            var take = Math.Min(8 - bitInByte, width - written);
            var chunk = (byte)((value >> written) & ((1UL << take) - 1));
            bytes[byteIndex] |= (byte)(chunk << bitInByte);
            written += take;
        }
    }

    private static ulong ReadBits(byte[] bytes, int bitOffset, int width)
    {
        ulong value = 0;
        for (var read = 0; read < width;)
        {
            var byteIndex = (bitOffset + read) >> 3;
            var bitInByte = (bitOffset + read) & 7;
            var take = Math.Min(8 - bitInByte, width - read);
            var chunk = (ulong)((bytes[byteIndex] >> bitInByte) & ((1 << take) - 1));
            value |= chunk << read;
            read += take;
        }
        return value;
    }
}
