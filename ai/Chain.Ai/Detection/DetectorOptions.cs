using System.Globalization;
using Chain.Ai.Data;

namespace Chain.Ai.Detection;

/// <summary>What early stopping watches on the validation rows (higher is better for both).</summary>
public enum StopMetric
{
    /// <summary>Validation AUROC.</summary>
    Auroc,

    /// <summary>Validation F1 at the validation's best-F1 threshold.</summary>
    F1,
}

/// <summary>How to train a <see cref="Detector"/>. Immutable; <see cref="Validate"/> checks ranges.</summary>
public sealed record DetectorOptions
{
    /// <summary>Hidden layer widths of the MLP, input side first. Default 64, 32.</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [64, 32];

    /// <summary>Dropout after each hidden layer, in [0, 1). Default 0.1.</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary>Maximum passes over the training rows. Default 60.</summary>
    public int Epochs { get; init; } = 60;

    /// <summary>Rows per optimiser step. Default 128.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>AdamW learning rate. Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>AdamW decoupled weight decay. Default 1e-4.</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Seeds libtorch (initialisation, dropout) and the shuffling. Default 1.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Which features the detector reads. Default all.</summary>
    public FeatureGroup Features { get; init; } = FeatureGroup.All;

    /// <summary>
    /// Weight of the attack class in the binary loss (BCE pos_weight), against the imbalance; null = benign / attack
    /// rows in the training set. Default null.
    /// </summary>
    public double? PositiveWeight { get; init; }

    /// <summary>Weight of the attack-family cross-entropy beside the binary loss (0 = binary only). Default 0.5.</summary>
    public double FamilyLossWeight { get; init; } = 0.5;

    /// <summary>
    /// Pass the scaled features through asinh first (a smooth signed log: heavy-tailed flow counters such as loads and
    /// byte counts stop dominating). Part of the network, so it is saved with the weights. Default true.
    /// </summary>
    public bool CompressInputs { get; init; } = true;

    /// <summary>What early stopping watches. Default AUROC.</summary>
    public StopMetric Monitor { get; init; } = StopMetric.Auroc;

    /// <summary>Stop after this many epochs without a better validation score (0 = run every epoch). Default 12.</summary>
    public int Patience { get; init; } = 12;

    /// <summary>Throws <see cref="ArgumentException"/> (naming the option) when a value is out of range.</summary>
    public void Validate()
    {
        if (Hidden is null || Hidden.Count == 0 || Hidden.Any(h => h < 1 || h > 4096))
            throw new ArgumentException("Hidden: give 1 or more layer widths, each in 1..4096");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Dropout must be in [0, 1), not {Format(Dropout)}");
        if (Epochs < 1 || Epochs > 100_000) throw new ArgumentException($"Epochs must be in 1..100000, not {Epochs}");
        if (BatchSize < 1 || BatchSize > 1_000_000) throw new ArgumentException($"BatchSize must be in 1..1000000, not {BatchSize}");
        if (!(LearningRate > 0 && LearningRate <= 10)) throw new ArgumentException($"LearningRate must be in (0, 10], not {Format(LearningRate)}");
        if (!(WeightDecay >= 0 && WeightDecay <= 10)) throw new ArgumentException($"WeightDecay must be in [0, 10], not {Format(WeightDecay)}");
        if (PositiveWeight is { } w && !(w > 0 && w <= 1e6))
            throw new ArgumentException($"PositiveWeight must be in (0, 1e6], not {Format(w)}");
        if (!(FamilyLossWeight >= 0 && FamilyLossWeight <= 100))
            throw new ArgumentException($"FamilyLossWeight must be in [0, 100], not {Format(FamilyLossWeight)}");
        if (!Enum.IsDefined(Features)) throw new ArgumentException($"Features: unknown group {Features}");
        if (!Enum.IsDefined(Monitor)) throw new ArgumentException($"Monitor: unknown metric {Monitor}");
        if (Patience < 0) throw new ArgumentException($"Patience must be >= 0, not {Patience}");
    }

    private static string Format(double v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One training epoch, for learning curves.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="TrainLoss">Mean training loss (weighted BCE plus the weighted family cross-entropy).</param>
/// <param name="ValidationLoss">Mean unweighted BCE of the attack head on the validation rows.</param>
/// <param name="ValidationAuroc">NaN when the validation rows hold one class only.</param>
/// <param name="ValidationF1">At the validation's best-F1 threshold; NaN when the validation rows hold no attack.</param>
public sealed record EpochReport(int Epoch, double TrainLoss, double ValidationLoss, double ValidationAuroc, double ValidationF1);

/// <summary>A model file that is not a detector this build can read: foreign, truncated, corrupt or a newer format.</summary>
public sealed class DetectorFormatException(string message) : Exception(message);
