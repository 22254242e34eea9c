using System.CommandLine;
using Chain.Ai.Data;

namespace Chain.Ai.Cli;

/// <summary>
/// The options every data command shares (<c>--data --label --family --normal --drop --time --vitals --features
/// --seed</c>), with WUSTL-EHMS-2020's defaults. Add them with <see cref="AddTo"/>; read them back with
/// <see cref="Resolve"/>, <see cref="Load"/>, <see cref="Features"/> and <see cref="Seed"/>. For the list options
/// (<c>--drop</c>, <c>--vitals</c>) and the column options, the value <c>none</c> (or an empty string) means none.
/// </summary>
public static class DataArguments
{
    /// <summary>Where the shared WUSTL-EHMS-2020 file lives relative to an ancestor folder of the repository.</summary>
    public const string DefaultDataRelativePath = "shared/data/wustl-ehms-2020/wustl-ehms-2020_with_attacks_categories.csv";

    public const string DataOption = "--data";
    public const string LabelOption = "--label";
    public const string FamilyOption = "--family";
    public const string NormalOption = "--normal";
    public const string DropOption = "--drop";
    public const string TimeOption = "--time";
    public const string VitalsOption = "--vitals";
    public const string FeaturesOption = "--features";
    public const string SeedOption = "--seed";

    /// <summary>Adds the shared data options (new instances) to <paramref name="command"/>.</summary>
    public static void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var wustl = DatasetOptions.WustlEhms2020;
        command.Add(new Option<string?>(DataOption)
        {
            Description = "The CSV file (header row). Default: " + DefaultDataRelativePath +
                          ", found by walking up from the current folder and from the program's folder.",
        });
        command.Add(new Option<string>(LabelOption)
        {
            Description = "The binary label column (0 = benign), or 'none' to derive labels from the family column.",
            DefaultValueFactory = _ => wustl.LabelColumn ?? "none",
        });
        command.Add(new Option<string>(FamilyOption)
        {
            Description = "The attack-family column, or 'none'.",
            DefaultValueFactory = _ => wustl.FamilyColumn ?? "none",
        });
        command.Add(new Option<string>(NormalOption)
        {
            Description = "The family value of benign rows.",
            DefaultValueFactory = _ => wustl.NormalValue,
        });
        command.Add(new Option<string>(DropOption)
        {
            Description = "Comma-separated columns never used as features, or 'none'. Default: the WUSTL-EHMS-2020 " +
                          "leaking and constant columns.",
            DefaultValueFactory = _ => string.Join(",", wustl.Drop),
        });
        command.Add(new Option<string>(TimeOption)
        {
            Description = "A column giving the time order (ordering only, never a feature), or 'none' for file order.",
            DefaultValueFactory = _ => wustl.TimeColumn ?? "none",
        });
        command.Add(new Option<string>(VitalsOption)
        {
            Description = "Comma-separated vital-sign columns (the rest are network features), or 'none'.",
            DefaultValueFactory = _ => string.Join(",", wustl.VitalColumns),
        });
        command.Add(new Option<string>(FeaturesOption)
        {
            Description = "Which features to use: all, network or vitals.",
            DefaultValueFactory = _ => "all",
        }.AcceptOnlyFromAmong("all", "network", "vitals"));
        command.Add(new Option<int>(SeedOption)
        {
            Description = "Seed for initialisation, shuffling and any blocked split.",
            DefaultValueFactory = _ => 1,
        });
    }

    /// <summary>The data file and how to read it.</summary>
    /// <exception cref="DatasetException">No <c>--data</c> was given and the default file was not found.</exception>
    public static (string Path, DatasetOptions Options) Resolve(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var path = result.GetValue<string?>(DataOption);
        if (string.IsNullOrWhiteSpace(path))
        {
            path = FindDefaultData(Directory.GetCurrentDirectory(), AppContext.BaseDirectory)
                   ?? throw new DatasetException(
                       $"no {DataOption} given and {DefaultDataRelativePath} was not found above {Directory.GetCurrentDirectory()} " +
                       $"or {AppContext.BaseDirectory}; pass {DataOption} FILE");
        }
        var options = new DatasetOptions
        {
            LabelColumn = Column(result.GetValue<string>(LabelOption)),
            FamilyColumn = Column(result.GetValue<string>(FamilyOption)),
            NormalValue = result.GetValue<string>(NormalOption) ?? "normal",
            Drop = List(result.GetValue<string>(DropOption)),
            TimeColumn = Column(result.GetValue<string>(TimeOption)),
            VitalColumns = List(result.GetValue<string>(VitalsOption)),
        };
        return (path, options);
    }

    /// <summary>Resolves and loads the data (in time order).</summary>
    public static (string Path, TabularDataset Data) Load(ParseResult result)
    {
        var (path, options) = Resolve(result);
        return (path, TabularDataset.Load(path, options));
    }

    public static FeatureGroup Features(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.GetValue<string>(FeaturesOption) switch
        {
            "network" => FeatureGroup.Network,
            "vitals" => FeatureGroup.Vitals,
            _ => FeatureGroup.All,
        };
    }

    public static int Seed(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.GetValue<int>(SeedOption);
    }

    /// <summary>The first <see cref="DefaultDataRelativePath"/> found in a folder or an ancestor of one of <paramref name="starts"/>.</summary>
    public static string? FindDefaultData(params string[] starts)
    {
        ArgumentNullException.ThrowIfNull(starts);
        foreach (var start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, DefaultDataRelativePath);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    private static string? Column(string? value) =>
        string.IsNullOrWhiteSpace(value) || value.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) ? null : value.Trim();

    private static string[] List(string? value) =>
        Column(value) is { } v ? [.. v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)] : [];
}
