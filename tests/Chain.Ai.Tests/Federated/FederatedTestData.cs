using Chain.Ai.Federated;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// Small synthetic, already-standardised data for the federated tests (no real data): six features, N(0, 1) for benign
/// rows; attack rows (a third) have features 0 and 1 shifted by <c>shift</c>, so the classes are separable for a large shift.
/// </summary>
internal static class FederatedTestData
{
    public const int Width = 6;

    public static (float[][] Rows, int[] Labels) Make(int rows, int seed, double shift = 3)
    {
        var random = new Random(seed);
        var x = new float[rows][];
        var y = new int[rows];
        for (var i = 0; i < rows; i++)
        {
            y[i] = i % 3 == 2 ? 1 : 0;
            x[i] = new float[Width];
            for (var j = 0; j < Width; j++) x[i][j] = (float)Gaussian(random);
            if (y[i] == 1)
            {
                x[i][0] += (float)shift;
                x[i][1] += (float)shift;
            }
        }
        return (x, y);
    }

    /// <summary>Clients partitioned from 300·clients training rows, plus independent validation and test sets.</summary>
    public static FederatedData Data(int clients, int seed, PartitionScheme scheme = PartitionScheme.Iid, double shift = 3, int rowsPerClient = 300)
    {
        var (rows, labels) = Make(rowsPerClient * clients, seed, shift);
        var parts = Partitioner.Partition(rows, labels, new PartitionOptions(clients, scheme, 1.0, seed));
        var (vx, vy) = Make(600, seed + 1000, shift);
        var (tx, ty) = Make(600, seed + 2000, shift);
        var scaler = FederatedScaler.Fit(parts.Select(c => FederatedScaler.Statistics(c.Features)));
        return new FederatedData(parts, vx, vy, tx, ty, scaler, [.. Enumerable.Range(0, Width).Select(j => $"f{j}")]);
    }

    public static double Gaussian(Random random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
