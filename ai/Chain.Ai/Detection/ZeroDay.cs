using Chain.Ai.Data;

namespace Chain.Ai.Detection;

/// <summary>How one detector did on one attack family.</summary>
/// <param name="Family">The attack family.</param>
/// <param name="Unseen">True when the detector never saw this family (trained and validated without it).</param>
/// <param name="Scope">"test" (the family's events in the test part) or "all" (all its events, when the test part holds
/// fewer than the minimum); <see cref="Events"/>, <see cref="Blocked"/> and the delays are over this scope.</param>
/// <param name="Events">The family's events in the scope.</param>
/// <param name="Blocked">Of those, scored at or above the threshold.</param>
/// <param name="TestEvents">The family's events in the test part.</param>
/// <param name="TestBlockedShare">Share of those blocked (NaN when none).</param>
/// <param name="AllEvents">All the family's events (for an unseen family none were trained on).</param>
/// <param name="AllBlockedShare">Share of those blocked.</param>
/// <param name="BenignFpr">Share of the benign test rows scored at or above the threshold.</param>
/// <param name="Threshold">Chosen on the validation benign rows so that their false-positive rate is at most the target.</param>
/// <param name="Campaigns">Campaigns of the family in the scope (maximal runs in time order, see <see cref="ZeroDay"/>).</param>
/// <param name="MissedCampaigns">Campaigns with no event blocked.</param>
/// <param name="MeanDelay">Mean, over detected campaigns, of the events before the first blocked one (NaN if none).</param>
/// <param name="MedianDelay">Median of the same.</param>
public sealed record FamilyDetection(
    string Family,
    bool Unseen,
    string Scope,
    int Events,
    int Blocked,
    int TestEvents,
    double TestBlockedShare,
    int AllEvents,
    double AllBlockedShare,
    double BenignFpr,
    float Threshold,
    int Campaigns,
    int MissedCampaigns,
    double MeanDelay,
    double MedianDelay)
{
    /// <summary>Blocked / Events: the headline share.</summary>
    public double BlockedShare => Events == 0 ? double.NaN : (double)Blocked / Events;
}

/// <summary>The zero-day table: per family, the detector trained without it, and the detector that knew every family.</summary>
public sealed record ZeroDayReport(
    string Split,
    double MaxFpr,
    int Gap,
    IReadOnlyList<FamilyDetection> Unseen,
    IReadOnlyList<FamilyDetection> Known);

/// <summary>
/// Zero-day evaluation: how well the detector blocks an attack family it has never seen.
/// <para>
/// For each attack family X: a detector is trained on the train part and selected on the validation part, both with
/// every X row removed; its threshold is the lowest at which at most <c>maxFpr</c> of the validation benign rows are
/// flagged (<see cref="Metrics.ThresholdAtFpr"/>). Reported for X: the share of X's events blocked (score &gt;= threshold)
/// in the test part, and over all X events (none were trained on); the headline scope is the test part when it holds at
/// least <c>minTestEvents</c> X events, else all X events. The false-positive rate is measured on the benign test rows.
/// Detection delay: a campaign is a maximal run of X events in time order in which consecutive X events are separated
/// by at most <c>gap</c> other rows (benign or another family); its delay is the number of its X events before the first
/// blocked one (0 = the first event was blocked). Mean and median are over the detected campaigns; campaigns with no
/// blocked event are counted apart. The same is reported, on the test part, for one detector trained with every family
/// (its threshold chosen the same way), for comparison.
/// </para>
/// </summary>
public static class ZeroDay
{
    public static ZeroDayReport Evaluate(TabularDataset data, DetectorOptions options, double maxFpr = 0.01, int gap = 5,
        int minTestEvents = 50, IProgress<string>? progress = null, IProgress<EpochReport>? epochs = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!(maxFpr >= 0 && maxFpr < 1)) throw new ArgumentOutOfRangeException(nameof(maxFpr), maxFpr, "must be in [0, 1)");
        ArgumentOutOfRangeException.ThrowIfNegative(gap);
        ArgumentOutOfRangeException.ThrowIfNegative(minTestEvents);
        var families = data.AttackFamilies().Order(StringComparer.Ordinal).ToArray();
        if (families.Length < 2)
            throw new DatasetException($"zero-day evaluation needs at least two attack families; the data has {families.Length}");
        var chosen = DetectionSplit.Choose(data, options.Seed);
        var split = chosen.Split;
        progress?.Report($"split: {chosen.Description}");

        var unseen = new List<FamilyDetection>();
        foreach (var family in families)
        {
            progress?.Report($"training without {family}");
            var train = split.Train.Where(i => data.Families[i] != family).ToArray();
            var validation = split.Validation.Where(i => data.Families[i] != family).ToArray();
            unseen.Add(Run(data, split, train, validation, options, maxFpr, gap, minTestEvents, epochs, family, true)[0]);
        }
        progress?.Report("training with every family");
        var known = Run(data, split, split.Train, split.Validation, options, maxFpr, gap, int.MaxValue, epochs, null, false);
        return new ZeroDayReport(chosen.Description, maxFpr, gap, unseen, known);
    }

    /// <summary>Trains on the given rows and reports for one family (or for every family when null).</summary>
    private static List<FamilyDetection> Run(TabularDataset data, Split split, IReadOnlyList<int> train,
        IReadOnlyList<int> validation, DetectorOptions options, double maxFpr, int gap, int minTestEvents,
        IProgress<EpochReport>? epochs, string? family, bool unseen)
    {
        using var detector = Detector.Train(data.Subset(train), data.Subset(validation), options, epochs);
        var scores = detector.AttackProbability(data.Select(options.Features).Rows);
        var validationLabels = validation.Select(i => data.Labels[i]).ToArray();
        var validationScores = validation.Select(i => scores[i]).ToArray();
        var threshold = Metrics.ThresholdAtFpr(validationLabels, validationScores, maxFpr);
        var benignTest = split.Test.Where(i => data.Labels[i] == 0).ToArray();
        var fpr = benignTest.Length == 0 ? double.NaN : (double)benignTest.Count(i => scores[i] >= threshold) / benignTest.Length;
        var testSet = new HashSet<int>(split.Test);
        var result = new List<FamilyDetection>();
        IEnumerable<string> targets = family is null ? data.AttackFamilies().Order(StringComparer.Ordinal) : [family];
        foreach (var x in targets)
        {
            var all = Enumerable.Range(0, data.Count).Where(i => data.Labels[i] == 1 && data.Families[i] == x).ToArray();
            var test = all.Where(testSet.Contains).ToArray();
            var scope = test.Length >= minTestEvents || !unseen ? test : all;
            var blocked = scope.Count(i => scores[i] >= threshold);
            var delays = Campaigns(scope, gap).Select(c => FirstBlocked(c, scores, threshold)).ToList();
            var detected = delays.Where(d => d >= 0).Select(d => (double)d).Order().ToArray();
            result.Add(new FamilyDetection(x, unseen, ReferenceEquals(scope, test) ? "test" : "all", scope.Length, blocked,
                test.Length, Share(test, scores, threshold), all.Length, Share(all, scores, threshold), fpr, threshold,
                delays.Count, delays.Count(d => d < 0), detected.Length == 0 ? double.NaN : detected.Average(),
                Median(detected)));
        }
        return result;
    }

    /// <summary>
    /// Campaigns of time-ordered row indexes: consecutive indexes join while at most <paramref name="gap"/> rows lie
    /// between them.
    /// </summary>
    public static List<int[]> Campaigns(IReadOnlyList<int> orderedRows, int gap)
    {
        ArgumentNullException.ThrowIfNull(orderedRows);
        ArgumentOutOfRangeException.ThrowIfNegative(gap);
        var campaigns = new List<int[]>();
        var current = new List<int>();
        foreach (var i in orderedRows)
        {
            if (current.Count > 0 && i <= current[^1]) throw new ArgumentException("rows must be in increasing time order", nameof(orderedRows));
            if (current.Count > 0 && i - current[^1] - 1 > gap)
            {
                campaigns.Add([.. current]);
                current.Clear();
            }
            current.Add(i);
        }
        if (current.Count > 0) campaigns.Add([.. current]);
        return campaigns;
    }

    /// <summary>The number of events of <paramref name="campaign"/> before its first blocked one, or -1 if none is blocked.</summary>
    public static int FirstBlocked(IReadOnlyList<int> campaign, IReadOnlyList<float> scores, float threshold)
    {
        for (var k = 0; k < campaign.Count; k++)
        {
            if (scores[campaign[k]] >= threshold) return k;
        }
        return -1;
    }

    private static double Share(IReadOnlyList<int> rows, IReadOnlyList<float> scores, float threshold) =>
        rows.Count == 0 ? double.NaN : (double)rows.Count(i => scores[i] >= threshold) / rows.Count;

    private static double Median(double[] sorted) =>
        sorted.Length == 0 ? double.NaN
        : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
        : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
