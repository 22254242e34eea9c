using Chain.Ai.Federated;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// Every aggregation rule against hand-computed values, input validation, and the robustness properties (median,
/// trimmed mean and Krum stay with the honest clients; FedAvg follows one malicious client anywhere). Properties draw
/// a seed and build their case with <c>new Random(seed)</c>; the seed is printed and named in every failure.
/// </summary>
public sealed class AggregationTests(ITestOutputHelper output)
{
    private static ClientUpdate U(string client, int examples, params float[] delta) => new(client, delta, examples);

    private static void Equal(float[] expected, float[] actual, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                $"coordinate {i}: expected {expected[i]}, got {actual[i]}");
    }

    // FedAvg: A = [1, 2] with 1 example, B = [3, 6] with 3: [(1·1 + 3·3)/4, (1·2 + 3·6)/4] = [10/4, 20/4] = [2.5, 5].
    [Fact]
    public void FedAvg_weights_by_examples() =>
        Equal([2.5f, 5f], new FedAvg().Aggregate([U("a", 1, 1, 2), U("b", 3, 3, 6)]));

    // Median of [1, 10, 5], [2, 20, -1], [3, 30, 0] per coordinate: {1,2,3} -> 2, {10,20,30} -> 20, {5,-1,0} -> 0.
    // Even count {1, 2, 3, 10}: (2 + 3)/2 = 2.5 (the large value does not matter).
    [Fact]
    public void Median_odd_and_even()
    {
        Equal([2f, 20f, 0f], new CoordinateMedian().Aggregate([U("a", 1, 1, 10, 5), U("b", 1, 2, 20, -1), U("c", 1, 3, 30, 0)]));
        Equal([2.5f], new CoordinateMedian().Aggregate([U("a", 1, 1), U("b", 1, 2), U("c", 1, 3), U("d", 1, 10)]));
    }

    // Trimmed mean, beta 0.2, n = 5: k = floor(0.2·5) = 1 trimmed from each end.
    // Coordinate 0: {1, 2, 3, 4, 100} -> mean(2, 3, 4) = 3. Coordinate 1: {-50, 0, 1, 2, 3} -> mean(0, 1, 2) = 1.
    // beta 0: plain mean of coordinate 0 = 110/5 = 22.
    [Fact]
    public void TrimmedMean_trims_each_end()
    {
        ClientUpdate[] updates = [U("a", 1, 1, 3), U("b", 1, 100, -50), U("c", 1, 3, 0), U("d", 1, 2, 1), U("e", 1, 4, 2)];
        Equal([3f, 1f], new TrimmedMean(0.2).Aggregate(updates));
        Equal([22f, -44f / 5], new TrimmedMean(0).Aggregate(updates), 1e-5);
        Assert.Equal(1, new TrimmedMean(0.2).Trimmed(5));
        Assert.Equal(0, new TrimmedMean(0.19).Trimmed(5));
    }

    // Krum, f = 1, n = 5 (5 > 2f + 2 = 4), n − f − 2 = 2 nearest neighbours.
    // a = [0,0], b = [1,0], c = [0,2], d = [1,1], e = [10,10]. Squared distances:
    //   ab 1, ac 4, ad 2, ae 200, bc 5, bd 1, be 181, cd 2, ce 164, de 162.
    // Scores (two smallest): a {1,4,2,200} -> 3; b {1,5,1,181} -> 2; c {4,5,2,164} -> 6; d {2,1,2,162} -> 3;
    //   e {200,181,164,162} -> 326. Krum picks b = [1, 0]. Multi-Krum m = 3 averages b, a, d: [2/3, 1/3].
    [Fact]
    public void Krum_and_MultiKrum_hand_computed()
    {
        ClientUpdate[] updates = [U("a", 1, 0, 0), U("b", 1, 1, 0), U("c", 1, 0, 2), U("d", 1, 1, 1), U("e", 1, 10, 10)];
        Assert.Equal([3.0, 2.0, 6.0, 3.0, 326.0], new Krum(1).Scores(updates));
        Equal([1f, 0f], new Krum(1).Aggregate(updates));
        Assert.Equal([1, 0, 3], new MultiKrum(1, 3).Select(updates));
        Equal([2f / 3, 1f / 3], new MultiKrum(1, 3).Aggregate(updates));
    }

    [Fact]
    public void Krum_refuses_too_few_clients()
    {
        ClientUpdate[] five = [U("a", 1, 0), U("b", 1, 1), U("c", 1, 2), U("d", 1, 3), U("e", 1, 4)];
        var e = Assert.Throws<AggregationException>(() => new Krum(2).Aggregate(five));
        Assert.Contains("more than 2f + 2 = 6 clients, got 5", e.Message);
        Assert.Throws<AggregationException>(() => new MultiKrum(1, 6).Aggregate(five));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Krum(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultiKrum(0, 0));
    }

    [Fact]
    public void Bad_input_is_refused_naming_the_client()
    {
        IAggregationRule[] rules = [new FedAvg(), new CoordinateMedian(), new TrimmedMean(0.1), new Krum(0), new MultiKrum(0, 2)];
        foreach (var rule in rules)
        {
            Assert.Throws<AggregationException>(() => rule.Aggregate([]));
            var mismatch = Assert.Throws<AggregationException>(() =>
                rule.Aggregate([U("a", 1, 1, 2), U("b", 1, 1, 2), U("short", 1, 1)]));
            Assert.Equal("short", mismatch.Client);
            foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
            {
                var e = Assert.Throws<AggregationException>(() =>
                    rule.Aggregate([U("a", 1, 1, 2), U("evil", 1, 1, bad), U("c", 1, 0, 0)]));
                Assert.Equal("evil", e.Client);
                Assert.Contains("'evil'", e.Message);
            }
        }
        Assert.Equal("z", Assert.Throws<AggregationException>(() => new FedAvg().Aggregate([U("a", 1, 1f), U("z", 0, 2f)])).Client);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrimmedMean(0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrimmedMean(double.NaN));
    }

    // FedProx: local [1, 2], global [0, 4], mu 0.5: term 0.5/2·(1 + 4) = 1.25, gradient 0.5·[1, −2] = [0.5, −1].
    [Fact]
    public void FedProx_term_and_gradient()
    {
        float[] local = [1, 2], global = [0, 4];
        Assert.Equal(1.25, FedProx.ProximalTerm(local, global, 0.5), 12);
        Equal([0.5f, -1f], FedProx.ProximalGradient(local, global, 0.5));
        float[] gradient = [10, 10];
        FedProx.AddProximalGradient(gradient, local, global, 0.5);
        Equal([10.5f, 9f], gradient);
        Assert.Throws<ArgumentOutOfRangeException>(() => FedProx.ProximalTerm(local, global, -1));
        Assert.Throws<ArgumentException>(() => FedProx.ProximalGradient(local, [0f], 1));
    }

    // ---- robustness properties ----

    private static readonly float[] Huge = [1e30f, -1e30f, float.MaxValue, -float.MaxValue, 1e6f, -1e6f];

    /// <summary>h honest clients in [-1, 1]^d then m malicious ones (order shuffled), malicious values huge or random.</summary>
    private static (ClientUpdate[] All, float[][] Honest) Case(Random random, int honest, int malicious, int dim, bool far)
    {
        var honestDeltas = Enumerable.Range(0, honest)
            .Select(_ => Enumerable.Range(0, dim).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToArray();
        var all = honestDeltas.Select((d, i) => new ClientUpdate($"honest{i}", d, 1 + random.Next(100))).ToList();
        for (var j = 0; j < malicious; j++)
        {
            var d = Enumerable.Range(0, dim).Select(_ => far || random.Next(2) == 0
                ? Huge[random.Next(Huge.Length)]
                : (float)(random.NextDouble() * 200 - 100)).ToArray();
            all.Add(new ClientUpdate($"malicious{j}", d, 1 + random.Next(100)));
        }
        return ([.. all.OrderBy(_ => random.Next())], honestDeltas);
    }

    private static void WithinHonestRange(float[] result, float[][] honest, string what)
    {
        for (var i = 0; i < result.Length; i++)
        {
            var lo = honest.Min(h => h[i]);
            var hi = honest.Max(h => h[i]);
            Assert.True(result[i] >= lo && result[i] <= hi, $"{what}: coordinate {i} = {result[i]} outside honest [{lo}, {hi}]");
        }
    }

    private static Arbitrary<int> Seeds => Arb.From(Gen.Choose(0, int.MaxValue - 1));

    [Property(MaxTest = 100)]
    public Property Median_stays_in_honest_range_with_a_malicious_minority() => Prop.ForAll(Seeds, seed =>
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var honest = random.Next(1, 9);
        var malicious = random.Next(0, honest); // fewer than half of all clients
        var (all, honestDeltas) = Case(random, honest, malicious, random.Next(1, 6), far: false);
        WithinHonestRange(new CoordinateMedian().Aggregate(all), honestDeltas, $"seed {seed}, {honest} honest, {malicious} malicious");
    });

    [Property(MaxTest = 100)]
    public Property TrimmedMean_with_beta_at_least_malicious_fraction_stays_in_honest_range() => Prop.ForAll(Seeds, seed =>
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var honest = random.Next(1, 9);
        var malicious = random.Next(0, honest);
        var n = honest + malicious;
        var k = random.Next(malicious, (n - 1) / 2 + 1); // k in [malicious, floor((n-1)/2)]
        var beta = (double)k / n + 1e-9;                 // floor(beta·n) = k, beta < 0.5
        var rule = new TrimmedMean(beta);
        Assert.Equal(k, rule.Trimmed(n));
        var (all, honestDeltas) = Case(random, honest, malicious, random.Next(1, 6), far: false);
        WithinHonestRange(rule.Aggregate(all), honestDeltas, $"seed {seed}, beta {beta}, {honest} honest, {malicious} malicious");
    });

    [Property(MaxTest = 100)]
    public Property Krum_picks_an_honest_update_when_attackers_are_far() => Prop.ForAll(Seeds, seed =>
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var f = random.Next(0, 4);
        var n = 2 * f + 3 + random.Next(0, 4); // n > 2f + 2
        var (all, honestDeltas) = Case(random, n - f, f, random.Next(1, 6), far: true);
        if (random.Next(2) == 0) // sometimes the attackers collude on one point
            for (var j = 0; j < all.Length; j++)
                if (all[j].Client.StartsWith("malicious", StringComparison.Ordinal))
                    all[j] = all[j] with { Delta = [.. Enumerable.Repeat(1e6f, all[j].Delta.Length)] };
        var picked = new Krum(f).Aggregate(all);
        Assert.True(honestDeltas.Any(h => h.SequenceEqual(picked)), $"seed {seed}: Krum(f={f}) over {n} picked a non-honest update");
        var multi = new MultiKrum(f, n - f).Select(all);
        Assert.All(multi, i => Assert.StartsWith("honest", all[i].Client));
    });

    // Why robust rules are needed: one malicious client (of any weight) can put FedAvg on any target it likes.
    [Property(MaxTest = 100)]
    public Property FedAvg_follows_one_malicious_client_anywhere() => Prop.ForAll(Seeds, seed =>
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var honest = random.Next(2, 10);
        var dim = random.Next(1, 6);
        var (all, honestDeltas) = Case(random, honest, 0, dim, far: false);
        var target = Enumerable.Range(0, dim).Select(_ => (random.NextDouble() * 2 - 1) * 1e6).ToArray();
        var evilExamples = 1 + random.Next(10);
        var total = all.Sum(u => (double)u.Examples) + evilExamples;
        var evil = target.Select((t, i) => (float)((t * total - all.Sum(u => (double)u.Examples * u.Delta[i])) / evilExamples)).ToArray();
        var result = new FedAvg().Aggregate([.. all, new ClientUpdate("evil", evil, evilExamples)]);
        for (var i = 0; i < dim; i++)
        {
            Assert.True(Math.Abs(result[i] - target[i]) <= 1e-5 * Math.Max(1, Math.Abs(target[i])),
                $"seed {seed}: coordinate {i} = {result[i]}, target {target[i]}");
            if (Math.Abs(target[i]) > 10)
                Assert.True(result[i] < honestDeltas.Min(h => h[i]) || result[i] > honestDeltas.Max(h => h[i]),
                    $"seed {seed}: FedAvg coordinate {i} = {result[i]} stayed in the honest range");
        }
    });
}
