using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Chain.Ai.Federated;

/// <summary>
/// Modular exponentiation modulo a fixed odd modulus by Montgomery multiplication on 64-bit limbs (CIOS, Koç et al. 1996)
/// with a fixed 5-bit window: the replacement for <see cref="BigInteger.ModPow"/> on Paillier's hot path (r^n mod n² for
/// encryption, c^(p−1) mod p² for CRT decryption). The results equal <see cref="BigInteger.ModPow"/> exactly (a property test
/// checks it on random inputs). One instance per modulus; it is immutable and thread-safe (every call has its own buffers).
/// </summary>
/// <remarks>
/// Not constant-time (neither is <see cref="BigInteger.ModPow"/>): the final conditional subtraction of each product depends
/// on the data, and the window lookups depend on the exponent. For encryption the exponent is the public n; for decryption
/// (exponent p − 1) the decryptor is the party holding the key, on its own machine.
/// </remarks>
public sealed class Montgomery
{
    private const int Window = 5;
    private readonly ulong[] _modulus;
    private readonly ulong _inverse; // −m⁻¹ mod 2^64
    private readonly ulong[] _rSquared; // R² mod m, R = 2^(64·limbs)
    private readonly ulong[] _one; // R mod m (1 in Montgomery form)

    public Montgomery(BigInteger modulus)
    {
        if (modulus <= 1 || modulus.IsEven) throw new ArgumentException("The Montgomery modulus must be odd and greater than 1.", nameof(modulus));
        Modulus = modulus;
        Limbs = (int)((modulus.GetBitLength() + 63) / 64);
        _modulus = ToLimbs(modulus, Limbs);
        // Newton iteration for m0⁻¹ mod 2^64 (each step doubles the correct low bits; m0 odd gives 3 correct bits to start).
        var m0 = _modulus[0];
        var x = m0;
        unchecked
        {
            for (var i = 0; i < 5; i++) x *= 2 - m0 * x;
            _inverse = 0 - x;
        }
        var r = BigInteger.One << (64 * Limbs);
        _rSquared = ToLimbs(r * r % modulus, Limbs);
        _one = ToLimbs(r % modulus, Limbs);
    }

    /// <summary>The modulus m.</summary>
    public BigInteger Modulus { get; }

    /// <summary>64-bit limbs per residue.</summary>
    public int Limbs { get; }

    /// <summary>b^e mod m for b of any sign and size and e ≥ 0; equals <see cref="BigInteger.ModPow"/>(b mod m, e, m).</summary>
    public BigInteger ModPow(BigInteger value, BigInteger exponent)
    {
        if (exponent.Sign < 0) throw new ArgumentOutOfRangeException(nameof(exponent), "The exponent must not be negative.");
        var b = value % Modulus;
        if (b.Sign < 0) b += Modulus;
        if (exponent.IsZero) return Modulus.IsOne ? BigInteger.Zero : BigInteger.One;
        var k = Limbs;
        var table = new ulong[(1 << Window) * k];
        var scratch = new ulong[2 * k + 2];
        var acc = new ulong[k];
        var baseLimbs = ToLimbs(b, k);
        // table[i] = b^i in Montgomery form.
        _one.CopyTo(table, 0);
        Multiply(baseLimbs, _rSquared, table.AsSpan(k, k), scratch);
        for (var i = 2; i < 1 << Window; i++)
            Multiply(table.AsSpan((i - 1) * k, k), table.AsSpan(k, k), table.AsSpan(i * k, k), scratch);

        var bits = (int)exponent.GetBitLength();
        var exponentBytes = exponent.ToByteArray(isUnsigned: true, isBigEndian: false);
        var windows = (bits + Window - 1) / Window;
        var first = true;
        for (var w = windows - 1; w >= 0; w--)
        {
            if (!first)
                for (var s = 0; s < Window; s++) Square(acc, acc, scratch);
            var digit = Bits(exponentBytes, w * Window, Window);
            if (first)
            {
                table.AsSpan(digit * k, k).CopyTo(acc);
                first = false;
            }
            else if (digit != 0)
            {
                Multiply(acc, table.AsSpan(digit * k, k), acc, scratch);
            }
        }
        // Out of Montgomery form: acc·1·R⁻¹.
        var unit = new ulong[k];
        unit[0] = 1;
        Multiply(acc, unit, acc, scratch);
        return FromLimbs(acc);
    }

    /// <summary>a·b·R⁻¹ mod m into <paramref name="result"/> (which may alias a or b); a, b &lt; m. CIOS, k² + k² limb products.</summary>
    private void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> result, Span<ulong> scratch)
    {
        var k = Limbs;
        ref var t = ref MemoryMarshal.GetReference(scratch);
        ref var ra = ref MemoryMarshal.GetReference(a);
        ref var m = ref MemoryMarshal.GetArrayDataReference(_modulus);
        scratch[..(k + 2)].Clear();
        unchecked
        {
            for (var i = 0; i < k; i++)
            {
                var bi = b[i];
                ulong carry = 0;
                for (var j = 0; j < k; j++)
                {
                    ref var tj = ref Unsafe.Add(ref t, j);
                    var hi = Math.BigMul(Unsafe.Add(ref ra, j), bi, out var lo);
                    lo += tj;
                    hi += lo < tj ? 1UL : 0UL;
                    lo += carry;
                    hi += lo < carry ? 1UL : 0UL;
                    tj = lo;
                    carry = hi;
                }
                ref var tk = ref Unsafe.Add(ref t, k);
                var top = tk + carry;
                Unsafe.Add(ref t, k + 1) = top < carry ? 1UL : 0UL;
                tk = top;

                var q = t * _inverse;
                var h = Math.BigMul(q, m, out var l);
                l += t;
                carry = h + (l < t ? 1UL : 0UL);
                for (var j = 1; j < k; j++)
                {
                    ref var tj = ref Unsafe.Add(ref t, j);
                    var hi = Math.BigMul(q, Unsafe.Add(ref m, j), out var lo);
                    lo += tj;
                    hi += lo < tj ? 1UL : 0UL;
                    lo += carry;
                    hi += lo < carry ? 1UL : 0UL;
                    Unsafe.Add(ref tj, -1) = lo;
                    carry = hi;
                }
                var last = tk + carry;
                Unsafe.Add(ref t, k - 1) = last;
                tk = Unsafe.Add(ref t, k + 1) + (last < carry ? 1UL : 0UL);
            }
        }
        Finish(scratch[..(k + 1)], result);
    }

    /// <summary>a²·R⁻¹ mod m into <paramref name="result"/> (may alias a); a &lt; m. SOS: k²/2 products for the square, k² to reduce.</summary>
    private void Square(ReadOnlySpan<ulong> a, Span<ulong> result, Span<ulong> scratch)
    {
        var k = Limbs;
        var wide = scratch[..(2 * k + 1)];
        wide.Clear();
        ref var t = ref MemoryMarshal.GetReference(wide);
        ref var ra = ref MemoryMarshal.GetReference(a);
        ref var m = ref MemoryMarshal.GetArrayDataReference(_modulus);
        unchecked
        {
            // Cross products a[i]·a[j], i < j.
            for (var i = 0; i < k - 1; i++)
            {
                var ai = Unsafe.Add(ref ra, i);
                ulong carry = 0;
                for (var j = i + 1; j < k; j++)
                {
                    ref var tij = ref Unsafe.Add(ref t, i + j);
                    var hi = Math.BigMul(ai, Unsafe.Add(ref ra, j), out var lo);
                    lo += tij;
                    hi += lo < tij ? 1UL : 0UL;
                    lo += carry;
                    hi += lo < carry ? 1UL : 0UL;
                    tij = lo;
                    carry = hi;
                }
                Unsafe.Add(ref t, i + k) = carry;
            }
            // Double them (the cross sum is below 2^(128k−1), so nothing leaves the 2k limbs), then add the squares a[i]².
            ulong shifted = 0;
            for (var i = 0; i < 2 * k; i++)
            {
                ref var ti = ref Unsafe.Add(ref t, i);
                var v = ti;
                ti = (v << 1) | shifted;
                shifted = v >> 63;
            }
            ulong c = 0;
            for (var i = 0; i < k; i++)
            {
                var ai = Unsafe.Add(ref ra, i);
                var hi = Math.BigMul(ai, ai, out var lo);
                ref var t0 = ref Unsafe.Add(ref t, 2 * i);
                ref var t1 = ref Unsafe.Add(ref t, 2 * i + 1);
                lo += c;
                hi += lo < c ? 1UL : 0UL;
                var s0 = t0 + lo;
                hi += s0 < lo ? 1UL : 0UL;
                t0 = s0;
                var s1 = t1 + hi;
                c = s1 < hi ? 1UL : 0UL;
                t1 = s1;
            }
            // Montgomery reduction of the 2k-limb square.
            for (var i = 0; i < k; i++)
            {
                var q = Unsafe.Add(ref t, i) * _inverse;
                ulong carry = 0;
                for (var j = 0; j < k; j++)
                {
                    ref var tij = ref Unsafe.Add(ref t, i + j);
                    var hi = Math.BigMul(q, Unsafe.Add(ref m, j), out var lo);
                    lo += tij;
                    hi += lo < tij ? 1UL : 0UL;
                    lo += carry;
                    hi += lo < carry ? 1UL : 0UL;
                    tij = lo;
                    carry = hi;
                }
                for (var p = i + k; carry != 0 && p <= 2 * k; p++)
                {
                    ref var tp = ref Unsafe.Add(ref t, p);
                    tp += carry;
                    carry = tp < carry ? 1UL : 0UL;
                }
            }
        }
        Finish(wide[k..], result);
    }

    /// <summary>t (k + 1 limbs, t &lt; 2m) minus m if t ≥ m, into result (k limbs).</summary>
    private void Finish(ReadOnlySpan<ulong> t, Span<ulong> result)
    {
        var k = Limbs;
        var m = _modulus.AsSpan();
        if (t[k] != 0 || !Less(t[..k], m))
        {
            unchecked
            {
                ulong borrow = 0;
                for (var j = 0; j < k; j++)
                {
                    var x = t[j];
                    var d = x - m[j] - borrow;
                    borrow = (x < m[j] || (x == m[j] && borrow == 1)) ? 1UL : 0UL;
                    result[j] = d;
                }
            }
        }
        else
        {
            t[..k].CopyTo(result);
        }
    }

    private static bool Less(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        for (var j = a.Length - 1; j >= 0; j--)
        {
            if (a[j] != b[j]) return a[j] < b[j];
        }
        return false;
    }

    private static int Bits(byte[] littleEndian, int offset, int width)
    {
        var value = 0;
        for (var i = 0; i < width; i++)
        {
            var bit = offset + i;
            var index = bit >> 3;
            if (index < littleEndian.Length && ((littleEndian[index] >> (bit & 7)) & 1) != 0) value |= 1 << i;
        }
        return value;
    }

    private static ulong[] ToLimbs(BigInteger value, int limbs)
    {
        var bytes = new byte[limbs * 8];
        if (!value.TryWriteBytes(bytes, out _, isUnsigned: true, isBigEndian: false))
            throw new ArgumentException("The value does not fit the modulus' limbs.", nameof(value));
        var result = new ulong[limbs];
        MemoryMarshal.Cast<byte, ulong>(bytes).CopyTo(result);
        if (!BitConverter.IsLittleEndian)
            for (var i = 0; i < limbs; i++) result[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(result[i]);
        return result;
    }

    private static BigInteger FromLimbs(ReadOnlySpan<ulong> limbs)
    {
        if (BitConverter.IsLittleEndian) return new BigInteger(MemoryMarshal.AsBytes(limbs), isUnsigned: true, isBigEndian: false);
        var bytes = new byte[limbs.Length * 8];
        for (var i = 0; i < limbs.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), limbs[i]);
        return new BigInteger(bytes, isUnsigned: true, isBigEndian: false);
    }
}
