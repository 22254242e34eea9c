using System.Globalization;
using System.Text;
using Chain.Ai.Data;

namespace Chain.Ai.Tests.Detection;

/// <summary>
/// A small synthetic IoMT capture in time order, made for the tests (no real data): four network features, two vital
/// signs, benign traffic with bursts of 15 attacks every 100 rows, alternating between two families. "Spoofing" shifts
/// the network features n1 and n2; "Alteration" shifts the vital v1 and the network feature n3. Every part of the
/// chronological 70/15/15 split holds both families.
/// </summary>
internal static class SyntheticIomt
{
    public const string Spoofing = "Spoofing";
    public const string Alteration = "Alteration";

    public static DatasetOptions Options { get; } = new()
    {
        LabelColumn = "Label",
        FamilyColumn = "Category",
        NormalValue = "normal",
        Drop = ["Id"],
        VitalColumns = ["v1", "v2"],
    };

    public static string Csv(int rows = 2000, int seed = 7, double shift = 3)
    {
        var random = new Random(seed);
        var text = new StringBuilder("Id,n1,n2,n3,n4,v1,v2,Category,Label\n");
        var burst = 0;
        for (var i = 0; i < rows; i++)
        {
            var inBurst = i % 100 >= 50 && i % 100 < 65;
            if (i % 100 == 50) burst++;
            var family = !inBurst ? "normal" : burst % 2 == 1 ? Spoofing : Alteration;
            var n = new double[4];
            for (var j = 0; j < 4; j++) n[j] = Gaussian(random);
            double v1 = 37 + 0.5 * Gaussian(random), v2 = 95 + 2 * Gaussian(random);
            if (family == Spoofing)
            {
                n[0] += shift;
                n[1] += shift;
            }
            else if (family == Alteration)
            {
                v1 += shift * 0.5;
                n[2] += shift * 0.7;
            }
            text.Append(CultureInfo.InvariantCulture, $"{i},{n[0]:F4},{n[1]:F4},{n[2]:F4},{n[3]:F4},{v1:F3},{v2:F3},{family},{(inBurst ? 1 : 0)}\n");
        }
        return text.ToString();
    }

    public static TabularDataset Load(int rows = 2000, int seed = 7, double shift = 3) =>
        TabularDataset.Load(new StringReader(Csv(rows, seed, shift)), Options, "synthetic");

    public static string WriteFile(string directory, int rows = 2000, int seed = 7)
    {
        var path = Path.Combine(directory, "synthetic.csv");
        File.WriteAllText(path, Csv(rows, seed));
        return path;
    }

    private static double Gaussian(Random random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
