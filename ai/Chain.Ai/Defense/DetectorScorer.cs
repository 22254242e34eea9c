using Chain.Ai.Detection;

namespace Chain.Ai.Defense;

/// <summary>The neural detector as the responder's scorer: its attack probability for one event's raw features (no family head).</summary>
public sealed class DetectorScorer(Detector detector) : IThreatScorer
{
    private readonly Detector _detector = detector ?? throw new ArgumentNullException(nameof(detector));

    public int FeatureCount => _detector.FeatureNames.Count;

    public int FamilyCount => 0;

    public ThreatScore Score(ReadOnlySpan<float> rawFeatures) => new(_detector.AttackProbability(rawFeatures), null);
}
