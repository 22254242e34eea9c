using System.Globalization;
using Chain.Ai.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Chain.Ai.Privacy;

/// <summary>One epoch of a DP-SGD run.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="Steps">Steps done so far (all epochs).</param>
/// <param name="MeanLoss">Mean loss of the examples sampled in this epoch, before each step (a diagnostic, not a DP release).</param>
/// <param name="MeanBatchSize">Mean Poisson batch size in this epoch (expected: B).</param>
/// <param name="ClippedFraction">Fraction of sampled examples whose gradient norm exceeded C (0 on the non-private path).</param>
/// <param name="Epsilon">Epsilon of all steps so far at the run's delta (∞ without noise).</param>
public sealed record DpSgdEpoch(int Epoch, int Steps, double MeanLoss, double MeanBatchSize, double ClippedFraction, double Epsilon);

/// <summary>What a DP-SGD run did and what it cost.</summary>
/// <param name="History">One row per epoch.</param>
/// <param name="Steps">Steps done: exactly what <paramref name="Accountant"/> composed.</param>
/// <param name="SamplingRate">q = B / N: exactly what the batches were sampled with and what the accountant used.</param>
/// <param name="NoiseMultiplier">sigma as run (0 on the non-private path).</param>
/// <param name="Privacy">The final (epsilon, delta) and best order; epsilon ∞ when sigma = 0 or on the non-private path.</param>
/// <param name="Accountant">The accountant (null without noise).</param>
public sealed record DpSgdResult(IReadOnlyList<DpSgdEpoch> History, int Steps, double SamplingRate, double NoiseMultiplier,
    PrivacySpent Privacy, RdpAccountant? Accountant)
{
    public double Epsilon => Privacy.Epsilon;
}

/// <summary>
/// DP-SGD (Abadi et al. 2016) for any TorchSharp module, with Poisson sampling so that the RDP accountant's
/// sampled Gaussian mechanism is exactly what runs. Per-example gradients come from a loop over microbatches of one
/// example (correct for every module without batch-dependent layers: no BatchNorm; dropout is fine). The model is
/// trained in place; it is left in eval mode.
/// </summary>
public static class DpSgd
{
    /// <summary>Per-example cross-entropy of class logits [b, k] against class indices [b] (int64): shape [b].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target) =>
        nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.None);

    /// <summary>
    /// Per-example binary cross-entropy of logits [b] or [b, 1] against 0/1 targets (any numeric type): shape [b].
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(target);
        var flat = logits.reshape(-1);
        return nn.functional.binary_cross_entropy_with_logits(flat, target.reshape(-1).to_type(flat.dtype),
            reduction: nn.Reduction.None);
    }

    /// <summary>
    /// Trains <paramref name="model"/> on (<paramref name="x"/>, <paramref name="y"/>) (first dimension: examples) with
    /// DP-SGD as <paramref name="options"/> say; <paramref name="perExampleLoss"/> maps (outputs, targets) of b examples
    /// to b losses (e.g. <see cref="CrossEntropy"/>). <paramref name="onEpoch"/> sees each epoch's row as it ends.
    /// </summary>
    public static DpSgdResult Train(nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> perExampleLoss, Tensor x, Tensor y,
        DpSgdOptions options, Action<DpSgdEpoch>? onEpoch = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(perExampleLoss);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (x.dim() < 1 || y.dim() < 1 || x.shape[0] != y.shape[0])
            throw new ArgumentException($"x has shape [{string.Join(", ", x.shape)}] and y [{string.Join(", ", y.shape)}]: "
                                        + "both need the same number of examples in their first dimension", nameof(y));
        var n = checked((int)x.shape[0]);
        if (n < options.ExpectedBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ExpectedBatchSize,
                string.Create(CultureInfo.InvariantCulture, $"the expected batch size {options.ExpectedBatchSize} exceeds the {n} examples"));
        }
        TorchRuntime.EnsureLoaded();
        manual_seed(options.Seed);

        var parameters = model.parameters().Where(p => p.requires_grad).ToList();
        if (parameters.Count == 0) throw new ArgumentException("the model has no trainable parameters", nameof(model));
        var q = options.ExpectedBatchSize / (double)n;
        var stepsPerEpoch = options.StepsPerEpoch(n);
        var totalSteps = options.Steps ?? checked(options.Epochs * stepsPerEpoch);
        var sigma = options.NoiseMultiplier;
        var accountant = options.Private && sigma > 0 ? new RdpAccountant(options.Orders) : null;
        var rng = new Random(unchecked((int)(options.Seed ^ (options.Seed >> 32))));

        AllocateGradients(parameters);
        using var optimizer = MakeOptimizer(parameters, options);
        using var aggregator = options.Private
            ? new DpGradientAggregator([.. parameters.Select(p => p.shape)], options.MaxGradNorm, sigma, options.ExpectedBatchSize,
                unchecked((ulong)options.Seed * 0x9E3779B97F4A7C15UL + 1), parameters[0].dtype)
            : null;

        var history = new List<DpSgdEpoch>();
        var privacy = new PrivacySpent(double.PositiveInfinity, options.Delta, double.NaN, options.Conversion);
        double lossSum = 0, sampled = 0, clipped = 0;
        var epochSteps = 0;
        model.train();
        for (var step = 0; step < totalSteps; step++)
        {
            var batch = PoissonSample(rng, n, q);
            using (var scope = NewDisposeScope())
            {
                if (aggregator is not null)
                    lossSum += PrivateStep(model, perExampleLoss, x, y, batch, parameters, aggregator, ref clipped);
                else
                    lossSum += NonPrivateStep(model, perExampleLoss, x, y, batch, parameters);
            }
            // Outside any dispose scope: optimiser state (Adam's moments) created here must outlive the step.
            if (aggregator is not null || batch.Length > 0) optimizer.step();
            sampled += batch.Length;
            epochSteps++;
            if (epochSteps == stepsPerEpoch || step == totalSteps - 1)
            {
                if (accountant is not null)
                {
                    accountant.Compose(q, sigma, epochSteps);
                    privacy = accountant.GetPrivacySpent(options.Delta, options.Conversion);
                }
                var row = new DpSgdEpoch(history.Count + 1, step + 1, sampled > 0 ? lossSum / sampled : double.NaN,
                    sampled / epochSteps, aggregator is not null && sampled > 0 ? clipped / sampled : 0, privacy.Epsilon);
                history.Add(row);
                onEpoch?.Invoke(row);
                lossSum = sampled = clipped = 0;
                epochSteps = 0;
            }
        }
        model.eval();
        return new DpSgdResult(history, totalSteps, q, aggregator is null ? 0 : sigma, privacy, accountant);
    }

    /// <summary>Each example of the batch by itself: forward, backward, clip into the aggregator; then noise into .grad.</summary>
    private static double PrivateStep(nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> perExampleLoss, Tensor x, Tensor y,
        int[] batch, List<Parameter> parameters, DpGradientAggregator aggregator, ref double clipped)
    {
        var lossSum = zeros(1, dtype: ScalarType.Float64);
        foreach (var i in batch)
        {
            using var inner = NewDisposeScope();
            foreach (var p in parameters) p.grad?.zero_();
            var output = model.forward(x.narrow(0, i, 1));
            var loss = perExampleLoss(output, y.narrow(0, i, 1)).sum();
            loss.backward();
            lossSum.add_(loss.detach().to_type(ScalarType.Float64));
            aggregator.Add([.. parameters.Select(p => p.grad)]);
        }
        clipped += aggregator.Clipped;
        aggregator.Release([.. parameters.Select(p => p.grad!)]);
        return lossSum.ToDouble();
    }

    /// <summary>The baseline: mean loss over the batch, one backward, no clipping, no noise.</summary>
    private static double NonPrivateStep(nn.Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> perExampleLoss, Tensor x, Tensor y,
        int[] batch, List<Parameter> parameters)
    {
        foreach (var p in parameters) p.grad?.zero_();
        if (batch.Length == 0) return 0;
        var index = tensor(batch.Select(i => (long)i).ToArray());
        var losses = perExampleLoss(model.forward(x.index_select(0, index)), y.index_select(0, index));
        var sum = losses.sum().ToDouble();
        losses.mean().backward();
        return sum;
    }

    /// <summary>Each example independently with probability q (seeded): the sampling the accountant assumes.</summary>
    internal static int[] PoissonSample(Random rng, int n, double q)
    {
        var batch = new List<int>((int)Math.Ceiling(n * q * 1.5) + 4);
        for (var i = 0; i < n; i++)
        {
            if (rng.NextDouble() < q) batch.Add(i);
        }
        return [.. batch];
    }

    /// <summary>Gives every parameter a zero .grad, so the privatised gradient can be copied into it in place.</summary>
    private static void AllocateGradients(List<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        foreach (var p in parameters)
        {
            if (p.grad is not null) continue;
            p.sum().mul(0).backward();
        }
        foreach (var p in parameters) p.grad!.zero_();
    }

    private static optim.Optimizer MakeOptimizer(List<Parameter> parameters, DpSgdOptions options) => options.Optimizer switch
    {
        DpOptimizer.Sgd => optim.SGD(parameters, options.LearningRate),
        DpOptimizer.Adam => optim.Adam(parameters, options.LearningRate),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "unknown optimiser"),
    };
}
