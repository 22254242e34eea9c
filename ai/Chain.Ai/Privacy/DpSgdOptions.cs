using System.Globalization;

namespace Chain.Ai.Privacy;

/// <summary>The optimiser a DP-SGD step feeds with the privatised gradient.</summary>
public enum DpOptimizer
{
    Sgd,
    Adam,
}

/// <summary>
/// Settings of one DP-SGD run (Abadi et al. 2016 with Poisson sampling). Each step samples every training example
/// independently with probability q = <see cref="ExpectedBatchSize"/> / N, clips each sampled example's full gradient
/// to L2 norm <see cref="MaxGradNorm"/> (C), sums, adds N(0, sigma² C²) noise per coordinate, divides by
/// <see cref="ExpectedBatchSize"/> and hands that to the optimiser.
/// </summary>
public sealed record DpSgdOptions
{
    /// <summary>sigma: noise standard deviation over the clipping norm. 0 clips without noise (epsilon = ∞).</summary>
    public double NoiseMultiplier { get; init; } = 1.0;

    /// <summary>C: every example's gradient is scaled down to at most this L2 norm.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>B: the expected batch size; q = B / N and the summed gradient is divided by B.</summary>
    public int ExpectedBatchSize { get; init; } = 64;

    /// <summary>Passes over the data; an epoch is round(N / B) steps (at least 1). Ignored when <see cref="Steps"/> is set.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>The total number of steps, instead of <see cref="Epochs"/> (the history then has one row per round(N/B) steps).</summary>
    public int? Steps { get; init; }

    public double LearningRate { get; init; } = 0.05;

    public DpOptimizer Optimizer { get; init; } = DpOptimizer.Sgd;

    /// <summary>Seeds the batch sampling (System.Random), the noise (its own torch generator) and libtorch's global generator (dropout).</summary>
    public long Seed { get; init; } = 1;

    /// <summary>The delta epsilon is reported at; must be in (0, 1), ideally below 1/N.</summary>
    public double Delta { get; init; } = 1e-5;

    /// <summary>False: the non-private baseline on the same Poisson batches (mean loss, no clipping, no noise; epsilon = ∞).</summary>
    public bool Private { get; init; } = true;

    /// <summary>The RDP orders the accountant uses (default <see cref="RdpAccountant.DefaultOrders"/>).</summary>
    public IReadOnlyList<double>? Orders { get; init; }

    /// <summary>How epsilon is reported (<see cref="DpConversion.Improved"/> by default).</summary>
    public DpConversion Conversion { get; init; } = DpConversion.Improved;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void Validate()
    {
        Check(double.IsFinite(NoiseMultiplier) && NoiseMultiplier >= 0, nameof(NoiseMultiplier), NoiseMultiplier, "must be a finite number >= 0");
        Check(double.IsFinite(MaxGradNorm) && MaxGradNorm > 0, nameof(MaxGradNorm), MaxGradNorm, "must be a finite number > 0");
        Check(ExpectedBatchSize >= 1, nameof(ExpectedBatchSize), ExpectedBatchSize, "must be >= 1");
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be >= 1");
        Check(Steps is null or >= 1, nameof(Steps), Steps ?? 0, "must be >= 1 when set");
        Check(double.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), LearningRate, "must be a finite number > 0");
        Check(Delta is > 0 and < 1, nameof(Delta), Delta, "must be in (0, 1)");
        if (Orders is not null)
        {
            Check(Orders.Count > 0, nameof(Orders), Orders.Count, "must hold at least one order");
            foreach (var o in Orders) Check(o > 1, nameof(Orders), o, "must all be > 1");
        }
    }

    /// <summary>round(N / B), at least 1: the steps of one epoch over <paramref name="examples"/> examples.</summary>
    public int StepsPerEpoch(int examples) => Math.Max(1, (int)Math.Round(examples / (double)ExpectedBatchSize));

    private static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value,
                string.Create(CultureInfo.InvariantCulture, $"DP-SGD option {name} = {value} {rule}"));
        }
    }
}
