using static TorchSharp.torch;

namespace Chain.Ai.Robustness;

/// <summary>How to train against the attack: the attack used for the training examples, and the optimisation.</summary>
public sealed record AdversarialTrainingOptions
{
    public AttackOptions Attack { get; init; } = new() { Epsilon = 0.3f, Steps = 5 };

    public int Epochs { get; init; } = 5;

    public int BatchSize { get; init; } = 256;

    public double LearningRate { get; init; } = 5e-4;

    /// <summary>Share of each batch's loss from the adversarial copies (the rest from the clean rows).</summary>
    public double AdversarialWeight { get; init; } = 0.5;

    /// <summary>Weight of the attack class in the loss (imbalanced data).</summary>
    public float PositiveWeight { get; init; } = 1f;

    public int Seed { get; init; } = 1;

    public void Validate()
    {
        Attack.Validate();
        if (Epochs < 1) throw new ArgumentException($"epochs must be >= 1, not {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be >= 1, not {BatchSize}");
        if (!(LearningRate > 0)) throw new ArgumentException($"learning rate must be > 0, not {LearningRate}");
        if (AdversarialWeight is < 0 or > 1) throw new ArgumentException($"adversarial weight must be in [0, 1], not {AdversarialWeight}");
        if (!(PositiveWeight > 0)) throw new ArgumentException($"positive weight must be > 0, not {PositiveWeight}");
    }
}

/// <summary>Accuracy of a detector on clean rows and under each attack at one budget.</summary>
public sealed record RobustAccuracy(float Epsilon, double Clean, double Fgsm, double Pgd, double CleanAttackRecall, double PgdAttackRecall);

/// <summary>
/// Adversarial training (Madry et al. 2018, mixed with the clean loss as in Goodfellow et al. 2015) against evasion (the
/// attack rows of each batch replaced by their PGD versions, benign rows unchanged) of the binary head of
/// a detector network, and its evaluation. The network maps scaled features [N, d] to logits with the attack logit in
/// column 0; only that column is trained here.
/// </summary>
public static class AdversarialTraining
{
    /// <summary>Trains <paramref name="network"/> in place on clean and PGD rows; returns the mean loss per epoch.</summary>
    public static IReadOnlyList<double> Train(nn.Module<Tensor, Tensor> network, float[][] scaledRows, int[] labels, FeatureBounds bounds,
        AdversarialTrainingOptions options, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(scaledRows);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(bounds);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (scaledRows.Length != labels.Length) throw new ArgumentException("one label per row");
        if (scaledRows.Length == 0) throw new ArgumentException("no rows to train on");

        random.manual_seed(options.Seed);
        var generator = new Generator((ulong)options.Seed);
        var shuffle = new Random(options.Seed);
        var order = Enumerable.Range(0, scaledRows.Length).ToArray();
        using var optimizer = optim.Adam(network.parameters(), options.LearningRate);
        using var positiveWeight = tensor(options.PositiveWeight);
        var losses = new List<double>();
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            shuffle.Shuffle(order);
            double total = 0;
            var batches = 0;
            for (var start = 0; start < order.Length; start += options.BatchSize)
            {
                using var scope = NewDisposeScope();
                var idx = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray();
                var x = Stack(scaledRows, idx, bounds.Width);
                var y = tensor(idx.Select(i => (float)labels[i]).ToArray());
                // The same threat model as the evaluation: the attacker perturbs its attack rows; benign rows stay.
                var adversarial = where(y.unsqueeze(1) > 0.5f, Adversarial.Pgd(network, x, y, options.Attack, bounds, generator), x);
                network.train();
                optimizer.zero_grad();
                var clean = nn.functional.binary_cross_entropy_with_logits(network.forward(x).select(1, 0), y, pos_weights: positiveWeight);
                var robust = nn.functional.binary_cross_entropy_with_logits(network.forward(adversarial).select(1, 0), y, pos_weights: positiveWeight);
                var loss = clean * (1 - options.AdversarialWeight) + robust * options.AdversarialWeight;
                loss.backward();
                optimizer.step();
                total += loss.item<float>();
                batches++;
            }
            losses.Add(total / batches);
            progress?.Report($"adversarial training epoch {epoch + 1}/{options.Epochs}: loss {total / batches:F4}");
        }
        network.eval();
        return losses;
    }

    /// <summary>
    /// Accuracy at <paramref name="threshold"/> (attack when the attack probability is at least it) on clean rows and
    /// under an evasion attack (FGSM, PGD at the budget of <paramref name="attack"/>) that perturbs only the attack rows,
    /// plus the share of attack rows still caught.
    /// </summary>
    public static RobustAccuracy Evaluate(nn.Module<Tensor, Tensor> network, float[][] scaledRows, int[] labels, float threshold,
        FeatureBounds bounds, AttackOptions attack, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(attack);
        if (scaledRows.Length != labels.Length || scaledRows.Length == 0) throw new ArgumentException("need one label per row and some rows");
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)seed);
        var x = Stack(scaledRows, [.. Enumerable.Range(0, scaledRows.Length)], bounds.Width);
        var y = tensor(labels.Select(l => (float)l).ToArray());
        // Evasion: the attacker moves its own (attack) rows towards "benign"; benign traffic is not adversarial.
        var attackRows = y.unsqueeze(1) > 0.5f;
        var fgsm = where(attackRows, Adversarial.Fgsm(network, x, y, attack.Epsilon, bounds), x);
        var pgd = where(attackRows, Adversarial.Pgd(network, x, y, attack, bounds, generator), x);
        var (clean, cleanRecall) = Score(network, x, labels, threshold);
        var (fgsmAccuracy, _) = Score(network, fgsm, labels, threshold);
        var (pgdAccuracy, pgdRecall) = Score(network, pgd, labels, threshold);
        return new RobustAccuracy(attack.Epsilon, clean, fgsmAccuracy, pgdAccuracy, cleanRecall, pgdRecall);
    }

    private static (double Accuracy, double AttackRecall) Score(nn.Module<Tensor, Tensor> network, Tensor x, int[] labels, float threshold)
    {
        using var _ = no_grad();
        network.eval();
        var p = network.forward(x).select(1, 0).sigmoid().data<float>().ToArray();
        int right = 0, attacks = 0, caught = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var predicted = p[i] >= threshold ? 1 : 0;
            if (predicted == labels[i]) right++;
            if (labels[i] == 1)
            {
                attacks++;
                if (predicted == 1) caught++;
            }
        }
        return ((double)right / p.Length, attacks == 0 ? double.NaN : (double)caught / attacks);
    }

    private static Tensor Stack(float[][] rows, int[] idx, int width)
    {
        var flat = new float[idx.Length * width];
        for (var k = 0; k < idx.Length; k++)
        {
            var r = rows[idx[k]];
            if (r.Length != width) throw new ArgumentException($"row {idx[k]} has {r.Length} features, expected {width}");
            Array.Copy(r, 0, flat, k * width, width);
        }
        return tensor(flat, [idx.Length, width]);
    }
}
