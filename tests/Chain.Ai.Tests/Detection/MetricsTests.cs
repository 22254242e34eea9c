using Chain.Ai.Detection;

namespace Chain.Ai.Tests.Detection;

/// <summary>Metrics against values computed by hand (shown in each test).</summary>
public sealed class MetricsTests
{
    [Fact]
    public void Binary_counts_at_the_threshold_match_hand_computed_values()
    {
        // flagged (>= 0.5): 0.9 TP, 0.4 FN, 0.6 FP, 0.1 TN, 0.5 TP -> TP 2, FN 1, FP 1, TN 1.
        int[] labels = [1, 1, 0, 0, 1];
        float[] scores = [0.9f, 0.4f, 0.6f, 0.1f, 0.5f];
        var r = Metrics.Binary(labels, scores, 0.5f);
        Assert.Equal(3.0 / 5, r.Accuracy, 12);
        Assert.Equal(2.0 / 3, r.Precision, 12);
        Assert.Equal(2.0 / 3, r.Recall, 12);
        Assert.Equal(2.0 / 3, r.F1, 12);
        Assert.Equal(0.5, r.FalsePositiveRate, 12);
        // Pairs (attack, benign) ordered right: 0.9 beats both, 0.4 and 0.5 beat 0.1 only -> 4 of 6.
        Assert.Equal(4.0 / 6, r.Auroc, 12);
        Assert.Equal(5, r.Count);
        Assert.Equal(3, r.Positives);
        Assert.Equal(0.5f, r.Threshold);
        Assert.Equal(2, r.TruePositives);
        Assert.Equal(1, r.FalsePositives);
    }

    [Fact]
    public void Auroc_counts_ties_as_one_half()
    {
        // Attacks {0.5, 0.9} against benign {0.1, 0.5}: 1 + 0.5 (tie) + 1 + 1 = 3.5 of 4.
        Assert.Equal(0.875, Metrics.Auroc([0, 0, 1, 1], [0.1f, 0.5f, 0.5f, 0.9f]), 12);
        Assert.Equal(0.5, Metrics.Auroc([0, 1, 0, 1], [0.3f, 0.3f, 0.3f, 0.3f]), 12);
        Assert.Equal(1.0, Metrics.Auroc([0, 1], [0.1f, 0.2f]), 12);
        Assert.Equal(0.0, Metrics.Auroc([1, 0], [0.1f, 0.2f]), 12);
    }

    [Fact]
    public void Average_precision_steps_over_distinct_thresholds()
    {
        // Descending: attack (P 1, R 0.5), benign, attack (P 2/3, R 1), benign -> 0.5 * 1 + 0.5 * 2/3.
        Assert.Equal(0.5 + 1.0 / 3, Metrics.Auprc([1, 0, 1, 0], [0.9f, 0.8f, 0.7f, 0.6f]), 12);
        // A tie is one threshold: {0.9: attack} R 0.5 P 1, {0.5: benign, attack} R 1 P 2/3.
        Assert.Equal(0.5 + 1.0 / 3, Metrics.Auprc([1, 0, 1], [0.9f, 0.5f, 0.5f]), 12);
        Assert.Equal(1.0, Metrics.Auprc([0, 1, 1], [0.1f, 0.8f, 0.9f]), 12);
    }

    [Fact]
    public void Roc_curve_has_one_point_per_distinct_threshold()
    {
        var (fpr, tpr) = Metrics.RocCurve([0, 0, 1, 1], [0.1f, 0.5f, 0.5f, 0.9f]);
        Assert.Equal([0, 0, 0.5, 1], fpr);
        Assert.Equal([0, 0.5, 1, 1], tpr);
    }

    [Fact]
    public void Threshold_at_fpr_is_the_lowest_that_keeps_the_benign_false_positive_rate()
    {
        // Ten benign scores 0.1 .. 1.0 and two attacks (ignored). 10% allows one false alarm: just above 0.9.
        int[] labels = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
        float[] scores = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 0.05f, 0.95f];
        var t = Metrics.ThresholdAtFpr(labels, scores, 0.1);
        Assert.Equal(MathF.BitIncrement(0.9f), t);
        Assert.Equal(1, scores.Take(10).Count(s => s >= t));
        Assert.Equal(MathF.BitIncrement(1.0f), Metrics.ThresholdAtFpr(labels, scores, 0));
        Assert.Equal(MathF.BitIncrement(0.8f), Metrics.ThresholdAtFpr(labels, scores, 0.25)); // floor(2.5) = 2 allowed
        Assert.Equal(0.1f, Metrics.ThresholdAtFpr(labels, scores, 1));
    }

    [Fact]
    public void Best_f1_threshold_sits_between_the_last_flagged_and_the_next_score()
    {
        var (threshold, f1) = Metrics.BestF1Threshold([0, 1, 1, 0], [0.2f, 0.8f, 0.6f, 0.4f]);
        Assert.Equal(0.5f, threshold);
        Assert.Equal(1.0, f1, 12);
    }

    [Fact]
    public void One_class_or_mismatched_input_is_refused()
    {
        var allBenign = Assert.Throws<ArgumentException>(() => Metrics.Auroc([0, 0], [0.1f, 0.2f]));
        Assert.Contains("both classes", allBenign.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Metrics.Auprc([1, 1], [0.1f, 0.2f]));
        Assert.Throws<ArgumentException>(() => Metrics.Binary([1, 1], [0.1f, 0.2f], 0.5f));
        Assert.Throws<ArgumentException>(() => Metrics.RocCurve([0], [0.1f]));
        Assert.Throws<ArgumentException>(() => Metrics.Auroc([0, 1], [0.1f]));
        Assert.Throws<ArgumentException>(() => Metrics.Auroc([0, 2], [0.1f, 0.2f]));
        Assert.Throws<ArgumentException>(() => Metrics.Auroc([0, 1], [0.1f, float.NaN]));
        Assert.Throws<ArgumentException>(() => Metrics.ThresholdAtFpr([1, 1], [0.1f, 0.2f], 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.ThresholdAtFpr([0, 1], [0.1f, 0.2f], 1.5));
        Assert.Throws<ArgumentException>(() => Metrics.BestF1Threshold([0, 0], [0.1f, 0.2f]));
    }
}
