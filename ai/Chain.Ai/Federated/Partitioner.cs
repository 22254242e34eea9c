namespace Chain.Ai.Federated;

/// <summary>How the training rows are dealt to the clients.</summary>
public enum PartitionScheme
{
    /// <summary>IID: rows shuffled (seeded) and dealt round-robin, so every client has ~the same size and label mix.</summary>
    Iid,

    /// <summary>The timeline cut into one contiguous block per client (equal sizes): each hospital saw a different period.</summary>
    TimeBlocks,

    /// <summary>
    /// Time blocks with label skew (the per-class Dirichlet scheme of Yurochkin et al. 2019 / Wang et al. 2020): for each
    /// class, proportions p ~ Dir(alpha) over the clients; the class's rows, in time order, are cut into contiguous runs of
    /// those sizes, client 1 first. Each client holds one contiguous stretch of time per class; small alpha = strong skew.
    /// </summary>
    Dirichlet,
}

/// <summary>
/// How to partition: <paramref name="Clients"/> clients, the <paramref name="Scheme"/>, the Dirichlet concentration
/// <paramref name="Alpha"/> (used by <see cref="PartitionScheme.Dirichlet"/>), the seed, and the fewest rows a client may
/// get (a Dirichlet draw leaving a client with fewer is redrawn, up to 1000 times).
/// </summary>
public sealed record PartitionOptions(int Clients, PartitionScheme Scheme = PartitionScheme.Dirichlet, double Alpha = 1.0, int Seed = 1,
    int MinRowsPerClient = 20)
{
    public void Validate(int rows)
    {
        if (Clients < 1 || Clients > 10_000) throw new ArgumentOutOfRangeException(nameof(Clients), Clients, "Clients must be in 1..10000");
        if (!Enum.IsDefined(Scheme)) throw new ArgumentOutOfRangeException(nameof(Scheme), Scheme, "unknown partition scheme");
        if (!(Alpha > 0 && Alpha <= 1e6)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "Alpha must be in (0, 1e6]");
        if (MinRowsPerClient < 0) throw new ArgumentOutOfRangeException(nameof(MinRowsPerClient), MinRowsPerClient, "must be >= 0");
        if ((long)Clients * Math.Max(1, MinRowsPerClient) > rows)
            throw new FederatedException($"{rows} rows cannot give {Clients} clients {Math.Max(1, MinRowsPerClient)} rows each");
    }
}

/// <summary>Deals training rows to clients (hospitals): IID, contiguous time blocks, or time blocks with Dirichlet label skew.</summary>
public static class Partitioner
{
    /// <summary>The client name for index <paramref name="k"/> (0-based): hospital-01, hospital-02, ...</summary>
    public static string ClientName(int k) => $"hospital-{k + 1:D2}";

    /// <summary>
    /// The clients' data: rows and labels as given (in time order), each client's rows in time order. The clients are
    /// disjoint and together hold every row. Seeded: the same inputs give the same partition.
    /// </summary>
    public static IReadOnlyList<ClientData> Partition(IReadOnlyList<float[]> rows, IReadOnlyList<int> labels, PartitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(labels);
        if (rows.Count != labels.Count) throw new ArgumentException($"{rows.Count} rows but {labels.Count} labels", nameof(labels));
        var assignment = Assign(labels, options);
        return [.. assignment.Select((indexes, k) =>
            new ClientData(ClientName(k), [.. indexes.Select(i => rows[i])], [.. indexes.Select(i => labels[i])]))];
    }

    /// <summary>The row indexes of each client (ascending), by <paramref name="options"/>.</summary>
    public static int[][] Assign(IReadOnlyList<int> labels, PartitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(labels.Count);
        var n = labels.Count;
        var k = options.Clients;
        switch (options.Scheme)
        {
            case PartitionScheme.Iid:
            {
                var order = Enumerable.Range(0, n).ToArray();
                new Random(options.Seed).Shuffle(order);
                return [.. Enumerable.Range(0, k).Select(c => order.Where((_, i) => i % k == c).Order().ToArray())];
            }
            case PartitionScheme.TimeBlocks:
                return [.. Enumerable.Range(0, k).Select(c => Enumerable.Range((int)((long)c * n / k), (int)((long)(c + 1) * n / k - (long)c * n / k)).ToArray())];
            default:
                return DirichletBlocks(labels, options);
        }
    }

    /// <summary>
    /// Label skew: the mean, over clients, of the total-variation distance between the client's label distribution and
    /// the pooled one (0 = every client has the pooled attack share; larger = more skew). Clients without rows are skipped.
    /// </summary>
    public static double LabelSkew(IReadOnlyList<ClientData> clients)
    {
        ArgumentNullException.ThrowIfNull(clients);
        var total = clients.Sum(c => c.Count);
        if (total == 0) throw new ArgumentException("no rows", nameof(clients));
        var pooled = (double)clients.Sum(c => c.Attacks) / total;
        var used = clients.Where(c => c.Count > 0).ToArray();
        // For two classes the total-variation distance is |share_client - share_pooled|.
        return used.Average(c => Math.Abs((double)c.Attacks / c.Count - pooled));
    }

    private static int[][] DirichletBlocks(IReadOnlyList<int> labels, PartitionOptions options)
    {
        var k = options.Clients;
        var classes = labels.Distinct().Order().ToArray();
        var byClass = classes.Select(c => Enumerable.Range(0, labels.Count).Where(i => labels[i] == c).ToArray()).ToArray();
        var random = new Random(options.Seed);
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var clients = Enumerable.Range(0, k).Select(_ => new List<int>()).ToArray();
            foreach (var rows in byClass)
            {
                var p = Dirichlet(random, k, options.Alpha);
                double cumulative = 0;
                var start = 0;
                for (var c = 0; c < k; c++)
                {
                    cumulative += p[c];
                    var end = c == k - 1 ? rows.Length : (int)Math.Round(cumulative * rows.Length);
                    end = Math.Clamp(end, start, rows.Length);
                    clients[c].AddRange(rows.AsSpan(start, end - start).ToArray());
                    start = end;
                }
            }
            if (clients.All(c => c.Count >= options.MinRowsPerClient)) return [.. clients.Select(c => c.Order().ToArray())];
        }
        throw new FederatedException($"no Dirichlet(alpha = {options.Alpha}) draw in 1000 gave every one of {k} clients at least " +
                                     $"{options.MinRowsPerClient} rows; raise alpha or lower the clients or the minimum");
    }

    /// <summary>A draw from the symmetric Dirichlet(alpha) over <paramref name="k"/> categories (normalised gammas).</summary>
    internal static double[] Dirichlet(Random random, int k, double alpha)
    {
        var g = new double[k];
        for (var i = 0; i < k; i++) g[i] = Gamma(random, alpha);
        var sum = g.Sum();
        if (!(sum > 0))
        {
            // Every gamma underflowed (tiny alpha): all mass on one category, chosen uniformly.
            Array.Clear(g);
            g[random.Next(k)] = 1;
            return g;
        }
        for (var i = 0; i < k; i++) g[i] /= sum;
        return g;
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang (2000); shape &lt; 1 through Gamma(shape + 1)·U^(1/shape).</summary>
    internal static double Gamma(Random random, double shape)
    {
        if (shape < 1) return Gamma(random, shape + 1) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        var d = shape - 1.0 / 3;
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Gaussian.Next(random);
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            var u = 1 - random.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }
}

/// <summary>Standard normal draws from a seeded <see cref="Random"/> (Box-Muller, one value per call).</summary>
internal static class Gaussian
{
    public static double Next(Random random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
