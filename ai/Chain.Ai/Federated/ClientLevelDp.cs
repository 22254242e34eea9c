using Chain.Ai.Privacy;

namespace Chain.Ai.Federated;

/// <summary>
/// Client-level differential privacy, DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning Differentially Private
/// Recurrent Language Models"): each round every client is sampled independently with probability q (Poisson, as the
/// accountant assumes); each participant's delta is clipped to L2 norm <see cref="ClipNorm"/> (C); the server adds
/// Gaussian noise N(0, (sigma·C)²) per coordinate to the SUM of the clipped deltas and divides by the fixed expected
/// participant count q·K (the fixed-denominator estimator, so one client changes the sum by at most C). The noise is
/// added server-side (a trusted aggregator; distributed client-side noise would need secure aggregation). The guarantee
/// is per client (all of a hospital's rows together): one round is one step of the sampled Gaussian mechanism with
/// sampling rate q = clients per round / clients and noise multiplier sigma; <see cref="RdpAccountant"/> composes the
/// rounds. NoiseMultiplier 0 = clipping only (epsilon infinite).
/// </summary>
public sealed record ClientLevelDp(double ClipNorm, double NoiseMultiplier)
{
    public double ClipNorm { get; } = ClipNorm > 0 && double.IsFinite(ClipNorm)
        ? ClipNorm
        : throw new ArgumentOutOfRangeException(nameof(ClipNorm), ClipNorm, "the clipping norm must be a finite number > 0");

    public double NoiseMultiplier { get; } = NoiseMultiplier >= 0 && double.IsFinite(NoiseMultiplier)
        ? NoiseMultiplier
        : throw new ArgumentOutOfRangeException(nameof(NoiseMultiplier), NoiseMultiplier, "the noise multiplier must be a finite number >= 0");

    /// <summary>The noise standard deviation per coordinate of the sum: sigma·C.</summary>
    public double NoiseStandardDeviation => NoiseMultiplier * ClipNorm;

    /// <summary>The L2 norm (in double).</summary>
    public static double Norm(ReadOnlySpan<float> values)
    {
        double s = 0;
        foreach (var v in values) s += (double)v * v;
        return Math.Sqrt(s);
    }

    /// <summary>A copy of <paramref name="delta"/> scaled by min(1, C/‖delta‖), so its norm is at most C.</summary>
    public float[] Clip(ReadOnlySpan<float> delta)
    {
        if (delta.Length == 0) throw new ArgumentException("empty delta", nameof(delta));
        var norm = Norm(delta);
        if (!double.IsFinite(norm)) throw new ArgumentException("the delta holds non-finite values", nameof(delta));
        var factor = norm > ClipNorm ? ClipNorm / norm : 1;
        var result = new float[delta.Length];
        for (var i = 0; i < result.Length; i++) result[i] = (float)(delta[i] * factor);
        // Float rounding may leave the norm a hair above C; shrink until it is not.
        while (Norm(result) > ClipNorm)
            for (var i = 0; i < result.Length; i++) result[i] = MathF.BitDecrement(MathF.Abs(result[i])) * MathF.Sign(result[i]);
        return result;
    }

    /// <summary>
    /// Local (client-side) noise: <paramref name="delta"/> clipped to C plus Gaussian noise of std sigma·C on every value,
    /// from <paramref name="random"/>, so the update is private before it leaves the client.
    /// </summary>
    public float[] Privatise(ReadOnlySpan<float> delta, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var result = Clip(delta);
        var sd = NoiseStandardDeviation;
        if (sd > 0) for (var i = 0; i < result.Length; i++) result[i] += (float)(sd * Gaussian.Next(random));
        return result;
    }

    /// <summary>
    /// The private mean: (Σ clipped + N(0, (sigma·C)²)) / <paramref name="expectedClients"/>, noise from
    /// <paramref name="random"/>. The deltas must already be clipped (each norm ≤ C, checked). With no participants the
    /// result is noise alone (the round is still spent).
    /// </summary>
    public float[] Aggregate(IReadOnlyList<float[]> clippedDeltas, int length, double expectedClients, Random random)
    {
        ArgumentNullException.ThrowIfNull(clippedDeltas);
        ArgumentNullException.ThrowIfNull(random);
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be >= 1");
        if (!(expectedClients > 0) || double.IsInfinity(expectedClients))
            throw new ArgumentOutOfRangeException(nameof(expectedClients), expectedClients, "the expected client count must be > 0");
        var sum = new double[length];
        foreach (var d in clippedDeltas)
        {
            if (d.Length != length) throw new ArgumentException($"a delta has {d.Length} values, expected {length}", nameof(clippedDeltas));
            if (Norm(d) > ClipNorm * (1 + 1e-6)) throw new ArgumentException($"a delta has norm {Norm(d)} > C = {ClipNorm}: clip it first", nameof(clippedDeltas));
            for (var i = 0; i < length; i++) sum[i] += d[i];
        }
        var sd = NoiseStandardDeviation;
        var result = new float[length];
        for (var i = 0; i < length; i++) result[i] = (float)((sum[i] + (sd > 0 ? sd * Gaussian.Next(random) : 0)) / expectedClients);
        return result;
    }

    /// <summary>
    /// Epsilon after <paramref name="rounds"/> rounds at sampling rate <paramref name="q"/> and <paramref name="delta"/>,
    /// from the RDP accountant (infinite without noise).
    /// </summary>
    public PrivacySpent Epsilon(double q, long rounds, double delta)
    {
        if (NoiseMultiplier == 0) return new PrivacySpent(double.PositiveInfinity, delta, double.NaN, DpConversion.Improved);
        return RdpAccountant.Epsilon(q, NoiseMultiplier, rounds, delta);
    }
}
