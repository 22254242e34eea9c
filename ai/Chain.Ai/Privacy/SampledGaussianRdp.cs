namespace Chain.Ai.Privacy;

/// <summary>
/// Rényi differential privacy of one step of the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019,
/// "Rényi Differential Privacy of the Sampled Gaussian Mechanism", arXiv:1908.10530, section 3.3): a query of L2
/// sensitivity 1 (after clipping to C and scaling by 1/C) is answered on a Poisson sample that holds each record with
/// probability <c>q</c>, plus N(0, sigma²) noise. All arithmetic is in double precision and in log space:
/// <list type="bullet">
/// <item>q = 1: the plain Gaussian mechanism, RDP = alpha / (2 sigma²);</item>
/// <item>integer alpha: the exact binomial expansion log A_alpha = log Σ_i C(alpha,i) q^i (1-q)^(alpha-i)
/// exp((i²-i)/(2 sigma²));</item>
/// <item>fractional alpha: the two-sided series of the same paper, as TensorFlow Privacy's
/// <c>rdp_accountant._compute_log_a_frac</c> computes it (terms until both are below e^-30).</item>
/// </list>
/// RDP(alpha) = log A_alpha / (alpha - 1); it composes additively over steps.
/// </summary>
public static class SampledGaussianRdp
{
    /// <summary>A fractional-order series longer than this is refused (it has never been seen to need more than ~10^5).</summary>
    public const int MaxSeriesTerms = 10_000_000;

    /// <summary>
    /// RDP at order <paramref name="order"/> of one step with sampling rate <paramref name="q"/> (in [0, 1]) and noise
    /// multiplier <paramref name="noiseMultiplier"/> (sigma, noise standard deviation over sensitivity, &gt; 0).
    /// q = 0 gives 0 (no record is ever used); an infinite order gives infinity.
    /// </summary>
    public static double Rdp(double q, double noiseMultiplier, double order)
    {
        CheckQ(q);
        CheckSigma(noiseMultiplier);
        CheckOrder(order);
        if (q == 0) return 0;
        if (q == 1) return order / (2 * noiseMultiplier * noiseMultiplier);
        if (double.IsPositiveInfinity(order)) return double.PositiveInfinity;
        return LogA(q, noiseMultiplier, order) / (order - 1);
    }

    /// <summary>RDP of <paramref name="steps"/> identical steps at each of <paramref name="orders"/> (composition: multiply).</summary>
    public static double[] Rdp(double q, double noiseMultiplier, long steps, IReadOnlyList<double> orders)
    {
        ArgumentNullException.ThrowIfNull(orders);
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "the number of steps must be >= 0");
        var rdp = new double[orders.Count];
        for (var k = 0; k < rdp.Length; k++) rdp[k] = steps == 0 ? 0 : steps * Rdp(q, noiseMultiplier, orders[k]);
        return rdp;
    }

    /// <summary>log A_alpha for 0 &lt; q &lt; 1 and a finite order &gt; 1.</summary>
    internal static double LogA(double q, double sigma, double order) =>
        order == Math.Floor(order) && order <= int.MaxValue ? LogAInteger(q, sigma, (int)order) : LogAFractional(q, sigma, order);

    /// <summary>Integer alpha: log Σ_{i=0..alpha} C(alpha,i) q^i (1-q)^(alpha-i) exp((i²-i)/(2σ²)).</summary>
    internal static double LogAInteger(double q, double sigma, int alpha)
    {
        var logQ = Math.Log(q);
        var log1MinusQ = Log1P(-q);
        var twoSigma2 = 2 * sigma * sigma;
        var logA = double.NegativeInfinity;
        var logBinom = 0.0; // log C(alpha, 0)
        for (var i = 0; i <= alpha; i++)
        {
            if (i > 0) logBinom += Math.Log(alpha - i + 1) - Math.Log(i);
            var term = logBinom + i * logQ + (alpha - i) * log1MinusQ + ((double)i * i - i) / twoSigma2;
            logA = LogAdd(logA, term);
        }
        return logA;
    }

    /// <summary>
    /// Fractional alpha: A_alpha split at z0 = σ² log(1/q - 1) + 1/2 into two integrals, each a series over the
    /// generalised binomial coefficients C(alpha, i) (whose sign alternates once i &gt; alpha).
    /// </summary>
    internal static double LogAFractional(double q, double sigma, double alpha)
    {
        double logA0 = double.NegativeInfinity, logA1 = double.NegativeInfinity;
        var logQ = Math.Log(q);
        var log1MinusQ = Log1P(-q);
        var sigma2 = sigma * sigma;
        var z0 = sigma2 * Math.Log(1 / q - 1) + 0.5;
        var sqrt2Sigma = Math.Sqrt(2) * sigma;
        var logHalf = Math.Log(0.5);
        var logAbsCoef = 0.0; // log |C(alpha, 0)|
        var coefPositive = true;
        for (var i = 0; ; i++)
        {
            if (i >= MaxSeriesTerms)
            {
                throw new InvalidOperationException(
                    $"the RDP series for q={q}, sigma={sigma}, order={alpha} did not converge in {MaxSeriesTerms} terms");
            }
            if (i > 0)
            {
                // C(alpha, i) = C(alpha, i-1) (alpha - i + 1) / i
                var factor = alpha - i + 1;
                logAbsCoef += Math.Log(Math.Abs(factor)) - Math.Log(i);
                if (factor < 0) coefPositive = !coefPositive;
            }
            var j = alpha - i;
            var logT0 = logAbsCoef + i * logQ + j * log1MinusQ;
            var logT1 = logAbsCoef + j * logQ + i * log1MinusQ;
            var logE0 = logHalf + LogErfc((i - z0) / sqrt2Sigma);
            var logE1 = logHalf + LogErfc((z0 - j) / sqrt2Sigma);
            var logS0 = logT0 + ((double)i * i - i) / (2 * sigma2) + logE0;
            var logS1 = logT1 + (j * j - j) / (2 * sigma2) + logE1;
            if (coefPositive)
            {
                logA0 = LogAdd(logA0, logS0);
                logA1 = LogAdd(logA1, logS1);
            }
            else
            {
                logA0 = LogSub(logA0, logS0);
                logA1 = LogSub(logA1, logS1);
            }
            if (Math.Max(logS0, logS1) < -30) break;
        }
        return LogAdd(logA0, logA1);
    }

    /// <summary>log(e^x + e^y) without overflow; -∞ stands for 0.</summary>
    internal static double LogAdd(double logX, double logY)
    {
        var a = Math.Min(logX, logY);
        var b = Math.Max(logX, logY);
        if (double.IsNegativeInfinity(a)) return b;
        return Log1P(Math.Exp(a - b)) + b;
    }

    /// <summary>log(e^x - e^y) for x ≥ y; -∞ stands for 0.</summary>
    internal static double LogSub(double logX, double logY)
    {
        if (logX < logY)
        {
            throw new InvalidOperationException(
                $"log-space subtraction would be negative (log x = {logX}, log y = {logY}): the RDP series lost precision");
        }
        if (double.IsNegativeInfinity(logY)) return logX;
        if (logX == logY) return double.NegativeInfinity;
        var d = logX - logY;
        return d > 700 ? logX : Math.Log(Math.Exp(d) - 1) + logY;
    }

    /// <summary>
    /// log(erfc(x)) with full relative accuracy for large x, where erfc underflows: for x &lt; 0 and 0 ≤ x &lt; 2.5
    /// from the positive series of erf (erf(x) = 2/√π e^{-x²} Σ 2^n x^{2n+1} / (2n+1)!!); for x ≥ 2.5 from the
    /// continued fraction erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), in log form.
    /// </summary>
    internal static double LogErfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (double.IsPositiveInfinity(x)) return double.NegativeInfinity;
        if (double.IsNegativeInfinity(x)) return Math.Log(2);
        if (x < 0) return Math.Log(1 + ErfSeries(-x));
        if (x < 2.5) return Math.Log(1 - ErfSeries(x));
        return -x * x - 0.5 * Math.Log(Math.PI) + Math.Log(ErfcContinuedFraction(x));
    }

    /// <summary>erf(x) for 0 ≤ x ≤ ~6 from a series of positive terms (no cancellation).</summary>
    private static double ErfSeries(double x)
    {
        if (x > 6) return 1;
        var x2 = x * x;
        var term = x;
        var sum = x;
        for (var n = 1; n < 500; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
    }

    /// <summary>1/(x + a1/(x + a2/(x + ...))) with a_k = k/2, by the modified Lentz method (x ≥ 2.5).</summary>
    private static double ErfcContinuedFraction(double x)
    {
        const double tiny = 1e-300;
        var f = x;
        var c = x;
        var d = 0.0;
        for (var k = 1; k < 10_000; k++)
        {
            var a = k / 2.0;
            d = x + a * d;
            if (Math.Abs(d) < tiny) d = tiny;
            c = x + a / c;
            if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            var delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return 1 / f;
    }

    /// <summary>log(1 + x), accurate for small |x| (Goldberg's trick; .NET's LogP1 is log(1 + x)).</summary>
    internal static double Log1P(double x)
    {
        if (double.IsPositiveInfinity(x)) return x;
        var u = 1 + x;
        if (u == 1) return x;
        return Math.Log(u) * x / (u - 1);
    }

    /// <summary>exp(x) - 1, accurate for small |x| (Kahan's trick).</summary>
    internal static double ExpM1(double x)
    {
        var u = Math.Exp(x);
        if (u == 1) return x;
        var um1 = u - 1;
        if (um1 == -1) return -1;
        if (double.IsPositiveInfinity(u)) return u;
        return um1 * x / Math.Log(u);
    }

    internal static void CheckQ(double q)
    {
        if (!(q >= 0 && q <= 1))
            throw new ArgumentOutOfRangeException(nameof(q), q, "the sampling rate q must be in [0, 1]");
    }

    internal static void CheckSigma(double noiseMultiplier)
    {
        if (!(noiseMultiplier > 0) || double.IsPositiveInfinity(noiseMultiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), noiseMultiplier,
                "the noise multiplier sigma must be a finite number > 0");
        }
    }

    internal static void CheckOrder(double order)
    {
        if (!(order > 1))
            throw new ArgumentOutOfRangeException(nameof(order), order, "an RDP order must be > 1");
    }
}
