using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.EC;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Math.EC;

namespace Chain.Chaincode.Custody;

/// <summary>A custodian's share: the polynomial's value at <see cref="Index"/> (1..n), a scalar mod the group order.</summary>
public sealed record Share(int Index, BigInteger Value);

/// <summary>A dealing: the shares (to be encrypted to each custodian) and the public commitments to the polynomial.</summary>
public sealed record Dealing(IReadOnlyList<Share> Shares, IReadOnlyList<ECPoint> Commitments)
{
    public int Threshold => Commitments.Count;
}

/// <summary>
/// Feldman verifiable secret sharing over secp256k1 (BouncyCastle's curve arithmetic). A secret s is the constant term
/// of a random polynomial f of degree t-1 over Z_q; custodian i gets f(i); the public commitments C_j = a_j·G let
/// anyone check a share (f(i)·G = Σ_j i^j·C_j) without learning it, and C_0 = s·G binds the secret. Any t shares give s
/// (Lagrange at 0); t-1 shares are consistent with every secret. A refresh adds a random polynomial with zero constant
/// term: the secret stays, every share changes, and old shares no longer combine with new ones.
/// Deterministic: the dealer's randomness is passed in (<c>randomScalar</c>), never drawn here.
/// </summary>
public static class Feldman
{
    private static readonly X9ECParameters Curve = CustomNamedCurves.GetByName("secp256k1");

    public static BigInteger Order => Curve.N;
    public static ECPoint Generator => Curve.G;

    /// <summary>Splits <paramref name="secret"/> (0 &lt; s &lt; q) t-of-n. <paramref name="randomScalar"/> must return uniform scalars in [1, q).</summary>
    public static Dealing Deal(BigInteger secret, int threshold, int custodians, Func<BigInteger> randomScalar)
    {
        CheckShape(threshold, custodians);
        if (secret.SignValue <= 0 || secret.CompareTo(Order) >= 0) throw new ArgumentOutOfRangeException(nameof(secret), "the secret must be in [1, q)");
        var coefficients = new BigInteger[threshold];
        coefficients[0] = secret;
        for (var j = 1; j < threshold; j++) coefficients[j] = Scalar(randomScalar);
        return FromPolynomial(coefficients, custodians);
    }

    /// <summary>A refresh dealing: a random polynomial of degree t-1 with zero constant term (its C_0 is the point at infinity).</summary>
    public static Dealing DealRefresh(int threshold, int custodians, Func<BigInteger> randomScalar)
    {
        CheckShape(threshold, custodians);
        var coefficients = new BigInteger[threshold];
        coefficients[0] = BigInteger.Zero;
        for (var j = 1; j < threshold; j++) coefficients[j] = Scalar(randomScalar);
        return FromPolynomial(coefficients, custodians);
    }

    /// <summary>True when <paramref name="share"/> lies on the committed polynomial.</summary>
    public static bool Verify(Share share, IReadOnlyList<ECPoint> commitments)
    {
        if (share.Index < 1 || share.Value.SignValue < 0 || share.Value.CompareTo(Order) >= 0 || commitments.Count == 0) return false;
        var expected = Evaluate(commitments, share.Index);
        return Generator.Multiply(share.Value).Normalize().Equals(expected);
    }

    /// <summary>The committed polynomial's value at <paramref name="index"/>, in the exponent: Σ_j index^j·C_j.</summary>
    public static ECPoint Evaluate(IReadOnlyList<ECPoint> commitments, int index)
    {
        var x = BigInteger.ValueOf(index);
        var power = BigInteger.One;
        var sum = Curve.Curve.Infinity;
        foreach (var c in commitments)
        {
            sum = sum.Add(c.Multiply(power));
            power = power.Multiply(x).Mod(Order);
        }
        return sum.Normalize();
    }

    /// <summary>The secret from any t (or more) distinct shares: Lagrange interpolation at 0.</summary>
    public static BigInteger Reconstruct(IReadOnlyList<Share> shares)
    {
        if (shares.Count == 0) throw new ArgumentException("no shares", nameof(shares));
        if (shares.Select(s => s.Index).Distinct().Count() != shares.Count) throw new ArgumentException("shares must have distinct indices", nameof(shares));
        var secret = BigInteger.Zero;
        foreach (var si in shares)
        {
            var xi = BigInteger.ValueOf(si.Index);
            var num = BigInteger.One;
            var den = BigInteger.One;
            foreach (var sj in shares)
            {
                if (sj.Index == si.Index) continue;
                var xj = BigInteger.ValueOf(sj.Index);
                num = num.Multiply(xj.Negate()).Mod(Order);
                den = den.Multiply(xi.Subtract(xj)).Mod(Order);
            }
            secret = secret.Add(si.Value.Multiply(num).Multiply(den.ModInverse(Order))).Mod(Order);
        }
        return secret;
    }

    /// <summary>Applies a verified refresh: new share = old share + refresh share; new commitments = old + refresh, pointwise.</summary>
    public static (Share Share, IReadOnlyList<ECPoint> Commitments) Refresh(Share old, IReadOnlyList<ECPoint> commitments, Share delta,
        IReadOnlyList<ECPoint> deltaCommitments)
    {
        if (old.Index != delta.Index) throw new ArgumentException("the refresh share is for another custodian", nameof(delta));
        if (deltaCommitments.Count != commitments.Count) throw new ArgumentException("the refresh has another threshold", nameof(deltaCommitments));
        if (!deltaCommitments[0].IsInfinity) throw new ArgumentException("a refresh must not change the secret (its C_0 must be the identity)", nameof(deltaCommitments));
        var share = new Share(old.Index, old.Value.Add(delta.Value).Mod(Order));
        return (share, commitments.Zip(deltaCommitments, (a, b) => a.Add(b).Normalize()).ToList());
    }

    /// <summary>A commitment in compressed SEC1 form (33 bytes; the identity is one zero byte).</summary>
    public static byte[] Encode(ECPoint point) => point.IsInfinity ? [0] : point.GetEncoded(true);

    /// <summary>Decodes and checks a point (on the curve, in the group); throws <see cref="ArgumentException"/> for anything else.</summary>
    public static ECPoint Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 1 && bytes[0] == 0) return Curve.Curve.Infinity;
        try
        {
            var p = Curve.Curve.DecodePoint(bytes.ToArray()).Normalize();
            if (!p.IsValid()) throw new ArgumentException("not a point of the group");
            return p;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            throw new ArgumentException($"not a valid secp256k1 point: {e.Message}", e);
        }
    }

    private static Dealing FromPolynomial(BigInteger[] coefficients, int custodians)
    {
        var shares = new List<Share>(custodians);
        for (var i = 1; i <= custodians; i++)
        {
            var x = BigInteger.ValueOf(i);
            var y = BigInteger.Zero;
            for (var j = coefficients.Length - 1; j >= 0; j--) y = y.Multiply(x).Add(coefficients[j]).Mod(Order);
            shares.Add(new Share(i, y));
        }
        var commitments = coefficients.Select(a => a.SignValue == 0 ? Curve.Curve.Infinity : Generator.Multiply(a).Normalize()).ToList();
        return new Dealing(shares, commitments);
    }

    private static BigInteger Scalar(Func<BigInteger> random)
    {
        var r = random();
        if (r.SignValue <= 0 || r.CompareTo(Order) >= 0) throw new ArgumentOutOfRangeException(nameof(random), "random scalars must be in [1, q)");
        return r;
    }

    private static void CheckShape(int threshold, int custodians)
    {
        if (custodians is < 1 or > 255) throw new ArgumentOutOfRangeException(nameof(custodians), "1-255 custodians");
        if (threshold < 1 || threshold > custodians) throw new ArgumentOutOfRangeException(nameof(threshold), "1 <= t <= n");
    }
}
