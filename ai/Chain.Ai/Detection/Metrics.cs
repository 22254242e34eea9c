namespace Chain.Ai.Detection;

/// <summary>Binary detection metrics at one threshold (score &gt;= threshold means attack), plus the threshold-free ones.</summary>
/// <param name="Accuracy">Share of rows classified correctly.</param>
/// <param name="Precision">TP / (TP + FP); 0 when nothing is flagged.</param>
/// <param name="Recall">TP / (TP + FN): the share of attacks flagged (the detection rate).</param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
/// <param name="FalsePositiveRate">FP / (FP + TN): the share of benign rows flagged.</param>
/// <param name="Auroc">Area under the ROC curve (Mann-Whitney, ties count one half).</param>
/// <param name="Auprc">Average precision (area under the precision-recall curve, step-wise).</param>
/// <param name="Threshold">The threshold the counts used.</param>
/// <param name="Count">Rows.</param>
/// <param name="Positives">Attack rows.</param>
public sealed record BinaryReport(
    double Accuracy,
    double Precision,
    double Recall,
    double F1,
    double FalsePositiveRate,
    double Auroc,
    double Auprc,
    float Threshold,
    int Count,
    int Positives)
{
    public int TruePositives { get; init; }

    public int FalsePositives { get; init; }
}

/// <summary>
/// Detection metrics over labels (1 = attack, 0 = benign) and scores (higher = more likely an attack). Pure C#, no torch.
/// The threshold-free metrics need both classes; they throw <see cref="ArgumentException"/> otherwise.
/// </summary>
public static class Metrics
{
    /// <summary>Counts at <paramref name="threshold"/> (score &gt;= threshold is flagged) plus AUROC and AUPRC.</summary>
    public static BinaryReport Binary(IReadOnlyList<int> labels, IReadOnlyList<float> scores, float threshold)
    {
        Check(labels, scores, needBoth: true);
        int tp = 0, fp = 0, tn = 0, fn = 0;
        for (var i = 0; i < labels.Count; i++)
        {
            var flagged = scores[i] >= threshold;
            if (labels[i] == 1)
            {
                if (flagged) tp++;
                else fn++;
            }
            else if (flagged)
            {
                fp++;
            }
            else
            {
                tn++;
            }
        }
        var precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        var recall = (double)tp / (tp + fn);
        var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new BinaryReport((double)(tp + tn) / labels.Count, precision, recall, f1, (double)fp / (fp + tn),
            Auroc(labels, scores), Auprc(labels, scores), threshold, labels.Count, tp + fn)
        {
            TruePositives = tp,
            FalsePositives = fp,
        };
    }

    /// <summary>
    /// AUROC as the Mann-Whitney statistic: the probability that a random attack scores above a random benign row,
    /// ties counting one half (mid-ranks).
    /// </summary>
    public static double Auroc(IReadOnlyList<int> labels, IReadOnlyList<float> scores)
    {
        var (positives, negatives) = Check(labels, scores, needBoth: true);
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double rankSum = 0;
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && scores[order[end + 1]] == scores[order[start]]) end++;
            var midRank = (start + end) / 2.0 + 1; // ranks are 1-based
            for (var k = start; k <= end; k++)
            {
                if (labels[order[k]] == 1) rankSum += midRank;
            }
            start = end + 1;
        }
        var u = rankSum - positives * (positives + 1) / 2.0;
        return u / ((double)positives * negatives);
    }

    /// <summary>
    /// Average precision: the sum over distinct thresholds (descending) of the recall gained times the precision there;
    /// tied scores are one threshold (as scikit-learn's average_precision_score).
    /// </summary>
    public static double Auprc(IReadOnlyList<int> labels, IReadOnlyList<float> scores)
    {
        var (positives, _) = Check(labels, scores, needBoth: true);
        double ap = 0;
        var tp = 0;
        var flagged = 0;
        var previousRecall = 0.0;
        foreach (var (_, group) in DescendingGroups(scores))
        {
            foreach (var i in group)
            {
                flagged++;
                if (labels[i] == 1) tp++;
            }
            var recall = (double)tp / positives;
            ap += (recall - previousRecall) * tp / flagged;
            previousRecall = recall;
        }
        return ap;
    }

    /// <summary>
    /// The ROC curve: one point per distinct threshold, from (0, 0) (nothing flagged) to (1, 1) (everything flagged).
    /// </summary>
    public static (double[] Fpr, double[] Tpr) RocCurve(IReadOnlyList<int> labels, IReadOnlyList<float> scores)
    {
        var (positives, negatives) = Check(labels, scores, needBoth: true);
        var fpr = new List<double> { 0 };
        var tpr = new List<double> { 0 };
        int tp = 0, fp = 0;
        foreach (var (_, group) in DescendingGroups(scores))
        {
            foreach (var i in group)
            {
                if (labels[i] == 1) tp++;
                else fp++;
            }
            fpr.Add((double)fp / negatives);
            tpr.Add((double)tp / positives);
        }
        return ([.. fpr], [.. tpr]);
    }

    /// <summary>
    /// The lowest threshold whose false-positive rate on the benign rows (label 0; attack rows are ignored) is at most
    /// <paramref name="maxFpr"/>: with k = floor(maxFpr * benign) false alarms allowed, the smallest float above the
    /// (k+1)-th highest benign score (so at most k benign rows score at or above it). When every benign row may be
    /// flagged (k &gt;= benign), the lowest benign score.
    /// </summary>
    public static float ThresholdAtFpr(IReadOnlyList<int> labels, IReadOnlyList<float> scores, double maxFpr)
    {
        Check(labels, scores, needBoth: false);
        if (!(maxFpr >= 0 && maxFpr <= 1)) throw new ArgumentOutOfRangeException(nameof(maxFpr), maxFpr, "must be in [0, 1]");
        var benign = scores.Where((_, i) => labels[i] == 0).OrderByDescending(s => s).ToArray();
        if (benign.Length == 0) throw new ArgumentException("no benign rows (label 0) to measure a false-positive rate on", nameof(labels));
        var allowed = (int)Math.Floor(maxFpr * benign.Length + 1e-9);
        if (allowed >= benign.Length) return benign[^1];
        return MathF.BitIncrement(benign[allowed]);
    }

    /// <summary>
    /// The threshold with the highest F1 (first of equals, i.e. the highest such threshold): the midpoint between the
    /// lowest flagged score and the next lower distinct score, so a score equal to a flagged one stays flagged.
    /// Returns the threshold and its F1. Needs at least one attack row.
    /// </summary>
    public static (float Threshold, double F1) BestF1Threshold(IReadOnlyList<int> labels, IReadOnlyList<float> scores)
    {
        var (positives, _) = Check(labels, scores, needBoth: false);
        if (positives == 0) throw new ArgumentException("no attack rows (label 1): F1 is undefined", nameof(labels));
        var groups = DescendingGroups(scores).ToList();
        int tp = 0, flagged = 0;
        var best = (Index: -1, F1: -1.0);
        for (var g = 0; g < groups.Count; g++)
        {
            foreach (var i in groups[g].Rows)
            {
                flagged++;
                if (labels[i] == 1) tp++;
            }
            var f1 = 2.0 * tp / (flagged + positives);
            if (f1 > best.F1) best = (g, f1);
        }
        var at = groups[best.Index].Score;
        var threshold = best.Index + 1 < groups.Count ? Midpoint(groups[best.Index + 1].Score, at) : at;
        return (threshold, best.F1);
    }

    /// <summary>A float strictly above <paramref name="low"/> and at most <paramref name="high"/> (low &lt; high).</summary>
    private static float Midpoint(float low, float high)
    {
        var mid = (float)((low + (double)high) / 2);
        return mid > low ? mid : high;
    }

    /// <summary>Row indexes grouped by equal score, highest score first.</summary>
    private static IEnumerable<(float Score, List<int> Rows)> DescendingGroups(IReadOnlyList<float> scores)
    {
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        for (var start = 0; start < order.Length;)
        {
            var group = new List<int>();
            var s = scores[order[start]];
            while (start < order.Length && scores[order[start]] == s) group.Add(order[start++]);
            yield return (s, group);
        }
    }

    private static (int Positives, int Negatives) Check(IReadOnlyList<int> labels, IReadOnlyList<float> scores, bool needBoth)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(scores);
        if (labels.Count != scores.Count)
            throw new ArgumentException($"{labels.Count} labels but {scores.Count} scores", nameof(scores));
        if (labels.Count == 0) throw new ArgumentException("no rows", nameof(labels));
        var positives = 0;
        for (var i = 0; i < labels.Count; i++)
        {
            if (labels[i] is not (0 or 1)) throw new ArgumentException($"label {labels[i]} at row {i} is not 0 or 1", nameof(labels));
            if (float.IsNaN(scores[i])) throw new ArgumentException($"score at row {i} is NaN", nameof(scores));
            positives += labels[i];
        }
        var negatives = labels.Count - positives;
        if (needBoth && (positives == 0 || negatives == 0))
        {
            throw new ArgumentException(
                $"both classes are needed, but all {labels.Count} rows are {(positives == 0 ? "benign" : "attacks")}", nameof(labels));
        }
        return (positives, negatives);
    }
}
