using Chain.Ai.Data;

namespace Chain.Ai.Detection;

/// <summary>A split and a one-line account of how it was chosen (printed beside every result that uses it).</summary>
public sealed record ChosenSplit(Split Split, string Description);

/// <summary>
/// The train / validation / test split every detector command uses, so <c>train</c>, <c>evaluate</c> and
/// <c>zero-day</c> agree on which rows are test rows.
/// <para>
/// Why chronological first: attacks come in bursts (WUSTL-EHMS-2020: 84 attack runs of 17 to 31 events, spread over the
/// whole capture, both families in every tenth of it), so a shuffled row split puts neighbours from one burst on both
/// sides. The chronological 70/15/15 split (train on the past, test on the future) is the most honest, and on WUSTL
/// each part holds both families (train 758 Spoofing / 698 Data Alteration, validation 238 / 49, test 128 / 175). When a
/// dataset's chronological parts miss a family, the split falls back to <see cref="Splits.Blocked"/> (20 contiguous
/// blocks dealt out by the seed, trying seed, seed + 1, ... until every part holds every family).
/// </para>
/// </summary>
public static class DetectionSplit
{
    public const double Train = 0.7;
    public const double Validation = 0.15;
    public const int Blocks = 20;
    private const int Attempts = 100;

    public static ChosenSplit Choose(TabularDataset data, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count < 3 * Blocks) throw new DatasetException($"{data.Count} rows are too few to split (need {3 * Blocks})");
        var chronological = Splits.Chronological(data.Count, Train, Validation);
        if (EveryPartHasEveryFamily(data, chronological))
            return new ChosenSplit(chronological, "chronological 70/15/15 (every part holds every attack family)");
        for (var k = 0; k < Attempts; k++)
        {
            var blocked = Splits.Blocked(data.Count, seed + k, Blocks, Train, Validation);
            if (EveryPartHasEveryFamily(data, blocked))
            {
                return new ChosenSplit(blocked,
                    $"blocked: {Blocks} contiguous blocks dealt 70/15/15 by seed {seed + k} (a chronological part lacked a family)");
            }
        }
        return new ChosenSplit(chronological,
            "chronological 70/15/15 (WARNING: a part lacks an attack family, and no blocked split fixed it)");
    }

    /// <summary>Whether train, validation and test each hold benign rows and every attack family of <paramref name="data"/>.</summary>
    public static bool EveryPartHasEveryFamily(TabularDataset data, Split split)
    {
        var families = data.AttackFamilies();
        foreach (var part in new[] { split.Train, split.Validation, split.Test })
        {
            var present = new HashSet<string>(StringComparer.Ordinal);
            var benign = false;
            foreach (var i in part)
            {
                if (data.Labels[i] == 0) benign = true;
                else present.Add(data.Families[i]);
            }
            if (!benign || families.Any(f => !present.Contains(f))) return false;
        }
        return true;
    }
}
