using System.Diagnostics;
using System.Globalization;
using Chain.Ai.Torch;
using static TorchSharp.torch;

namespace Chain.Ai.Privacy;

/// <summary>One row of the utility-against-privacy table: a model trained with DP-SGD at one noise multiplier.</summary>
/// <param name="NoiseMultiplier">sigma; 0 is the non-private baseline.</param>
/// <param name="Epsilon">At <paramref name="Delta"/>; ∞ for the baseline.</param>
/// <param name="Delta">The delta epsilon is stated at.</param>
/// <param name="OptimalOrder">The RDP order that gave epsilon (NaN for the baseline).</param>
/// <param name="TestAccuracy">On the test set.</param>
/// <param name="TestAuroc">Binary tasks only (NaN otherwise, or when the test set holds one class).</param>
/// <param name="Steps">DP-SGD steps done.</param>
/// <param name="TrainSeconds">Wall-clock training time.</param>
public sealed record PrivacyUtilityRow(double NoiseMultiplier, double Epsilon, double Delta, double OptimalOrder, double TestAccuracy,
    double TestAuroc, int Steps, double TrainSeconds)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"sigma {NoiseMultiplier,6:0.###}  epsilon {Epsilon,10:G4}  accuracy {TestAccuracy:0.0000}  AUROC {TestAuroc:0.0000}  "
        + $"({Steps} steps, {TrainSeconds:0.0} s)");
}

/// <summary>
/// The utility/privacy trade-off: one freshly initialised model per noise multiplier, trained with DP-SGD on the same
/// data and seed, evaluated on the test set.
/// </summary>
public static class PrivacyUtility
{
    /// <summary>
    /// Trains <c>modelFactory()</c> once per entry of <paramref name="noiseMultipliers"/> (sigma 0: the non-private
    /// baseline, same batches, no clipping or noise) with <paramref name="options"/> otherwise, and evaluates each.
    /// libtorch's generator is seeded with <see cref="DpSgdOptions.Seed"/> before every factory call, so every model
    /// starts from the same weights. Outputs are read as binary logits when their last dimension is 1 (or they are 1-D),
    /// otherwise as class logits.
    /// </summary>
    public static IReadOnlyList<PrivacyUtilityRow> Measure(Func<nn.Module<Tensor, Tensor>> modelFactory,
        Func<Tensor, Tensor, Tensor> perExampleLoss, Tensor xTrain, Tensor yTrain, Tensor xTest, Tensor yTest,
        IReadOnlyList<double> noiseMultipliers, DpSgdOptions options, Action<PrivacyUtilityRow>? onRow = null)
    {
        ArgumentNullException.ThrowIfNull(modelFactory);
        ArgumentNullException.ThrowIfNull(perExampleLoss);
        ArgumentNullException.ThrowIfNull(xTest);
        ArgumentNullException.ThrowIfNull(yTest);
        ArgumentNullException.ThrowIfNull(noiseMultipliers);
        ArgumentNullException.ThrowIfNull(options);
        if (noiseMultipliers.Count == 0) throw new ArgumentException("at least one noise multiplier is needed", nameof(noiseMultipliers));
        TorchRuntime.EnsureLoaded();
        var rows = new List<PrivacyUtilityRow>();
        foreach (var sigma in noiseMultipliers)
        {
            var run = sigma == 0 ? options with { NoiseMultiplier = 0, Private = false } : options with { NoiseMultiplier = sigma };
            run.Validate();
            manual_seed(options.Seed);
            using var model = modelFactory();
            var clock = Stopwatch.StartNew();
            var result = DpSgd.Train(model, perExampleLoss, xTrain, yTrain, run);
            var seconds = clock.Elapsed.TotalSeconds;
            var (accuracy, auroc) = Evaluate(model, xTest, yTest);
            var row = new PrivacyUtilityRow(sigma, result.Epsilon, options.Delta, result.Privacy.OptimalOrder, accuracy, auroc,
                result.Steps, seconds);
            rows.Add(row);
            onRow?.Invoke(row);
        }
        return rows;
    }

    /// <summary>Accuracy and (binary only) AUROC of <paramref name="model"/> on (x, y), in eval mode without gradients.</summary>
    public static (double Accuracy, double Auroc) Evaluate(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        var output = model.forward(x);
        var labels = y.reshape(-1).to_type(ScalarType.Int64).data<long>().ToArray();
        if (output.shape[0] != labels.Length)
            throw new ArgumentException($"{output.shape[0]} outputs for {labels.Length} labels", nameof(y));
        if (output.dim() == 1 || output.shape[^1] == 1)
        {
            var scores = output.reshape(-1).to_type(ScalarType.Float64).data<double>().ToArray();
            var correct = scores.Where((s, i) => (s > 0 ? 1 : 0) == labels[i]).Count();
            return (correct / (double)labels.Length, Auroc(scores, labels));
        }
        var predicted = output.argmax(-1).data<long>().ToArray();
        var accuracy = predicted.Where((p, i) => p == labels[i]).Count() / (double)labels.Length;
        if (output.shape[^1] != 2) return (accuracy, double.NaN);
        var margin = (output.select(-1, 1) - output.select(-1, 0)).to_type(ScalarType.Float64).data<double>().ToArray();
        return (accuracy, Auroc(margin, labels));
    }

    /// <summary>
    /// Area under the ROC curve of <paramref name="scores"/> for label 1 against every other label (Mann-Whitney, ties counted half);
    /// NaN when one class is absent.
    /// </summary>
    public static double Auroc(IReadOnlyList<double> scores, IReadOnlyList<long> labels)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        if (scores.Count != labels.Count) throw new ArgumentException($"{scores.Count} scores for {labels.Count} labels", nameof(labels));
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double positives = labels.Count(l => l == 1), negatives = labels.Count - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        // Sum of the positives' mid-ranks.
        double rankSum = 0;
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && scores[order[end + 1]] == scores[order[start]]) end++;
            var midRank = (start + end) / 2.0 + 1;
            for (var k = start; k <= end; k++)
            {
                if (labels[order[k]] == 1) rankSum += midRank;
            }
            start = end + 1;
        }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
    }
}
