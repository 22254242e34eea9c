using Chain.Ai.Robustness;
using Chain.Ai.Torch;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Chain.Ai.Tests.Robustness;

public sealed class AdversarialTests(ITestOutputHelper output)
{
    private const int Width = 6;

    /// <summary>Two Gaussian classes that differ in the first three features; the last three are noise.</summary>
    private static (float[][] Rows, int[] Labels) Synthetic(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new float[count][];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = i % 3 == 0 ? 1 : 0;
            rows[i] = new float[Width];
            for (var j = 0; j < Width; j++)
            {
                var gauss = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
                rows[i][j] = gauss * 0.5f + (j < 3 && labels[i] == 1 ? 1.0f : 0f);
            }
        }
        return (rows, labels);
    }

    private static nn.Module<Tensor, Tensor> Network(int seed)
    {
        random.manual_seed(seed);
        return nn.Sequential(nn.Linear(Width, 16), nn.ReLU(), nn.Linear(16, 2));
    }

    private static void TrainPlain(nn.Module<Tensor, Tensor> network, float[][] rows, int[] labels, int seed) =>
        AdversarialTraining.Train(network, rows, labels, FeatureBounds.FromRows(rows),
            new AdversarialTrainingOptions { AdversarialWeight = 0, Epochs = 30, BatchSize = 64, LearningRate = 1e-2, Seed = seed,
                Attack = new AttackOptions { Epsilon = 0, Steps = 1 } });

    [Fact]
    public void Fgsm_and_pgd_stay_inside_the_budget_the_bounds_and_the_mask()
    {
        TorchRuntime.EnsureLoaded();
        const int seed = 11;
        output.WriteLine($"seed {seed}");
        var (rows, labels) = Synthetic(300, seed);
        using var network = Network(seed);
        var mask = new float[] { 1, 1, 0, 1, 1, 0 };
        var bounds = FeatureBounds.FromRows(rows, mask);
        using var x = tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, Width]);
        using var y = tensor(labels.Select(l => (float)l).ToArray());
        const float eps = 0.4f;
        using var fgsm = Adversarial.Fgsm(network, x, y, eps, bounds);
        using var pgd = Adversarial.Pgd(network, x, y, new AttackOptions { Epsilon = eps, Steps = 7 }, bounds, new Generator(seed));
        foreach (var adv in new[] { fgsm, pgd })
        {
            var a = adv.data<float>().ToArray();
            var moved = false;
            for (var i = 0; i < rows.Length; i++)
            {
                for (var j = 0; j < Width; j++)
                {
                    var v = a[i * Width + j];
                    var d = Math.Abs(v - rows[i][j]);
                    Assert.True(d <= eps + 1e-5, $"row {i} feature {j} moved {d} > {eps}");
                    Assert.InRange(v, bounds.Low[j] - 1e-5f, bounds.High[j] + 1e-5f);
                    if (mask[j] == 0) Assert.Equal(rows[i][j], v);
                    else if (d > 1e-4) moved = true;
                }
            }
            Assert.True(moved, "the attack should move the controllable features");
        }
        // The input tensor is not changed and the network gets no gradient.
        Assert.Equal(rows[5][1], x[5, 1].item<float>());
        Assert.All(network.parameters(), p => Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0));
    }

    [Fact]
    public void Pgd_lowers_a_trained_detectors_accuracy_and_adversarial_training_recovers_much_of_it()
    {
        TorchRuntime.EnsureLoaded();
        const int seed = 5;
        output.WriteLine($"seed {seed}");
        var (train, trainLabels) = Synthetic(1500, seed);
        var (test, testLabels) = Synthetic(600, seed + 1);
        var bounds = FeatureBounds.FromRows(train);
        var attack = new AttackOptions { Epsilon = 0.5f, Steps = 10 };

        using var plain = Network(seed);
        TrainPlain(plain, train, trainLabels, seed);
        var before = AdversarialTraining.Evaluate(plain, test, testLabels, 0.5f, bounds, attack, seed);
        output.WriteLine($"standard training:    {before}");

        using var robust = Network(seed);
        AdversarialTraining.Train(robust, train, trainLabels, bounds,
            new AdversarialTrainingOptions { Attack = attack with { Steps = 5 }, Epochs = 30, BatchSize = 64, LearningRate = 1e-2, Seed = seed });
        var after = AdversarialTraining.Evaluate(robust, test, testLabels, 0.5f, bounds, attack, seed);
        output.WriteLine($"adversarial training: {after}");

        Assert.True(before.Clean > 0.9, $"the plain detector should learn the clean task: {before}");
        Assert.True(before.Pgd < before.Clean - 0.1, $"PGD should hurt the plain detector: {before}");
        Assert.True(before.Pgd <= before.Fgsm + 0.02, $"PGD should be at least as strong as FGSM: {before}");
        Assert.True(after.Pgd > before.Pgd + 0.05, $"adversarial training should raise robust accuracy: {before} -> {after}");
    }

    [Fact]
    public void Bad_arguments_are_refused_with_clear_errors()
    {
        TorchRuntime.EnsureLoaded();
        Assert.Throws<ArgumentException>(() => new FeatureBounds([0f, 1f], [1f], [1f, 1f]));
        Assert.Throws<ArgumentException>(() => new FeatureBounds([2f], [1f], [1f]));
        Assert.Throws<ArgumentException>(() => new FeatureBounds([0f], [1f], [0.5f]));
        Assert.Throws<ArgumentException>(() => new AttackOptions { Epsilon = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new AttackOptions { Steps = 0 }.Validate());
        using var network = Network(1);
        using var wrongWidth = zeros(3, Width + 1);
        using var y = zeros(3);
        var e = Assert.Throws<ArgumentException>(() =>
            Adversarial.Fgsm(network, wrongWidth, y, 0.1f, new FeatureBounds(new float[Width], new float[Width], new float[Width])));
        Assert.Contains("must be [N, 6]", e.Message);
    }
}
