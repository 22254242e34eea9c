using static TorchSharp.torch;

namespace Chain.Ai.Robustness;

/// <summary>
/// Where an attacker may move an event's features: per scaled feature, the lowest and highest value seen in the
/// training rows (an attacker cannot send a negative byte count or a heart rate no sensor reports), and a mask of the
/// features the attacker controls at all (1 = may change, 0 = fixed).
/// </summary>
public sealed class FeatureBounds
{
    public FeatureBounds(float[] low, float[] high, float[] mask)
    {
        ArgumentNullException.ThrowIfNull(low);
        ArgumentNullException.ThrowIfNull(high);
        ArgumentNullException.ThrowIfNull(mask);
        if (low.Length != high.Length || low.Length != mask.Length)
            throw new ArgumentException($"bounds differ in width: low {low.Length}, high {high.Length}, mask {mask.Length}");
        for (var j = 0; j < low.Length; j++)
        {
            if (!(low[j] <= high[j])) throw new ArgumentException($"feature {j}: low {low[j]} is above high {high[j]}");
            if (mask[j] is not (0f or 1f)) throw new ArgumentException($"feature {j}: mask must be 0 or 1, not {mask[j]}");
        }
        Low = low;
        High = high;
        Mask = mask;
    }

    public IReadOnlyList<float> Low { get; }

    public IReadOnlyList<float> High { get; }

    public IReadOnlyList<float> Mask { get; }

    public int Width => Low.Count;

    /// <summary>The bounds of <paramref name="scaledTrainRows"/>, every feature changeable unless <paramref name="mask"/> says otherwise.</summary>
    public static FeatureBounds FromRows(IReadOnlyList<float[]> scaledTrainRows, float[]? mask = null)
    {
        ArgumentNullException.ThrowIfNull(scaledTrainRows);
        if (scaledTrainRows.Count == 0) throw new ArgumentException("no rows to take bounds from", nameof(scaledTrainRows));
        var width = scaledTrainRows[0].Length;
        var low = Enumerable.Repeat(float.PositiveInfinity, width).ToArray();
        var high = Enumerable.Repeat(float.NegativeInfinity, width).ToArray();
        foreach (var r in scaledTrainRows)
        {
            if (r.Length != width) throw new ArgumentException("rows differ in width", nameof(scaledTrainRows));
            for (var j = 0; j < width; j++)
            {
                low[j] = Math.Min(low[j], r[j]);
                high[j] = Math.Max(high[j], r[j]);
            }
        }
        return new FeatureBounds(low, high, mask ?? Enumerable.Repeat(1f, width).ToArray());
    }
}

/// <summary>The attack: its budget in standard deviations per feature (L-infinity), and PGD's steps.</summary>
public sealed record AttackOptions
{
    /// <summary>The L-infinity budget in scaled units (standard deviations of the training data).</summary>
    public float Epsilon { get; init; } = 0.3f;

    /// <summary>PGD steps (1 with step size = epsilon and no random start is FGSM).</summary>
    public int Steps { get; init; } = 10;

    /// <summary>PGD step size; null = 2.5 * epsilon / steps (Madry et al.).</summary>
    public float? StepSize { get; init; }

    /// <summary>Start PGD from a uniformly random point in the budget (seeded).</summary>
    public bool RandomStart { get; init; } = true;

    public void Validate()
    {
        if (!(Epsilon >= 0 && float.IsFinite(Epsilon))) throw new ArgumentException($"epsilon must be finite and >= 0, not {Epsilon}");
        if (Steps < 1) throw new ArgumentException($"steps must be >= 1, not {Steps}");
        if (StepSize is { } s && !(s > 0 && float.IsFinite(s))) throw new ArgumentException($"step size must be > 0, not {s}");
    }
}

/// <summary>
/// Gradient attacks on a binary detector whose network maps scaled features [N, d] to logits [N, k] with the attack
/// logit in column 0: FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018), each step kept inside the budget,
/// inside the feature bounds, and off the features the attacker does not control.
/// </summary>
public static class Adversarial
{
    /// <summary>One signed-gradient step of size epsilon (FGSM).</summary>
    public static Tensor Fgsm(nn.Module<Tensor, Tensor> network, Tensor x, Tensor labels, float epsilon, FeatureBounds bounds) =>
        Pgd(network, x, labels, new AttackOptions { Epsilon = epsilon, Steps = 1, StepSize = epsilon, RandomStart = false }, bounds, null);

    /// <summary>
    /// Projected gradient ascent on the detector's binary loss: each row moves to raise the loss of its own label
    /// (an attack row towards "benign", a benign row towards "attack"). Returns a new tensor; x is not changed. The
    /// network's parameters get no gradient.
    /// </summary>
    public static Tensor Pgd(nn.Module<Tensor, Tensor> network, Tensor x, Tensor labels, AttackOptions options, FeatureBounds bounds,
        Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bounds);
        options.Validate();
        if (x.dim() != 2 || x.shape[1] != bounds.Width)
            throw new ArgumentException($"x must be [N, {bounds.Width}], not [{string.Join(", ", x.shape)}]", nameof(x));
        if (labels.dim() != 1 || labels.shape[0] != x.shape[0])
            throw new ArgumentException("labels must be [N] with one label per row of x", nameof(labels));

        using var scope = NewDisposeScope();
        var wasTraining = network.training;
        network.eval();
        try
        {
            var origin = x.detach();
            // A row already outside the training range keeps its own value as the bound (never moved by projection).
            var low = minimum(tensor(bounds.Low.ToArray()).unsqueeze(0), origin);
            var high = maximum(tensor(bounds.High.ToArray()).unsqueeze(0), origin);
            var mask = tensor(bounds.Mask.ToArray()).unsqueeze(0);
            var target = labels.to_type(ScalarType.Float32);
            var step = options.StepSize ?? 2.5f * options.Epsilon / options.Steps;
            var current = origin.clone();
            if (options.RandomStart && options.Epsilon > 0)
            {
                var noise = (rand(origin.shape, generator: generator) * 2 - 1) * options.Epsilon * mask;
                current = Project(origin + noise, origin, options.Epsilon, low, high);
            }
            for (var k = 0; k < options.Steps; k++)
            {
                var input = current.detach().requires_grad_(true);
                var logits = network.forward(input).select(1, 0);
                var loss = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction: nn.Reduction.Sum);
                var grad = autograd.grad([loss], [input])[0];
                using (no_grad())
                {
                    current = Project(input.detach() + grad.sign() * step * mask, origin, options.Epsilon, low, high);
                }
            }
            return current.detach().MoveToOuterDisposeScope();
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    private static Tensor Project(Tensor candidate, Tensor origin, float epsilon, Tensor low, Tensor high) =>
        minimum(maximum(minimum(maximum(candidate, origin - epsilon), origin + epsilon), low), high);
}
