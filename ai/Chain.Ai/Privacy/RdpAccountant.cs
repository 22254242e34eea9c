using System.Globalization;

namespace Chain.Ai.Privacy;

/// <summary>How RDP at an order alpha becomes an (epsilon, delta) guarantee.</summary>
public enum DpConversion
{
    /// <summary>
    /// The default, as Opacus (<c>privacy_analysis.get_privacy_spent</c>) and TF Privacy / dp_accounting
    /// (<c>_compute_epsilon</c>) compute it: Balle et al. 2020 ("Hypothesis testing interpretations and Rényi
    /// differential privacy", Theorem 21), also Canonne-Kamath-Steinke 2020 (Proposition 12):
    /// eps = rdp + log((alpha-1)/alpha) - (log delta + log alpha)/(alpha-1). Orders at or below 1.01 are skipped
    /// (numerically unstable, never useful), and eps = 0 when delta² + expm1(-rdp) ≥ 0 (the KL bound), as TF Privacy does.
    /// </summary>
    Improved,

    /// <summary>Mironov 2017, Proposition 3: eps = rdp - log(delta)/(alpha-1). Always ≥ the improved value.</summary>
    Classic,
}

/// <summary>An (epsilon, delta) guarantee and the RDP order that gave it.</summary>
public sealed record PrivacySpent(double Epsilon, double Delta, double OptimalOrder, DpConversion Conversion)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"epsilon {Epsilon:G6} at delta {Delta:G3} (order {OptimalOrder:G4}, {Conversion.ToString().ToLowerInvariant()} conversion)");
}

/// <summary>One run of identical steps of the sampled Gaussian mechanism.</summary>
public sealed record SgmSteps(double SamplingRate, double NoiseMultiplier, long Steps);

/// <summary>
/// Tracks the RDP of a sequence of sampled Gaussian mechanism runs (DP-SGD steps) at a fixed list of orders:
/// identical steps multiply a step's RDP, different runs add (heterogeneous composition). Converts to (epsilon,
/// delta) with either conversion (<see cref="DpConversion.Improved"/> by default) and reports the best order.
/// </summary>
public sealed class RdpAccountant
{
    /// <summary>Opacus' default orders: 1 + x/10 for x in 1..99, then 12..63 (151 orders).</summary>
    public static IReadOnlyList<double> DefaultOrders { get; } =
        [.. Enumerable.Range(1, 99).Select(x => 1 + x / 10.0), .. Enumerable.Range(12, 52).Select(x => (double)x)];

    private readonly double[] _orders;
    private readonly double[] _rdp;
    private readonly List<SgmSteps> _history = [];
    private (double Q, double Sigma, double[] Rdp)? _perStep; // the last run's one-step RDP: per-step Compose calls reuse it

    /// <summary>An empty accountant over <paramref name="orders"/> (each &gt; 1; default <see cref="DefaultOrders"/>).</summary>
    public RdpAccountant(IEnumerable<double>? orders = null)
    {
        _orders = [.. orders ?? DefaultOrders];
        if (_orders.Length == 0) throw new ArgumentException("at least one RDP order is needed", nameof(orders));
        foreach (var order in _orders) SampledGaussianRdp.CheckOrder(order);
        _rdp = new double[_orders.Length];
    }

    public IReadOnlyList<double> Orders => _orders;

    /// <summary>The accumulated RDP at each of <see cref="Orders"/>.</summary>
    public IReadOnlyList<double> Rdp => _rdp;

    /// <summary>The runs composed so far, in order (consecutive identical runs are merged).</summary>
    public IReadOnlyList<SgmSteps> History => _history;

    /// <summary>All steps composed so far.</summary>
    public long TotalSteps => _history.Sum(h => h.Steps);

    /// <summary>Adds <paramref name="steps"/> steps with sampling rate q and noise multiplier sigma.</summary>
    public RdpAccountant Compose(double q, double noiseMultiplier, long steps = 1)
    {
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "the number of steps must be >= 0");
        if (_perStep is not { } cached || cached.Q != q || cached.Sigma != noiseMultiplier)
        {
            cached = (q, noiseMultiplier, SampledGaussianRdp.Rdp(q, noiseMultiplier, 1, _orders));
            _perStep = cached;
        }
        if (steps == 0) return this;
        for (var k = 0; k < _rdp.Length; k++) _rdp[k] += steps * cached.Rdp[k];
        if (_history.Count > 0 && _history[^1] is var last && last.SamplingRate == q && last.NoiseMultiplier == noiseMultiplier)
            _history[^1] = last with { Steps = last.Steps + steps };
        else
            _history.Add(new SgmSteps(q, noiseMultiplier, steps));
        return this;
    }

    /// <summary>The (epsilon, delta) guarantee of everything composed so far.</summary>
    public PrivacySpent GetPrivacySpent(double delta, DpConversion conversion = DpConversion.Improved) =>
        ToEpsilon(_orders, _rdp, delta, conversion);

    /// <summary>Epsilon of <paramref name="steps"/> steps of the sampled Gaussian mechanism at <paramref name="delta"/>.</summary>
    public static PrivacySpent Epsilon(double q, double noiseMultiplier, long steps, double delta,
        DpConversion conversion = DpConversion.Improved, IReadOnlyList<double>? orders = null)
    {
        CheckDelta(delta);
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "the number of steps must be >= 1");
        var o = orders ?? DefaultOrders;
        return ToEpsilon(o, SampledGaussianRdp.Rdp(q, noiseMultiplier, steps, o), delta, conversion);
    }

    /// <summary>
    /// The smallest epsilon over <paramref name="orders"/> for RDP values <paramref name="rdp"/> at
    /// <paramref name="delta"/>, and the order that attains it. Epsilon is never negative.
    /// </summary>
    public static PrivacySpent ToEpsilon(IReadOnlyList<double> orders, IReadOnlyList<double> rdp, double delta,
        DpConversion conversion = DpConversion.Improved)
    {
        ArgumentNullException.ThrowIfNull(orders);
        ArgumentNullException.ThrowIfNull(rdp);
        if (orders.Count != rdp.Count || orders.Count == 0)
            throw new ArgumentException($"{orders.Count} orders but {rdp.Count} RDP values", nameof(rdp));
        CheckDelta(delta);
        var logDelta = Math.Log(delta);
        var best = double.PositiveInfinity;
        var bestOrder = double.NaN;
        for (var k = 0; k < orders.Count; k++)
        {
            var a = orders[k];
            var r = rdp[k];
            SampledGaussianRdp.CheckOrder(a);
            if (double.IsNaN(r) || r < 0) throw new ArgumentException($"RDP at order {a} is {r}: it must be >= 0", nameof(rdp));
            double eps;
            if (conversion == DpConversion.Classic)
                eps = r - logDelta / (a - 1);
            else if (delta * delta + SampledGaussianRdp.ExpM1(-r) >= 0 && !double.IsPositiveInfinity(r))
                eps = 0; // delta <= sqrt(1 - exp(-KL)): no epsilon needed at all.
            else if (double.IsPositiveInfinity(a))
                eps = r; // pure DP: the limit of the improved conversion
            else if (a > 1.01)
                eps = r + SampledGaussianRdp.Log1P(-1 / a) - (logDelta + Math.Log(a)) / (a - 1);
            else
                eps = double.PositiveInfinity;
            if (eps < best || double.IsNaN(bestOrder))
            {
                best = eps;
                bestOrder = a;
            }
        }
        return new PrivacySpent(Math.Max(0, best), delta, bestOrder, conversion);
    }

    /// <summary>
    /// The smallest noise multiplier (to a relative 1e-6, rounded up) such that <paramref name="steps"/> steps at
    /// sampling rate <paramref name="q"/> give epsilon ≤ <paramref name="targetEpsilon"/> at <paramref name="delta"/>,
    /// by doubling then bisection (epsilon falls as sigma grows). Throws when even sigma = 10^6 is not enough.
    /// </summary>
    public static double NoiseMultiplierFor(double targetEpsilon, double delta, double q, long steps,
        DpConversion conversion = DpConversion.Improved, IReadOnlyList<double>? orders = null)
    {
        if (!(targetEpsilon > 0) || double.IsPositiveInfinity(targetEpsilon))
            throw new ArgumentOutOfRangeException(nameof(targetEpsilon), targetEpsilon, "the target epsilon must be a finite number > 0");
        CheckDelta(delta);
        if (!(q > 0 && q <= 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "the sampling rate q must be in (0, 1]");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "the number of steps must be >= 1");
        var o = orders ?? DefaultOrders;
        double Eps(double sigma) => Epsilon(q, sigma, steps, delta, conversion, o).Epsilon;

        double low = 0, high = 1;
        while (Eps(high) > targetEpsilon)
        {
            low = high;
            high *= 2;
            if (high > 1e6)
            {
                throw new ArgumentOutOfRangeException(nameof(targetEpsilon), targetEpsilon,
                    string.Create(CultureInfo.InvariantCulture,
                        $"no noise multiplier up to 1e6 reaches epsilon {targetEpsilon} at delta {delta} with q {q} over {steps} steps"));
            }
        }
        while (high - low > 1e-6 * high)
        {
            var mid = (low + high) / 2;
            if (Eps(mid) > targetEpsilon) low = mid;
            else high = mid;
        }
        return high;
    }

    internal static void CheckDelta(double delta)
    {
        if (!(delta > 0 && delta < 1)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "delta must be in (0, 1)");
    }
}
