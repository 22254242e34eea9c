namespace Chain.Ai.Federated;

/// <summary>One client's model update for a round: the parameter delta (local − global) and how many examples it saw.</summary>
public sealed record ClientUpdate(string Client, float[] Delta, int Examples);

/// <summary>Refused aggregation input; <see cref="Client"/> names the offending client when there is one.</summary>
public sealed class AggregationException(string message, string? client = null) : Exception(message)
{
    public string? Client { get; } = client;
}

/// <summary>A server-side rule that turns the round's client updates into one update of the same length.</summary>
public interface IAggregationRule
{
    string Name { get; }

    /// <summary>Aggregates the updates; throws <see cref="AggregationException"/> on bad input.</summary>
    float[] Aggregate(IReadOnlyList<ClientUpdate> updates);
}

/// <summary>Input checks shared by every rule.</summary>
public static class AggregationInput
{
    /// <summary>
    /// Checks there is at least one update, none is null, every delta is non-empty, of one length and finite, and
    /// Examples is not negative. Returns the common length.
    /// </summary>
    public static int Validate(IReadOnlyList<ClientUpdate>? updates)
    {
        if (updates is null || updates.Count == 0) throw new AggregationException("no client updates to aggregate");
        var length = -1;
        for (var u = 0; u < updates.Count; u++)
        {
            var update = updates[u] ?? throw new AggregationException($"update {u} is null");
            var name = update.Client ?? $"#{u}";
            if (update.Delta is null) throw new AggregationException($"client '{name}' sent no delta", name);
            if (update.Delta.Length == 0) throw new AggregationException($"client '{name}' sent an empty delta", name);
            if (update.Examples < 0)
                throw new AggregationException($"client '{name}' reports {update.Examples} examples (must be >= 0)", name);
            if (length < 0) length = update.Delta.Length;
            else if (update.Delta.Length != length)
                throw new AggregationException(
                    $"client '{name}' sent {update.Delta.Length} parameters, expected {length} like '{updates[0].Client}'", name);
            for (var i = 0; i < update.Delta.Length; i++)
                if (!float.IsFinite(update.Delta[i]))
                    throw new AggregationException(
                        $"client '{name}' sent a non-finite value ({update.Delta[i]}) at coordinate {i}", name);
        }
        return length;
    }
}

/// <summary>
/// FedAvg (McMahan et al. 2017): the example-weighted mean, Σ nᵢ·Δᵢ / Σ nᵢ (accumulated in double). Every client needs
/// at least one example. Not robust: one client can move the result anywhere. FedProx aggregates the same way (its
/// change is client-side, see <see cref="FedProx"/>).
/// </summary>
public sealed class FedAvg : IAggregationRule
{
    public string Name => "fedavg";

    public float[] Aggregate(IReadOnlyList<ClientUpdate> updates)
    {
        var length = AggregationInput.Validate(updates);
        var sum = new double[length];
        double total = 0;
        foreach (var update in updates)
        {
            if (update.Examples < 1)
                throw new AggregationException($"FedAvg needs at least one example per client; '{update.Client}' reports {update.Examples}", update.Client);
            total += update.Examples;
            for (var i = 0; i < length; i++) sum[i] += (double)update.Examples * update.Delta[i];
        }
        var result = new float[length];
        for (var i = 0; i < length; i++) result[i] = (float)(sum[i] / total);
        return result;
    }
}

/// <summary>
/// Coordinate-wise median (Yin et al. 2018), unweighted; with an even count, the mean of the two middle values. With
/// fewer than half of the clients malicious, every coordinate stays within the honest clients' range.
/// </summary>
public sealed class CoordinateMedian : IAggregationRule
{
    public string Name => "median";

    public float[] Aggregate(IReadOnlyList<ClientUpdate> updates)
    {
        var length = AggregationInput.Validate(updates);
        var n = updates.Count;
        var column = new float[n];
        var result = new float[length];
        for (var i = 0; i < length; i++)
        {
            for (var u = 0; u < n; u++) column[u] = updates[u].Delta[i];
            Array.Sort(column);
            result[i] = n % 2 == 1 ? column[n / 2] : (float)(((double)column[n / 2 - 1] + column[n / 2]) / 2);
        }
        return result;
    }
}

/// <summary>
/// Coordinate-wise trimmed mean (Yin et al. 2018), unweighted: per coordinate, drop the k = ⌊beta·n⌋ smallest and k
/// largest values and average the rest. beta in [0, 0.5); beta = 0 is the plain mean. If beta is at least the fraction
/// of malicious clients, the result stays within the honest range.
/// </summary>
public sealed class TrimmedMean : IAggregationRule
{
    public TrimmedMean(double beta)
    {
        if (!(beta >= 0 && beta < 0.5)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must be in [0, 0.5)");
        Beta = beta;
    }

    public double Beta { get; }

    public string Name => $"trimmed-mean({Beta})";

    /// <summary>How many values are trimmed from each end for n clients.</summary>
    public int Trimmed(int n) => (int)Math.Floor(Beta * n);

    public float[] Aggregate(IReadOnlyList<ClientUpdate> updates)
    {
        var length = AggregationInput.Validate(updates);
        var n = updates.Count;
        var k = Trimmed(n);
        var column = new float[n];
        var result = new float[length];
        for (var i = 0; i < length; i++)
        {
            for (var u = 0; u < n; u++) column[u] = updates[u].Delta[i];
            Array.Sort(column);
            double sum = 0;
            for (var j = k; j < n - k; j++) sum += column[j];
            result[i] = (float)(sum / (n - 2 * k));
        }
        return result;
    }
}

/// <summary>
/// Multi-Krum (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent"): each
/// update's score is the sum of squared Euclidean distances to its n − f − 2 nearest other updates; the m updates with
/// the lowest scores (ties: lower index first) are averaged, unweighted. m = 1 is Krum. Needs n &gt; 2f + 2.
/// </summary>
public class MultiKrum : IAggregationRule
{
    public MultiKrum(int f, int m)
    {
        if (f < 0) throw new ArgumentOutOfRangeException(nameof(f), f, "f (assumed Byzantine clients) must be >= 0");
        if (m < 1) throw new ArgumentOutOfRangeException(nameof(m), m, "m (updates averaged) must be >= 1");
        F = f;
        M = m;
    }

    public int F { get; }

    public int M { get; }

    public virtual string Name => $"multi-krum(f={F},m={M})";

    /// <summary>The Krum score of every update (in input order), after validation.</summary>
    public double[] Scores(IReadOnlyList<ClientUpdate> updates)
    {
        var length = AggregationInput.Validate(updates);
        var n = updates.Count;
        if (n <= 2 * F + 2)
            throw new AggregationException(
                $"Krum with f = {F} needs more than 2f + 2 = {2 * F + 2} clients, got {n}");
        var distance = new double[n, n];
        for (var a = 0; a < n; a++)
            for (var b = a + 1; b < n; b++)
            {
                double d = 0;
                for (var i = 0; i < length; i++)
                {
                    var diff = (double)updates[a].Delta[i] - updates[b].Delta[i];
                    d += diff * diff;
                }
                distance[a, b] = distance[b, a] = d;
            }
        var neighbours = n - F - 2;
        var scores = new double[n];
        var row = new double[n - 1];
        for (var a = 0; a < n; a++)
        {
            var j = 0;
            for (var b = 0; b < n; b++) if (b != a) row[j++] = distance[a, b];
            Array.Sort(row);
            double s = 0;
            for (var k = 0; k < neighbours; k++) s += row[k];
            scores[a] = s;
        }
        return scores;
    }

    /// <summary>Indices of the selected updates, best score first.</summary>
    public int[] Select(IReadOnlyList<ClientUpdate> updates)
    {
        var scores = Scores(updates);
        if (M > updates.Count)
            throw new AggregationException($"Multi-Krum cannot average m = {M} updates out of {updates.Count}");
        return Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ThenBy(i => i).Take(M).ToArray();
    }

    public float[] Aggregate(IReadOnlyList<ClientUpdate> updates)
    {
        var selected = Select(updates);
        var length = updates[0].Delta.Length;
        var sum = new double[length];
        foreach (var u in selected)
            for (var i = 0; i < length; i++) sum[i] += updates[u].Delta[i];
        var result = new float[length];
        for (var i = 0; i < length; i++) result[i] = (float)(sum[i] / selected.Length);
        return result;
    }
}

/// <summary>Krum (Blanchard et al. 2017): the single update with the lowest score; Multi-Krum with m = 1.</summary>
public sealed class Krum(int f) : MultiKrum(f, 1)
{
    public override string Name => $"krum(f={F})";
}

/// <summary>
/// FedProx (Li et al. 2020) client-side helper. A client minimises its loss plus (mu/2)·‖w − w_global‖², so it adds
/// mu·(w − w_global) to its loss gradient. The server aggregates FedProx updates exactly like FedAvg
/// (use <see cref="FedAvg"/>); there is no FedProx server rule.
/// </summary>
public static class FedProx
{
    /// <summary>(mu/2)·‖local − global‖².</summary>
    public static double ProximalTerm(ReadOnlySpan<float> local, ReadOnlySpan<float> global, double mu)
    {
        Check(local.Length, global.Length, mu);
        double sum = 0;
        for (var i = 0; i < local.Length; i++)
        {
            var d = (double)local[i] - global[i];
            sum += d * d;
        }
        return mu / 2 * sum;
    }

    /// <summary>The gradient of the proximal term, mu·(local − global).</summary>
    public static float[] ProximalGradient(ReadOnlySpan<float> local, ReadOnlySpan<float> global, double mu)
    {
        Check(local.Length, global.Length, mu);
        var g = new float[local.Length];
        for (var i = 0; i < g.Length; i++) g[i] = (float)(mu * ((double)local[i] - global[i]));
        return g;
    }

    /// <summary>Adds mu·(local − global) to <paramref name="gradient"/> in place (the client's loss gradient).</summary>
    public static void AddProximalGradient(Span<float> gradient, ReadOnlySpan<float> local, ReadOnlySpan<float> global, double mu)
    {
        Check(local.Length, global.Length, mu);
        if (gradient.Length != local.Length)
            throw new ArgumentException($"gradient has {gradient.Length} values, weights {local.Length}", nameof(gradient));
        for (var i = 0; i < gradient.Length; i++) gradient[i] = (float)(gradient[i] + mu * ((double)local[i] - global[i]));
    }

    private static void Check(int local, int global, double mu)
    {
        if (!(mu >= 0) || double.IsInfinity(mu)) throw new ArgumentOutOfRangeException(nameof(mu), mu, "mu must be finite and >= 0");
        if (local != global) throw new ArgumentException($"local weights have {local} values, global {global}");
    }
}
