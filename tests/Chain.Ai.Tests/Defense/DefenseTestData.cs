using Chain.Ai.Data;
using Chain.Ai.Defense;

namespace Chain.Ai.Tests.Defense;

/// <summary>
/// A logistic scorer with fixed weights: attack = sigmoid(w·x + b); with family weights, the family probabilities are a
/// softmax over (wf_k·x + bf_k). <see cref="Fit"/> fits one by full-batch gradient descent on standardised features.
/// </summary>
internal sealed class LogisticScorer : IThreatScorer
{
    private readonly float[] _weights;
    private readonly float _bias;
    private readonly float[][]? _familyWeights;
    private readonly float[]? _familyBiases;
    private readonly float[]? _mean;
    private readonly float[]? _scale;

    public LogisticScorer(float[] weights, float bias, float[][]? familyWeights = null, float[]? familyBiases = null,
        float[]? mean = null, float[]? scale = null)
    {
        _weights = weights;
        _bias = bias;
        _familyWeights = familyWeights;
        _familyBiases = familyBiases;
        _mean = mean;
        _scale = scale;
    }

    public int FeatureCount => _weights.Length;

    public int FamilyCount => _familyWeights?.Length ?? 0;

    /// <summary>Family names in probability order (for fitted scorers).</summary>
    public IReadOnlyList<string> Families { get; init; } = [];

    public ThreatScore Score(ReadOnlySpan<float> rawFeatures)
    {
        var x = new float[rawFeatures.Length];
        for (var j = 0; j < x.Length; j++) x[j] = _mean is null ? rawFeatures[j] : (rawFeatures[j] - _mean[j]) / _scale![j];
        var attack = Sigmoid(Dot(_weights, x) + _bias);
        if (_familyWeights is null) return new ThreatScore(attack, null);
        var logits = _familyWeights.Select((w, k) => Dot(w, x) + _familyBiases![k]).ToArray();
        var max = logits.Max();
        var exp = logits.Select(l => MathF.Exp(l - max)).ToArray();
        var sum = exp.Sum();
        return new ThreatScore(attack, [.. exp.Select(e => e / sum)]);
    }

    /// <summary>
    /// Fits attack-vs-benign on the benign rows and the rows of <paramref name="families"/> (all when null), and a
    /// softmax family head over those families when there are two or more.
    /// </summary>
    public static LogisticScorer Fit(TabularDataset data, IReadOnlyCollection<string>? families = null, int epochs = 300, float rate = 0.5f)
    {
        var known = (families ?? data.AttackFamilies()).ToArray();
        var rows = Enumerable.Range(0, data.Count)
            .Where(i => data.Labels[i] == 0 || known.Contains(data.Families[i], StringComparer.OrdinalIgnoreCase)).ToArray();
        var scaler = StandardScaler.Fit([.. rows.Select(i => data.Rows[i])]);
        var x = rows.Select(i => scaler.Transform(data.Rows[i])).ToArray();
        var y = rows.Select(i => (float)data.Labels[i]).ToArray();
        var width = data.FeatureNames.Count;
        // Balanced classes: each class weighs half.
        var positives = y.Count(v => v > 0);
        var weightPos = 0.5f / Math.Max(1, positives);
        var weightNeg = 0.5f / Math.Max(1, y.Length - positives);
        var w = new float[width];
        float b = 0;
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            var gw = new float[width];
            float gb = 0;
            for (var i = 0; i < x.Length; i++)
            {
                var err = (Sigmoid(Dot(w, x[i]) + b) - y[i]) * (y[i] > 0 ? weightPos : weightNeg);
                for (var j = 0; j < width; j++) gw[j] += err * x[i][j];
                gb += err;
            }
            for (var j = 0; j < width; j++) w[j] -= rate * (gw[j] + 1e-3f * w[j]);
            b -= rate * gb;
        }
        float[][]? fw = null;
        float[]? fb = null;
        if (known.Length >= 2)
        {
            var attackRows = rows.Select((r, k) => (r, k)).Where(p => data.Labels[p.r] == 1).ToArray();
            fw = [.. known.Select(_ => new float[width])];
            fb = new float[known.Length];
            for (var epoch = 0; epoch < epochs; epoch++)
            {
                var gw = known.Select(_ => new float[width]).ToArray();
                var gb = new float[known.Length];
                foreach (var (r, k) in attackRows)
                {
                    var logits = fw.Select((v, c) => Dot(v, x[k]) + fb[c]).ToArray();
                    var max = logits.Max();
                    var exp = logits.Select(l => MathF.Exp(l - max)).ToArray();
                    var sum = exp.Sum();
                    for (var c = 0; c < known.Length; c++)
                    {
                        var target = string.Equals(data.Families[r], known[c], StringComparison.OrdinalIgnoreCase) ? 1f : 0f;
                        var err = (exp[c] / sum - target) / attackRows.Length;
                        for (var j = 0; j < width; j++) gw[c][j] += err * x[k][j];
                        gb[c] += err;
                    }
                }
                for (var c = 0; c < known.Length; c++)
                {
                    for (var j = 0; j < width; j++) fw[c][j] -= rate * gw[c][j];
                    fb[c] -= rate * gb[c];
                }
            }
        }
        return new LogisticScorer(w, b, fw, fb, [.. scaler.Mean], [.. scaler.Scale]) { Families = known };
    }

    private static float Dot(float[] w, ReadOnlySpan<float> x)
    {
        float s = 0;
        for (var j = 0; j < w.Length; j++) s += w[j] * x[j];
        return s;
    }

    private static float Sigmoid(float z) => 1f / (1f + MathF.Exp(-z));
}

/// <summary>Small synthetic datasets shaped like WUSTL: long benign stretches with short attack bursts of one family.</summary>
internal static class DefenseTestData
{
    public const string Spoofing = "Spoofing";
    public const string Alteration = "Data Alteration";

    /// <summary>
    /// Three features: x0 separates attacks (mean +2) from benign (mean -2) with unit noise; x1 separates Spoofing (+2)
    /// from Data Alteration (-2) on attack rows (0 on benign); x2 is noise. Bursts of <paramref name="burst"/> attack
    /// rows, alternating families, after every <paramref name="benignRun"/> benign rows.
    /// </summary>
    public static TabularDataset Make(int seed, int bursts = 12, int benignRun = 120, int burst = 20, float separation = 2f)
    {
        var random = new Random(seed);
        var rows = new List<float[]>();
        var labels = new List<int>();
        var families = new List<string>();
        float Noise() => (float)(random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 2f;
        for (var k = 0; k < bursts; k++)
        {
            for (var i = 0; i < benignRun; i++)
            {
                rows.Add([-separation + Noise(), 0.3f * Noise(), Noise()]);
                labels.Add(0);
                families.Add("normal");
            }
            var family = k % 2 == 0 ? Spoofing : Alteration;
            for (var i = 0; i < burst; i++)
            {
                rows.Add([separation + Noise(), (family == Spoofing ? 2f : -2f) + 0.3f * Noise(), Noise()]);
                labels.Add(1);
                families.Add(family);
            }
        }
        return new TabularDataset(["x0", "x1", "x2"], [false, false, false], [.. rows], [.. labels], [.. families]);
    }

    /// <summary>attack = sigmoid(2·x0); families (Spoofing, Data Alteration) = softmax(±2·x1).</summary>
    public static LogisticScorer Scorer(bool families = true) => families
        ? new LogisticScorer([2f, 0f, 0f], 0f, [[0f, 2f, 0f], [0f, -2f, 0f]], [0f, 0f]) { Families = [Spoofing, Alteration] }
        : new LogisticScorer([2f, 0f, 0f], 0f);

    /// <summary>A small ward for fast tests.</summary>
    public static DefenseOptions SmallWard => new()
    {
        Devices = 6,
        ClinicalDevices = 2,
        EpisodeSteps = 150,
        BenignStretch = 16,
        CampaignsPerEpisode = 2,
        QuarantineSteps = 30,
        RateLimitSteps = 30,
        EscalationDelay = 10,
    };
}
