using Chain.Ai.Data;
using Chain.Ai.Detection;

namespace Chain.Ai.Federated;

/// <summary>
/// One client's sufficient statistics for standardisation: its row count and, per feature, the sum and the sum of
/// squares (in double). This is all a client reveals; no row leaves it.
/// </summary>
public sealed record ScalerStatistics(long Count, double[] Sum, double[] SumOfSquares)
{
    public int Width => Sum.Length;

    /// <summary>The statistics of <paramref name="rows"/> (each of one width; an empty list needs <paramref name="width"/>).</summary>
    public static ScalerStatistics Of(IReadOnlyList<float[]> rows, int? width = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var w = width ?? (rows.Count > 0 ? rows[0].Length : throw new ArgumentException("no rows and no width", nameof(rows)));
        var sum = new double[w];
        var squares = new double[w];
        foreach (var r in rows)
        {
            if (r is null || r.Length != w) throw new ArgumentException($"a row has {r?.Length ?? 0} features, expected {w}", nameof(rows));
            for (var j = 0; j < w; j++)
            {
                sum[j] += r[j];
                squares[j] += (double)r[j] * r[j];
            }
        }
        return new ScalerStatistics(rows.Count, sum, squares);
    }

    /// <summary>The statistics of the union of both clients' rows.</summary>
    public ScalerStatistics Add(ScalerStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Width != Width) throw new ArgumentException($"widths differ: {Width} and {other.Width}", nameof(other));
        return new ScalerStatistics(Count + other.Count, [.. Sum.Zip(other.Sum, (a, b) => a + b)],
            [.. SumOfSquares.Zip(other.SumOfSquares, (a, b) => a + b)]);
    }
}

/// <summary>
/// Federated standardisation: each client sends <see cref="ScalerStatistics"/> (count, sum, sum of squares per feature),
/// the server adds them and derives the mean and the population standard deviation sqrt(E[x²] − mean²), exactly the
/// statistics <see cref="StandardScaler.Fit"/> computes on the pooled rows (up to float rounding: the one-pass formula
/// loses relative precision when a feature's mean is huge against its spread; a variance below 1e-12·mean², i.e. within
/// that rounding, is treated as a constant feature, scale 1, as the pooled scaler does for an exactly constant one).
/// </summary>
public static class FederatedScaler
{
    /// <summary>A client's statistics (what it uploads).</summary>
    public static ScalerStatistics Statistics(IReadOnlyList<float[]> rows, int? width = null) => ScalerStatistics.Of(rows, width);

    /// <summary>The scaler from every client's statistics (at least one row in all).</summary>
    public static StandardScaler Fit(IEnumerable<ScalerStatistics> clients)
    {
        ArgumentNullException.ThrowIfNull(clients);
        ScalerStatistics? total = null;
        foreach (var c in clients) total = total is null ? c : total.Add(c);
        if (total is null || total.Count == 0) throw new ArgumentException("no rows at any client: cannot fit a scaler", nameof(clients));
        var n = (double)total.Count;
        var mean = new float[total.Width];
        var scale = new float[total.Width];
        for (var j = 0; j < total.Width; j++)
        {
            var m = total.Sum[j] / n;
            var variance = Math.Max(0, total.SumOfSquares[j] / n - m * m);
            var std = Math.Sqrt(variance);
            mean[j] = (float)m;
            scale[j] = std > 1e-12 && variance > 1e-12 * m * m ? (float)std : 1f;
        }
        return ScalerFactory.Create(mean, scale);
    }

    /// <summary>The scaler of raw (unscaled) client rows, through their statistics only.</summary>
    public static StandardScaler Fit(IReadOnlyList<ClientData> rawClients)
    {
        ArgumentNullException.ThrowIfNull(rawClients);
        if (rawClients.Count == 0) throw new ArgumentException("no clients", nameof(rawClients));
        var width = rawClients.SelectMany(c => c.Features).FirstOrDefault()?.Length
                    ?? throw new ArgumentException("no rows at any client: cannot fit a scaler", nameof(rawClients));
        return Fit(rawClients.Select(c => Statistics(c.Features, width)));
    }

    /// <summary>The client's rows standardised by <paramref name="scaler"/> (done at the client).</summary>
    public static ClientData Scale(ClientData client, StandardScaler scaler)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(scaler);
        return client with { Features = scaler.Transform(client.Features) };
    }
}
