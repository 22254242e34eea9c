using System.Security.Cryptography;
using Chain.Chaincode.Custody;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Chain.Ai.Federated;

/// <summary>Any refusal by secure aggregation: malformed messages, protocol violations, too few survivors, values out of range.</summary>
public class SecureAggregationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A message that does not decode: truncated, oversized, trailing bytes, wrong type or version, ids or lengths out of range.</summary>
public sealed class SecureAggregationFormatException(string message) : SecureAggregationException(message);

/// <summary>
/// A well-formed message that breaks the protocol: wrong session, unexpected sender, duplicate, wrong round, a share
/// that does not authenticate, or a request a client refuses (both the seed and the key shares of one client).
/// </summary>
public sealed class SecureAggregationProtocolException(string message, Exception? inner = null) : SecureAggregationException(message, inner);

/// <summary>Fewer than the threshold of clients are left at some step: the round cannot complete (and must not).</summary>
public sealed class SecureAggregationThresholdException(string step, int available, int threshold)
    : SecureAggregationException($"{step}: {available} client(s) left, the threshold is {threshold}: the round fails")
{
    public string Step { get; } = step;
    public int Available { get; } = available;
    public int Threshold { get; } = threshold;
}

/// <summary>An input value outside the clip range [−clip, clip] (or not finite): it could overflow the ring sum.</summary>
public sealed class SecureAggregationRangeException(int index, double value, double clip)
    : SecureAggregationException($"value {value} at coordinate {index} is outside the clip range [-{clip}, {clip}] (or not finite)")
{
    public int Index { get; } = index;
    public double Value { get; } = value;
    public double Clip { get; } = clip;
}

/// <summary>
/// The parameters every party of one secure-aggregation round agrees on. <see cref="Clients"/> is n (ids 1..n),
/// <see cref="Threshold"/> is t with n/2 &lt; t ≤ n, <see cref="VectorLength"/> the number of parameters, and
/// <see cref="Clip"/> the bound on every input value (see <see cref="RingFixedPoint"/>). <see cref="Session"/> is bound
/// into every message, key derivation and ciphertext, so messages of one round are useless in another.
/// </summary>
public sealed class SecureAggregationParameters
{
    /// <summary>At most 255 clients (the Shamir sharing's custodian limit, and ids fit one byte in spirit; two on the wire).</summary>
    public const int MaxClients = 255;

    /// <summary>At most 2^26 parameters per vector (256 MiB of masked input): a decoder bound, not a protocol one.</summary>
    public const int MaxVectorLength = 1 << 26;

    public SecureAggregationParameters(ulong session, int clients, int threshold, int vectorLength, float clip)
    {
        if (clients is < 2 or > MaxClients)
            throw new ArgumentOutOfRangeException(nameof(clients), clients, $"2 to {MaxClients} clients");
        if (threshold <= clients / 2 || threshold > clients)
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold,
                $"the threshold must be a majority, n/2 < t <= n (n = {clients}): {clients / 2 + 1} to {clients}");
        if (vectorLength is < 1 or > MaxVectorLength)
            throw new ArgumentOutOfRangeException(nameof(vectorLength), vectorLength, $"1 to {MaxVectorLength} parameters");
        Session = session;
        Clients = clients;
        Threshold = threshold;
        VectorLength = vectorLength;
        Clip = clip;
        FixedPoint = new RingFixedPoint(clip, clients);
    }

    public ulong Session { get; }
    public int Clients { get; }
    public int Threshold { get; }
    public int VectorLength { get; }
    public float Clip { get; }

    /// <summary>The encoding of inputs into Z_{2^32} for this clip and client count.</summary>
    public RingFixedPoint FixedPoint { get; }

    /// <summary>The smallest majority threshold, ⌊n/2⌋ + 1.</summary>
    public static int MajorityThreshold(int clients) => clients / 2 + 1;

    internal void CheckClient(int id, string role)
    {
        if (id < 1 || id > Clients) throw new SecureAggregationProtocolException($"{role} id {id} is not in 1..{Clients}");
    }
}

/// <summary>
/// Fixed-point encoding of float values into the ring Z_{2^32} (uint arithmetic with wraparound).
/// </summary>
/// <remarks>
/// A value v with |v| ≤ C (the clip) encodes as e = round(v·2^F) taken mod 2^32 (two's complement). F is the largest
/// integer in [0, 48] with K·(C·2^F + ½) ≤ 2^31 − 1 for K = <see cref="MaxAddends"/> (the number of clients), so the
/// true integer sum of up to K encodings lies in [−(2^31 − 1), 2^31 − 1] and reading the ring sum as a signed 32-bit
/// integer recovers it exactly; the value sum is that integer / 2^F, off from the real sum by at most K·2^−(F+1)
/// (each addend's rounding). Values outside [−C, C], NaN and infinities are refused with
/// <see cref="SecureAggregationRangeException"/>: clip updates (as DP training does) before encoding. Example: C = 1,
/// K = 10 gives F = 27 (resolution 7.5e−9); C = 1, K = 255 gives F = 23.
/// </remarks>
public sealed class RingFixedPoint
{
    private readonly double _scale;

    public RingFixedPoint(float clip, int maxAddends)
    {
        if (!float.IsFinite(clip) || !(clip > 0)) throw new ArgumentOutOfRangeException(nameof(clip), clip, "the clip must be a finite number > 0");
        if (maxAddends < 1) throw new ArgumentOutOfRangeException(nameof(maxAddends), maxAddends, "at least one addend");
        var bits = -1;
        for (var f = 48; f >= 0; f--)
        {
            if (maxAddends * (clip * Math.ScaleB(1.0, f) + 0.5) <= int.MaxValue)
            {
                bits = f;
                break;
            }
        }
        if (bits < 0)
            throw new ArgumentOutOfRangeException(nameof(clip), clip,
                $"{maxAddends} values of magnitude {clip} overflow a 32-bit ring even without fractional bits");
        Clip = clip;
        MaxAddends = maxAddends;
        FractionalBits = bits;
        _scale = Math.ScaleB(1.0, bits);
    }

    public float Clip { get; }
    public int MaxAddends { get; }

    /// <summary>F: values are encoded as round(v·2^F).</summary>
    public int FractionalBits { get; }

    /// <summary>2^−F, the spacing of representable values.</summary>
    public double Resolution => 1 / _scale;

    /// <summary>Encodes every value; <see cref="SecureAggregationRangeException"/> for one outside [−clip, clip].</summary>
    public uint[] Encode(ReadOnlySpan<float> values)
    {
        var result = new uint[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (!float.IsFinite(v) || Math.Abs(v) > Clip) throw new SecureAggregationRangeException(i, v, Clip);
            result[i] = unchecked((uint)(int)Math.Round(v * _scale, MidpointRounding.ToEven));
        }
        return result;
    }

    /// <summary>Reads a ring sum of at most <see cref="MaxAddends"/> encodings back as floats (signed 32-bit integer / 2^F).</summary>
    public float[] DecodeSum(ReadOnlySpan<uint> ringSum)
    {
        var result = new float[ringSum.Length];
        for (var i = 0; i < ringSum.Length; i++) result[i] = (float)(unchecked((int)ringSum[i]) / _scale);
        return result;
    }

    /// <summary>The ring sum (mod 2^32) of encoded vectors of one length: what secure aggregation must output.</summary>
    public static uint[] RingSum(IEnumerable<uint[]> encoded, int length)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var sum = new uint[length];
        foreach (var e in encoded)
        {
            if (e.Length != length) throw new SecureAggregationException($"a vector of {e.Length} values, expected {length}");
            RingMath.Add(sum, e);
        }
        return sum;
    }
}

/// <summary>Where secure aggregation draws its secrets from: the OS by default, a seeded stream in tests.</summary>
public interface ISecureAggregationRandom
{
    void Fill(Span<byte> destination);
}

/// <summary>The operating system's CSPRNG (<see cref="RandomNumberGenerator"/>); the default.</summary>
public sealed class SystemSecureAggregationRandom : ISecureAggregationRandom
{
    public static SystemSecureAggregationRandom Instance { get; } = new();

    public void Fill(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}

/// <summary>
/// A deterministic stream for tests and reproducible simulations: AES-256-CTR keyed by SHA-256 of a label, the seed and
/// a stream id. Anyone who knows the seed knows every secret: never use it in a deployment.
/// </summary>
public sealed class SeededSecureAggregationRandom : ISecureAggregationRandom, IDisposable
{
    private readonly Aes _aes;
    private readonly byte[] _counter = new byte[16];
    private readonly byte[] _block = new byte[16];
    private int _used = 16;

    public SeededSecureAggregationRandom(long seed, long stream = 0)
    {
        Span<byte> material = stackalloc byte[48];
        "chain/secagg/v1/seeded-random/32"u8.CopyTo(material);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(material[32..], seed);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(material[40..], stream);
        _aes = Aes.Create();
        _aes.Key = SHA256.HashData(material);
    }

    public void Fill(Span<byte> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            if (_used == 16)
            {
                _aes.EncryptEcb(_counter, _block, PaddingMode.None);
                for (var b = 0; b < 16 && ++_counter[b] == 0; b++)
                {
                }
                _used = 0;
            }
            destination[i] = _block[_used++];
        }
    }

    public void Dispose() => _aes.Dispose();
}

/// <summary>Wraparound arithmetic on uint vectors (mod 2^32), vectorised.</summary>
internal static class RingMath
{
    public static void Add(Span<uint> target, ReadOnlySpan<uint> addend)
    {
        var i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var width = System.Numerics.Vector<uint>.Count;
            for (; i + width <= target.Length; i += width)
                (new System.Numerics.Vector<uint>(target[i..]) + new System.Numerics.Vector<uint>(addend[i..])).CopyTo(target[i..]);
        }
        for (; i < target.Length; i++) target[i] = unchecked(target[i] + addend[i]);
    }

    public static void Subtract(Span<uint> target, ReadOnlySpan<uint> subtrahend)
    {
        var i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var width = System.Numerics.Vector<uint>.Count;
            for (; i + width <= target.Length; i += width)
                (new System.Numerics.Vector<uint>(target[i..]) - new System.Numerics.Vector<uint>(subtrahend[i..])).CopyTo(target[i..]);
        }
        for (; i < target.Length; i++) target[i] = unchecked(target[i] - subtrahend[i]);
    }
}

/// <summary>
/// The mask generator: a 32-byte key expanded to a uint vector by AES-256 in counter mode (ECB over the block counter
/// 0, 1, 2, … as a little-endian 128-bit integer; the keystream's bytes read as little-endian uints). Deterministic;
/// every key is used for one vector only, so the fixed zero nonce is safe.
/// </summary>
public static class MaskPrg
{
    private const int ChunkBlocks = 4096;

    /// <summary>The first <paramref name="length"/> uints of the key's stream.</summary>
    public static uint[] Expand(ReadOnlySpan<byte> key, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var result = new uint[length];
        Apply(key, result, add: true);
        return result;
    }

    /// <summary>Adds (or subtracts) the key's stream to <paramref name="target"/>, mod 2^32.</summary>
    public static void Apply(ReadOnlySpan<byte> key, Span<uint> target, bool add)
    {
        if (key.Length != 32) throw new ArgumentException("a mask key is 32 bytes", nameof(key));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the mask stream is defined little-endian");
        using var aes = Aes.Create();
        aes.Key = key.ToArray();
        var counters = new byte[ChunkBlocks * 16];
        var stream = new byte[ChunkBlocks * 16];
        ulong block = 0;
        for (var start = 0; start < target.Length; start += ChunkBlocks * 4)
        {
            var count = Math.Min(ChunkBlocks * 4, target.Length - start);
            var blocks = (count + 3) / 4;
            for (var b = 0; b < blocks; b++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(counters.AsSpan(b * 16), block++);
            }
            aes.EncryptEcb(counters.AsSpan(0, blocks * 16), stream.AsSpan(0, blocks * 16), PaddingMode.None);
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(stream.AsSpan(0, count * 4));
            if (add) RingMath.Add(target.Slice(start, count), words);
            else RingMath.Subtract(target.Slice(start, count), words);
        }
    }
}

/// <summary>Scalars and 32-byte encodings for the Shamir sharing (Feldman's field: Z_q, q the secp256k1 order).</summary>
internal static class SecAggScalars
{
    public const int Size = 32;

    public static BigInteger Random(ISecureAggregationRandom random)
    {
        Span<byte> bytes = stackalloc byte[Size];
        while (true)
        {
            random.Fill(bytes);
            var candidate = new BigInteger(1, bytes.ToArray());
            if (candidate.SignValue > 0 && candidate.CompareTo(Feldman.Order) < 0) return candidate;
        }
    }

    public static void Write(BigInteger value, Span<byte> destination)
    {
        var raw = value.ToByteArrayUnsigned();
        if (raw.Length > Size) throw new InvalidOperationException("a scalar wider than 32 bytes");
        destination[..Size].Clear();
        raw.CopyTo(destination[(Size - raw.Length)..]);
    }

    public static byte[] ToBytes(BigInteger value)
    {
        var bytes = new byte[Size];
        Write(value, bytes);
        return bytes;
    }

    /// <summary>A 32-byte big-endian scalar; <see cref="SecureAggregationFormatException"/> unless it is below q.</summary>
    public static BigInteger Read(ReadOnlySpan<byte> bytes)
    {
        var value = new BigInteger(1, bytes[..Size].ToArray());
        if (value.CompareTo(Feldman.Order) >= 0) throw new SecureAggregationFormatException("a share value is not below the group order");
        return value;
    }
}
