using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Chain.Ai.Data;
using Chain.Chaincode.Contracts;

namespace Chain.Ai.OnChain;

/// <summary>
/// The differential-privacy guarantee a model version was trained under: (ε, δ), or <see cref="None"/> (no guarantee).
/// </summary>
public sealed record TrainingPrivacy
{
    private TrainingPrivacy(decimal? epsilon, decimal? delta)
    {
        Epsilon = epsilon;
        Delta = delta;
    }

    /// <summary>Trained without differential privacy.</summary>
    public static TrainingPrivacy None { get; } = new(null, null);

    public decimal? Epsilon { get; }

    public decimal? Delta { get; }

    public bool IsNone => Epsilon is null;

    /// <summary>An (ε, δ) guarantee: ε &gt; 0 and finite, 0 &lt;= δ &lt; 1.</summary>
    public static TrainingPrivacy Dp(double epsilon, double delta)
    {
        if (!double.IsFinite(epsilon) || epsilon <= 0 || epsilon > 1e6)
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be a finite number above 0 (at most 1e6)");
        if (!double.IsFinite(delta) || delta is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "delta must be from 0 to below 1");
        return new TrainingPrivacy(ToDecimal(epsilon), ToDecimal(delta));
    }

    internal static decimal ToDecimal(double value) => decimal.Parse(value.ToString("G15", CultureInfo.InvariantCulture),
        NumberStyles.Float, CultureInfo.InvariantCulture);

    public override string ToString() => IsNone
        ? "none"
        : string.Create(CultureInfo.InvariantCulture, $"epsilon={Epsilon}, delta={Delta}");
}

/// <summary>
/// What a hospital declares about how a model version was trained (no patient data: fingerprints and aggregates).
/// The trainer organisation is not declared here: the contract records the registering member's organisation.
/// </summary>
/// <param name="DataFingerprint">Which data and loader options shaped the training set (<see cref="DataFingerprint"/>).</param>
/// <param name="Privacy">The differential-privacy guarantee, or <see cref="TrainingPrivacy.None"/>.</param>
/// <param name="Metrics">Evaluation figures by name (e.g. auc, f1, recall): names are contract names, values finite.</param>
public sealed record TrainingSummary(string DataFingerprint, TrainingPrivacy Privacy, IReadOnlyDictionary<string, double> Metrics)
{
    /// <summary>Metric names this class uses for the privacy budget (the contract's metadata has only an epsilon field).</summary>
    public const string DpMetric = "privacy.dp", DeltaMetric = "privacy.delta";

    /// <summary>
    /// The contract's metadata: the fingerprint, the metrics (as decimals) and epsilon. The privacy budget is written as
    /// <c>epsilon</c> plus the metrics <see cref="DpMetric"/> (1 with differential privacy, 0 without: then epsilon is 0
    /// and means "no guarantee", not "perfect privacy") and, with it, <see cref="DeltaMetric"/>.
    /// </summary>
    public TrainingMetadata ToContractMetadata()
    {
        if (string.IsNullOrWhiteSpace(DataFingerprint) || DataFingerprint.Length > 512)
            throw new ArgumentException("the data fingerprint must be 1-512 characters (see DataFingerprint.Compute)", nameof(DataFingerprint));
        ArgumentNullException.ThrowIfNull(Privacy);
        ArgumentNullException.ThrowIfNull(Metrics);
        if (Metrics.Count > 64) throw new ArgumentException("at most 64 metrics", nameof(Metrics));
        var metrics = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var (name, value) in Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            if (name is null || !ContractNames.IsName(name)) throw new ArgumentException($"metric name '{name}' must be {ContractNames.Rule}", nameof(Metrics));
            if (name.StartsWith("privacy.", StringComparison.Ordinal))
                throw new ArgumentException($"metric name '{name}' is reserved for the privacy budget", nameof(Metrics));
            if (!double.IsFinite(value) || Math.Abs(value) > 1e15)
                throw new ArgumentOutOfRangeException(nameof(Metrics), value, $"metric '{name}' must be a finite number of at most 1e15 in size");
            metrics[name] = TrainingPrivacy.ToDecimal(value);
        }
        metrics[DpMetric] = Privacy.IsNone ? 0m : 1m;
        if (!Privacy.IsNone) metrics[DeltaMetric] = Privacy.Delta!.Value;
        return new TrainingMetadata(DataFingerprint, metrics, Privacy.Epsilon ?? 0m);
    }

    /// <summary>The metadata JSON <c>register</c> takes.</summary>
    public string ToContractJson() => JsonSerializer.Serialize(ToContractMetadata());

    /// <summary>Reads back what <see cref="ToContractMetadata"/> wrote (metadata written otherwise: epsilon &gt; 0 means DP with δ unknown = 0).</summary>
    public static TrainingSummary FromContractMetadata(TrainingMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var dp = metadata.Metrics.TryGetValue(DpMetric, out var flag) ? flag != 0 : metadata.Epsilon > 0;
        var privacy = dp ? TrainingPrivacy.Dp((double)metadata.Epsilon, (double)metadata.Metrics.GetValueOrDefault(DeltaMetric)) : TrainingPrivacy.None;
        var metrics = metadata.Metrics.Where(m => !m.Key.StartsWith("privacy.", StringComparison.Ordinal))
            .ToDictionary(m => m.Key, m => (double)m.Value, StringComparer.Ordinal);
        return new TrainingSummary(metadata.DatasetFingerprint, privacy, metrics);
    }
}

/// <summary>
/// The fingerprint of a training set: the SHA-256 of the data file and the SHA-256 of the loader options that shaped it
/// (which columns were dropped, the label, the time order...), as <c>data-sha256:&lt;hex&gt;;loader-sha256:&lt;hex&gt;</c>.
/// The same file read with other options gives another fingerprint.
/// </summary>
public static class DataFingerprint
{
    /// <summary>The fingerprint of <paramref name="dataPath"/> read with <paramref name="options"/> (canonical JSON of the options).</summary>
    public static string Compute(string dataPath, DatasetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Compute(dataPath, JsonSerializer.Serialize(options));
    }

    /// <summary>The fingerprint of <paramref name="dataPath"/> with loader options given as canonical text.</summary>
    public static string Compute(string dataPath, string loaderOptions)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataPath);
        ArgumentNullException.ThrowIfNull(loaderOptions);
        if (!File.Exists(dataPath)) throw new FileNotFoundException($"training data file {dataPath} does not exist", dataPath);
        return $"data-sha256:{ModelAttestor.HashFile(dataPath)};loader-sha256:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(loaderOptions)))}";
    }
}
