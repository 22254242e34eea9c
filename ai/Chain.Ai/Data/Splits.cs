namespace Chain.Ai.Data;

/// <summary>Row indexes of a train / validation / test split (each in time order).</summary>
public sealed record Split(IReadOnlyList<int> Train, IReadOnlyList<int> Validation, IReadOnlyList<int> Test);

/// <summary>
/// Splits that respect time order. Rows next to each other in time (the same attack burst) are near-duplicates, so a
/// shuffled row-level split leaks the test set into training; these splits cut the timeline into contiguous blocks.
/// </summary>
public static class Splits
{
    /// <summary>The first <paramref name="train"/> of the timeline trains, the next <paramref name="validation"/> validates, the rest tests.</summary>
    public static Split Chronological(int count, double train = 0.7, double validation = 0.15)
    {
        Check(count, train, validation);
        var a = (int)Math.Round(count * train);
        var b = (int)Math.Round(count * (train + validation));
        return new Split([.. Enumerable.Range(0, a)], [.. Enumerable.Range(a, b - a)], [.. Enumerable.Range(b, count - b)]);
    }

    /// <summary>
    /// The timeline cut into <paramref name="blocks"/> contiguous blocks of (almost) equal size, the blocks dealt to
    /// train, validation and test in proportion, in an order shuffled by <paramref name="seed"/> (the same seed gives
    /// the same split). Rows never leave their block, so each part is a union of contiguous stretches of time.
    /// </summary>
    public static Split Blocked(int count, int seed, int blocks = 20, double train = 0.7, double validation = 0.15)
    {
        Check(count, train, validation);
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 3);
        blocks = Math.Min(blocks, count);
        var order = Enumerable.Range(0, blocks).ToArray();
        new Random(seed).Shuffle(order);
        var trainBlocks = Math.Max(1, (int)Math.Round(blocks * train));
        var validationBlocks = Math.Max(1, (int)Math.Round(blocks * validation));
        if (trainBlocks + validationBlocks >= blocks) trainBlocks = blocks - validationBlocks - 1;
        var part = new int[blocks];
        for (var k = 0; k < blocks; k++) part[order[k]] = k < trainBlocks ? 0 : k < trainBlocks + validationBlocks ? 1 : 2;
        var parts = new[] { new List<int>(), new List<int>(), new List<int>() };
        for (var i = 0; i < count; i++) parts[part[(int)((long)i * blocks / count)]].Add(i);
        return new Split(parts[0], parts[1], parts[2]);
    }

    private static void Check(int count, double train, double validation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 3);
        if (train <= 0 || validation < 0 || train + validation >= 1)
            throw new ArgumentException("fractions must satisfy 0 < train, 0 <= validation and train + validation < 1");
    }
}

/// <summary>Standardisation (x - mean) / std per feature, fitted on training rows only and then applied to any rows.</summary>
public sealed class StandardScaler
{
    private StandardScaler(float[] mean, float[] scale)
    {
        Mean = mean;
        Scale = scale;
    }

    public IReadOnlyList<float> Mean { get; }

    /// <summary>The standard deviation per feature (1 for a feature constant in the training rows).</summary>
    public IReadOnlyList<float> Scale { get; }

    /// <summary>Fits on <paramref name="rows"/> (the training rows: never the validation or test rows).</summary>
    public static StandardScaler Fit(IReadOnlyList<float[]> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("cannot fit a scaler on no rows", nameof(rows));
        var width = rows[0].Length;
        var sum = new double[width];
        var squares = new double[width];
        foreach (var r in rows)
        {
            if (r.Length != width) throw new ArgumentException("rows differ in width", nameof(rows));
            for (var j = 0; j < width; j++) sum[j] += r[j];
        }
        var mean = sum.Select(s => s / rows.Count).ToArray();
        foreach (var r in rows)
        {
            for (var j = 0; j < width; j++) squares[j] += (r[j] - mean[j]) * (r[j] - mean[j]);
        }
        var scale = squares.Select(s => Math.Sqrt(s / rows.Count)).Select(s => s > 1e-12 ? (float)s : 1f).ToArray();
        return new StandardScaler([.. mean.Select(m => (float)m)], scale);
    }

    public float[] Transform(float[] row)
    {
        if (row.Length != Mean.Count) throw new ArgumentException($"row has {row.Length} features, the scaler {Mean.Count}", nameof(row));
        var result = new float[row.Length];
        for (var j = 0; j < row.Length; j++) result[j] = (row[j] - Mean[j]) / Scale[j];
        return result;
    }

    public float[][] Transform(IReadOnlyList<float[]> rows) => [.. rows.Select(Transform)];
}
