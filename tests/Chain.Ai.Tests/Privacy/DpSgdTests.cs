using Chain.Ai.Privacy;
using Chain.Ai.Torch;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Chain.Ai.Tests.Privacy;

/// <summary>
/// DP-SGD on a tiny MLP and synthetic separable data: clipping bounds each example's contribution, the noise has the
/// right scale, a private run still learns, runs repeat by seed, and the accountant sees exactly the run.
/// </summary>
public sealed class DpSgdTests(ITestOutputHelper output)
{
    private const long Seed = 20_261_129;

    /// <summary>Two Gaussian blobs in <paramref name="features"/> dimensions, means ±1.5 per coordinate, labels 0/1 (int64).</summary>
    internal static (Tensor X, Tensor Y) Blobs(int n, int features, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * features];
        var y = new long[n];
        for (var i = 0; i < n; i++)
        {
            y[i] = i % 2;
            var mean = y[i] == 1 ? 1.5 : -1.5;
            for (var f = 0; f < features; f++)
            {
                // Box-Muller
                var u1 = 1 - rng.NextDouble();
                var u2 = rng.NextDouble();
                x[i * features + f] = (float)(mean + Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
        }
        return (tensor(x).reshape(n, features), tensor(y));
    }

    internal static nn.Module<Tensor, Tensor> Mlp(int features = 4, int hidden = 8, int outputs = 2) =>
        nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, outputs));

    private static float[] Weights(nn.Module<Tensor, Tensor> model) =>
        [.. model.parameters().SelectMany(p => p.detach().reshape(-1).data<float>().ToArray())];

    [Theory]
    [InlineData(DpOptimizer.Sgd, 0.5)]
    [InlineData(DpOptimizer.Adam, 0.05)]
    public void A_private_run_on_separable_data_still_learns(DpOptimizer optimizer, double learningRate)
    {
        TorchRuntime.EnsureLoaded();
        output.WriteLine($"seed {Seed}");
        var (x, y) = Blobs(400, 4, 1);
        var (xTest, yTest) = Blobs(200, 4, 2);
        manual_seed(Seed);
        using var model = Mlp();
        var options = new DpSgdOptions
        {
            NoiseMultiplier = 1.5, MaxGradNorm = 1, ExpectedBatchSize = 40, Epochs = 5, LearningRate = learningRate,
            Optimizer = optimizer, Seed = Seed, Delta = 1e-3,
        };
        var result = DpSgd.Train(model, DpSgd.CrossEntropy, x, y, options, e => output.WriteLine(e.ToString()));
        var (accuracy, auroc) = PrivacyUtility.Evaluate(model, xTest, yTest);
        output.WriteLine($"{optimizer}: test accuracy {accuracy}, AUROC {auroc}, {result.Privacy}");

        Assert.True(accuracy >= 0.9, $"test accuracy {accuracy}");
        Assert.True(auroc >= 0.95, $"AUROC {auroc}");
        Assert.InRange(result.Epsilon, 1.5, 2.5); // q 0.1, sigma 1.5, 50 steps, delta 1e-3: 1.93
        Assert.Equal(5, result.History.Count);
        Assert.Equal(50, result.Steps);
        Assert.Equal(0.1, result.SamplingRate);
        Assert.True(result.History[^1].MeanLoss < result.History[0].MeanLoss, "the loss falls");
        // The accountant saw exactly the run: one run of 50 steps at q 0.1 and sigma 1.5.
        var run = Assert.Single(result.Accountant!.History);
        Assert.Equal(new SgmSteps(0.1, 1.5, 50), run);
        Assert.Equal(RdpAccountant.Epsilon(0.1, 1.5, 50, 1e-3).Epsilon, result.Epsilon, 12);
        // Poisson batches average the expected batch size.
        Assert.InRange(result.History.Average(e => e.MeanBatchSize), 34, 46);
        // Epsilon grows epoch by epoch.
        Assert.True(result.History.Zip(result.History.Skip(1)).All(p => p.First.Epsilon < p.Second.Epsilon));
    }

    [Fact]
    public void Runs_repeat_by_seed_and_differ_across_seeds()
    {
        TorchRuntime.EnsureLoaded();
        var (x, y) = Blobs(120, 4, 3);
        float[] Run(long seed)
        {
            manual_seed(7);
            using var model = Mlp();
            DpSgd.Train(model, DpSgd.CrossEntropy, x, y,
                new DpSgdOptions { NoiseMultiplier = 1, ExpectedBatchSize = 12, Epochs = 2, Seed = seed, Delta = 1e-3 });
            return Weights(model);
        }
        var first = Run(Seed);
        Assert.Equal(first, Run(Seed));
        Assert.NotEqual(first, Run(Seed + 1));
    }

    /// <summary>The class <paramref name="model"/> finds least likely for <paramref name="xi"/> (one row): a label with a large gradient.</summary>
    private static Tensor WrongLabel(nn.Module<Tensor, Tensor> model, Tensor xi)
    {
        using var noGrad = no_grad();
        return model.forward(xi).argmin(-1);
    }

    [Fact]
    public void Clipping_bounds_one_examples_contribution_to_c_over_b()
    {
        TorchRuntime.EnsureLoaded();
        const double c = 0.5;
        const int b = 10;
        manual_seed(11);
        using var model = Mlp();
        var (x, y) = Blobs(b, 4, 4);
        var shapes = model.parameters().Select(p => p.shape).ToList();
        var huge = x.narrow(0, 0, 1) * 1e4f; // a gradient norm in the thousands

        List<Tensor?> GradientOf(Tensor xi, Tensor yi)
        {
            foreach (var p in model.parameters()) p.grad?.zero_();
            DpSgd.CrossEntropy(model.forward(xi), yi).sum().backward();
            return [.. model.parameters().Select(p => p.grad!.clone())];
        }

        Tensor Released(bool withOutlier)
        {
            using var aggregator = new DpGradientAggregator(shapes, c, noiseMultiplier: 0, b, noiseSeed: 1);
            for (var i = 1; i < b; i++) aggregator.Add(GradientOf(x.narrow(0, i, 1), y.narrow(0, i, 1)));
            if (withOutlier)
            {
                var clippedBefore = aggregator.Clipped;
                var norm = aggregator.Add(GradientOf(huge, WrongLabel(model, huge)));
                output.WriteLine($"outlier gradient norm {norm}");
                Assert.True(norm > 100 * c);
                Assert.Equal(clippedBefore + 1, aggregator.Clipped);
            }
            var into = shapes.Select(s => zeros(s)).ToList();
            aggregator.Release(into);
            return cat(into.Select(t => t.reshape(-1)).ToList(), 0);
        }

        var change = (Released(true) - Released(false)).norm().ToDouble();
        output.WriteLine($"change of the released gradient: {change}, bound C/B = {c / b}");
        Assert.True(change <= c / b * (1 + 1e-5), $"one example moved the update by {change} > C/B = {c / b}");
        Assert.True(change >= c / b * 0.99, "a clipped example contributes exactly C/B");
    }

    [Fact]
    public void In_training_a_huge_example_moves_the_update_by_at_most_2c_over_b_and_unclipped_far_more()
    {
        TorchRuntime.EnsureLoaded();
        const int n = 8;
        var (x, y) = Blobs(n, 4, 5);
        var xOutlier = x.clone();
        xOutlier.narrow(0, 0, 1).mul_(1e4f);
        var yOutlier = y.clone();
        manual_seed(3);
        using (var probe = Mlp()) yOutlier.narrow(0, 0, 1).copy_(WrongLabel(probe, xOutlier.narrow(0, 0, 1)));

        float[] OneStep(Tensor data, Tensor labels, bool isPrivate)
        {
            manual_seed(3);
            using var model = Mlp();
            var before = Weights(model);
            // q = 1: every example is in the batch; SGD with learning rate 1 moves the weights by the released gradient.
            DpSgd.Train(model, DpSgd.CrossEntropy, data, labels, new DpSgdOptions
            {
                NoiseMultiplier = 0, MaxGradNorm = 1, ExpectedBatchSize = n, Steps = 1, LearningRate = 1, Seed = 1,
                Private = isPrivate,
            });
            return [.. Weights(model).Zip(before, (a, b) => a - b)];
        }

        static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (u, v) => (double)(u - v) * (u - v)).Sum());
        var clipped = Distance(OneStep(x, y, true), OneStep(xOutlier, yOutlier, true));
        var unclipped = Distance(OneStep(x, y, false), OneStep(xOutlier, yOutlier, false));
        output.WriteLine($"replacing one example moves the update by {clipped} (clipped, bound 2C/B = {2.0 / n}), {unclipped} unclipped");
        Assert.True(clipped <= 2.0 / n * (1 + 1e-4), $"{clipped} > 2C/B");
        Assert.True(unclipped > 10 * clipped, "without clipping the outlier dominates the update");
    }

    [Fact]
    public void Noise_has_standard_deviation_sigma_c_over_b_and_repeats_by_seed()
    {
        TorchRuntime.EnsureLoaded();
        const double sigma = 1.3, c = 0.7;
        const int b = 50;
        Tensor Noise(ulong seed)
        {
            using var aggregator = new DpGradientAggregator([[200, 500], [7]], c, sigma, b, seed);
            var into = new[] { zeros(200, 500), zeros(7) };
            aggregator.Release(into); // no example: the released gradient is pure noise
            return into[0];
        }
        var noise = Noise(42);
        var std = noise.std().ToDouble();
        var mean = noise.mean().ToDouble();
        var expected = sigma * c / b;
        output.WriteLine($"noise std {std} over 100000 coordinates, expected sigma C / B = {expected}; mean {mean}");
        Assert.InRange(std, expected * 0.98, expected * 1.02);
        Assert.True(Math.Abs(mean) < 5 * expected / Math.Sqrt(100_000), $"mean {mean}");
        var values = noise.data<float>().ToArray();
        Assert.Equal(values, Noise(42).data<float>().ToArray()); // same seed, same noise
        Assert.NotEqual(values, Noise(43).data<float>().ToArray()); // another seed, other noise
    }

    [Fact]
    public void Without_noise_epsilon_is_infinite_and_the_baseline_learns()
    {
        TorchRuntime.EnsureLoaded();
        var (x, y) = Blobs(200, 4, 6);
        manual_seed(Seed);
        using var model = Mlp();
        var result = DpSgd.Train(model, DpSgd.CrossEntropy, x, y,
            new DpSgdOptions { Private = false, ExpectedBatchSize = 20, Epochs = 3, LearningRate = 0.5, Seed = Seed });
        Assert.Equal(double.PositiveInfinity, result.Epsilon);
        Assert.Null(result.Accountant);
        Assert.All(result.History, e => Assert.Equal(0, e.ClippedFraction));
        Assert.True(PrivacyUtility.Evaluate(model, x, y).Accuracy >= 0.95);
    }

    [Fact]
    public void Binary_logit_models_train_with_the_binary_loss()
    {
        TorchRuntime.EnsureLoaded();
        var (x, y) = Blobs(200, 4, 8);
        manual_seed(Seed);
        using var model = Mlp(outputs: 1);
        var result = DpSgd.Train(model, DpSgd.BinaryCrossEntropyWithLogits, x, y,
            new DpSgdOptions { NoiseMultiplier = 1, ExpectedBatchSize = 20, Epochs = 3, LearningRate = 0.5, Seed = Seed, Delta = 1e-3 });
        var (accuracy, auroc) = PrivacyUtility.Evaluate(model, x, y);
        output.WriteLine($"accuracy {accuracy}, AUROC {auroc}, {result.Privacy}");
        Assert.True(accuracy >= 0.9 && auroc >= 0.95);
    }

    [Fact]
    public void Bad_settings_and_data_are_refused()
    {
        TorchRuntime.EnsureLoaded();
        var (x, y) = Blobs(20, 4, 9);
        using var model = Mlp();
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DpSgd.Train(model, DpSgd.CrossEntropy, x, y, new DpSgdOptions { ExpectedBatchSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DpSgd.Train(model, DpSgd.CrossEntropy, x, y, new DpSgdOptions { ExpectedBatchSize = 21 }));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DpSgd.Train(model, DpSgd.CrossEntropy, x, y, new DpSgdOptions { NoiseMultiplier = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            DpSgd.Train(model, DpSgd.CrossEntropy, x, y, new DpSgdOptions { Delta = 1 }));
        var e = Assert.Throws<ArgumentException>(() =>
            DpSgd.Train(model, DpSgd.CrossEntropy, x, y.narrow(0, 0, 10), new DpSgdOptions { ExpectedBatchSize = 5 }));
        Assert.Contains("same number of examples", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Poisson_sampling_includes_each_example_with_probability_q()
    {
        var rng = new Random(5);
        var counts = new int[100];
        const int draws = 2000;
        for (var d = 0; d < draws; d++)
        {
            foreach (var i in DpSgd.PoissonSample(rng, 100, 0.2)) counts[i]++;
        }
        // Each count is Binomial(2000, 0.2): mean 400, sd ~17.9.
        Assert.All(counts, k => Assert.InRange(k, 400 - 5 * 18, 400 + 5 * 18));
        Assert.InRange(counts.Average(), 395, 405);
    }

    [Fact]
    public void Auroc_of_a_known_example() =>
        // scikit-learn's roc_auc_score documentation example: y [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] -> 0.75.
        Assert.Equal(0.75, PrivacyUtility.Auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 12);

    [Fact]
    public void Utility_table_over_two_noise_multipliers_and_the_baseline()
    {
        TorchRuntime.EnsureLoaded();
        var (x, y) = Blobs(200, 4, 10);
        var (xTest, yTest) = Blobs(100, 4, 11);
        var options = new DpSgdOptions { ExpectedBatchSize = 20, Epochs = 2, LearningRate = 0.5, Seed = Seed, Delta = 1e-3 };
        var rows = PrivacyUtility.Measure(() => Mlp(), DpSgd.CrossEntropy, x, y, xTest, yTest, [0, 0.8, 4.0], options,
            r => output.WriteLine(r.ToString()));
        Assert.Equal(3, rows.Count);
        Assert.Equal(double.PositiveInfinity, rows[0].Epsilon);
        Assert.True(rows[1].Epsilon > rows[2].Epsilon, "more noise, smaller epsilon");
        Assert.Equal(RdpAccountant.Epsilon(0.1, 4.0, 20, 1e-3).Epsilon, rows[2].Epsilon, 12);
        Assert.All(rows, r => Assert.Equal(20, r.Steps));
        Assert.True(rows[0].TestAccuracy >= 0.9 && rows[1].TestAccuracy >= 0.85, "the baseline and sigma 0.8 learn");
        Assert.All(rows, r => Assert.InRange(r.TestAuroc, 0, 1));
    }
}
