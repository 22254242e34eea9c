using Chain.Ai.Data;
using Chain.Ai.Federated;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>Partitions (disjoint, complete, seeded, skewed) and the federated scaler.</summary>
public sealed class FederatedPartitionTests(ITestOutputHelper output)
{
    private static int[] Labels(int n, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => random.NextDouble() < 0.2 ? 1 : 0)];
    }

    [Theory]
    [InlineData(PartitionScheme.Iid)]
    [InlineData(PartitionScheme.TimeBlocks)]
    [InlineData(PartitionScheme.Dirichlet)]
    public void Partitions_are_disjoint_cover_every_row_and_are_seeded(PartitionScheme scheme)
    {
        const int seed = 11;
        output.WriteLine($"seed {seed}");
        var labels = Labels(1000, seed);
        var options = new PartitionOptions(7, scheme, 0.5, seed);
        var parts = Partitioner.Assign(labels, options);
        Assert.Equal(7, parts.Length);
        var all = parts.SelectMany(p => p).ToArray();
        Assert.Equal(1000, all.Length);
        Assert.Equal(Enumerable.Range(0, 1000), all.Order());
        Assert.All(parts, p => Assert.Equal(p.Order(), p)); // each client's rows in time order
        Assert.All(parts, p => Assert.True(p.Length >= options.MinRowsPerClient));
        Assert.Equal(parts, Partitioner.Assign(labels, options));
        if (scheme != PartitionScheme.TimeBlocks) Assert.NotEqual(parts, Partitioner.Assign(labels, options with { Seed = seed + 1 }));
        if (scheme == PartitionScheme.TimeBlocks)
            Assert.All(parts, p => Assert.Equal(p[^1] - p[0] + 1, p.Length)); // one contiguous block

        // Partition carries the rows and labels along.
        var rows = labels.Select((l, i) => new[] { (float)i, l }).ToArray();
        var clients = Partitioner.Partition(rows, labels, options);
        Assert.All(clients, c => Assert.All(c.Features.Zip(c.Labels), t => Assert.Equal(t.First[1], t.Second)));
        Assert.Equal(Enumerable.Range(1, 7).Select(k => $"hospital-{k:D2}"), clients.Select(c => c.Client));
    }

    [Fact]
    public void Dirichlet_label_skew_is_measurable_and_grows_as_alpha_shrinks()
    {
        var labels = Labels(4000, 3);
        var rows = labels.Select(l => new[] { (float)l }).ToArray();
        double Skew(PartitionScheme scheme, double alpha) =>
            Partitioner.LabelSkew(Partitioner.Partition(rows, labels, new PartitionOptions(10, scheme, alpha, 3)));
        var iid = Skew(PartitionScheme.Iid, 1);
        var mild = Skew(PartitionScheme.Dirichlet, 10);
        var strong = Skew(PartitionScheme.Dirichlet, 0.1);
        output.WriteLine($"label skew: iid {iid:F4}, dirichlet alpha 10 {mild:F4}, alpha 0.1 {strong:F4}");
        Assert.True(iid < 0.03, $"iid skew {iid}");
        Assert.True(strong > mild && strong > 0.1, $"{strong} vs {mild}");
        Assert.True(mild > iid);
    }

    [Fact]
    public void An_impossible_partition_is_refused_with_a_typed_exception()
    {
        var labels = Labels(100, 1);
        Assert.Throws<FederatedException>(() => Partitioner.Assign(labels, new PartitionOptions(10, MinRowsPerClient: 20)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Partitioner.Assign(labels, new PartitionOptions(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Partitioner.Assign(labels, new PartitionOptions(2, Alpha: 0)));
        Assert.Throws<ArgumentException>(() => Partitioner.Partition([[1f]], [0, 1], new PartitionOptions(1)));
    }

    [Fact]
    public void The_federated_scaler_equals_the_scaler_fitted_on_the_pooled_rows()
    {
        var random = new Random(9);
        var rows = Enumerable.Range(0, 900).Select(i => new[]
        {
            (float)(1000 + 5 * FederatedTestData.Gaussian(random)), (float)(FederatedTestData.Gaussian(random) * 0.01), 42f,
            (float)(i % 7 == 0 ? 1e5 : random.NextDouble()),
        }).ToArray();
        var labels = Labels(900, 9);
        var clients = Partitioner.Partition(rows, labels, new PartitionOptions(6, PartitionScheme.Dirichlet, 0.5, 9));
        var federated = FederatedScaler.Fit(clients);
        var pooled = StandardScaler.Fit(rows);
        for (var j = 0; j < 4; j++)
        {
            Assert.Equal(pooled.Mean[j], federated.Mean[j], Math.Abs(pooled.Mean[j]) * 1e-6 + 1e-6);
            Assert.Equal(pooled.Scale[j], federated.Scale[j], Math.Abs(pooled.Scale[j]) * 1e-4);
        }
        Assert.Equal(1f, federated.Scale[2]); // a constant feature
        // Statistics add: two halves give the whole.
        var whole = ScalerStatistics.Of(rows);
        var halves = ScalerStatistics.Of(rows[..400]).Add(ScalerStatistics.Of(rows[400..]));
        Assert.Equal(whole.Count, halves.Count);
        for (var j = 0; j < 4; j++) Assert.Equal(whole.Sum[j], halves.Sum[j], Math.Abs(whole.Sum[j]) * 1e-12);
        Assert.Throws<ArgumentException>(() => FederatedScaler.Fit(Array.Empty<ScalerStatistics>()));
    }
}
