using Chain.Ai.Data;

namespace Chain.Ai.Tests.Data;

public sealed class DatasetTests
{
    private static readonly DatasetOptions Options = new()
    {
        LabelColumn = "Label",
        FamilyColumn = "Attack Category",
        Drop = ["Mac"],
        VitalColumns = ["SpO2"],
    };

    private const string Csv =
        "Mac,SrcBytes, SpO2 ,Attack Category,Label\r\n" +
        "aa,496,98,normal,0\r\n" +
        "bb,500,97,Spoofing,1\r\n" +
        "aa,\"1,5e2\",96.5,  normal  ,0\r\n";

    private static TabularDataset Load(string csv, DatasetOptions? options = null) =>
        TabularDataset.Load(new StringReader(csv), options ?? Options, "test.csv");

    [Fact]
    public void Features_labels_and_families_load_with_the_dropped_columns_gone()
    {
        // The quoted field "1,5e2" is one field, which is not a number: row 4 fails. Without it:
        var d = Load(Csv.Replace("\"1,5e2\"", "1.5e2", StringComparison.Ordinal));
        Assert.Equal(["SrcBytes", "SpO2"], d.FeatureNames);
        Assert.Equal([false, true], d.IsVital);
        Assert.Equal(3, d.Count);
        Assert.Equal([0, 1, 0], d.Labels);
        Assert.Equal(["normal", "Spoofing", "normal"], d.Families);
        Assert.Equal(150f, d.Rows[2][0]);
        Assert.Equal(["Spoofing"], d.AttackFamilies());
        Assert.Equal(["SpO2"], d.Select(FeatureGroup.Vitals).FeatureNames);
        Assert.Equal(["SrcBytes"], d.Select(FeatureGroup.Network).FeatureNames);
    }

    [Theory]
    [InlineData("", "the file is empty")]
    [InlineData("Mac,SrcBytes,SpO2,Attack Category,Label\n", "no data rows")]
    [InlineData("Mac,SrcBytes,SpO2,Label\naa,1,2,0\n", "family column 'Attack Category' is not in the header")]
    [InlineData("Mac,SrcBytes,SpO2,Attack Category,Label\naa,1,2,normal,0\naa,x7,2,normal,0\n", "row 3, column 'SrcBytes': 'x7' is not a number")]
    [InlineData("Mac,SrcBytes,SpO2,Attack Category,Label\naa,1,2,normal\n", "row 2 has 4 fields, the header has 5")]
    [InlineData("Mac,SrcBytes,SpO2,Attack Category,Label\naa,1,NaN,normal,0\n", "row 2, column 'SpO2': 'NaN' is not a number")]
    [InlineData("Mac,SrcBytes,SpO2,Attack Category,Label\naa,1,2,Spoofing,0\n", "row 2: label 0 disagrees with family 'Spoofing'")]
    [InlineData("SrcBytes,SpO2,Attack Category,Label\n1,2,normal,0\n", "the column 'Mac' to drop is not in the header")]
    [InlineData("Mac,SrcBytes,SrcBytes,Attack Category,Label\n", "column 'SrcBytes' appears twice")]
    [InlineData("Mac,SrcBytes,SpO2,Attack Category,Label\naa,\"1,2,normal,0\n", "a quoted field is not closed")]
    public void Bad_files_are_refused_naming_the_row_and_column(string csv, string expected)
    {
        var e = Assert.Throws<DatasetException>(() => Load(csv));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("test.csv:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_a_clear_error()
    {
        var e = Assert.Throws<DatasetException>(() => TabularDataset.Load("/nonexistent/x.csv", Options));
        Assert.Contains("no such file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_time_column_orders_rows_and_is_never_a_feature()
    {
        var d = Load("t,SrcBytes,SpO2,Attack Category,Label\n3,30,1,normal,0\n1,10,1,Spoofing,1\n2,20,1,normal,0\n",
            Options with { Drop = [], TimeColumn = "t" });
        Assert.Equal(["SrcBytes", "SpO2"], d.FeatureNames);
        Assert.Equal([10f, 20f, 30f], d.Rows.Select(r => r[0]));
        Assert.Equal([1, 0, 0], d.Labels);
    }

    [Fact]
    public void Labels_can_come_from_the_family_alone()
    {
        var d = Load("SrcBytes,SpO2,Kind\n1,2,benign\n3,4,Data Alteration\n",
            new DatasetOptions { LabelColumn = null, FamilyColumn = "Kind", NormalValue = "benign" });
        Assert.Equal([0, 1], d.Labels);
    }

    [Fact]
    public void The_wustl_defaults_drop_every_column_its_readme_lists_as_leaking_or_constant()
    {
        string[] leaks = ["SrcMac", "Flgs", "Packet_num", "Sport"];
        string[] constants = ["Dir", "SrcAddr", "DstAddr", "Dport", "DstMac", "SrcGap", "DstGap", "DIntPktAct", "dMinPktSz", "Trans"];
        Assert.Equal([.. leaks, .. constants], DatasetOptions.WustlEhms2020.Drop);
        Assert.Equal(8, DatasetOptions.WustlEhms2020.VitalColumns.Count);
    }

    [Fact]
    public void The_shared_wustl_file_loads_with_the_leaks_dropped()
    {
        var path = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "wustl-ehms-2020", "wustl-ehms-2020_with_attacks_categories.csv"));
        if (!File.Exists(path))
        {
            // The dataset lives outside the repository; a clone without it checks everything else above.
            Console.WriteLine($"skipping: {path} is absent");
            return;
        }
        var d = TabularDataset.Load(path, DatasetOptions.WustlEhms2020);
        Assert.Equal(16_318, d.Count);
        Assert.Equal(2_046, d.Labels.Count(l => l == 1));
        Assert.Equal(43 - 14, d.FeatureNames.Count);
        Assert.DoesNotContain("SrcMac", d.FeatureNames);
        Assert.Equal(["Data Alteration", "Spoofing"], d.AttackFamilies().Order(StringComparer.Ordinal));
        Assert.Equal(8, d.Select(FeatureGroup.Vitals).FeatureNames.Count);
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Chain.sln not found above the test's folder");
    }
}

public sealed class SplitTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(12345)]
    public void A_blocked_split_is_contiguous_blocks_covers_every_row_once_and_repeats_for_its_seed(int seed)
    {
        var split = Splits.Blocked(1000, seed, blocks: 20);
        var all = split.Train.Concat(split.Validation).Concat(split.Test).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 1000), all);
        // 20 blocks of 50 rows: every part is made of whole blocks.
        foreach (var part in new[] { split.Train, split.Validation, split.Test })
        {
            Assert.NotEmpty(part);
            Assert.All(part.GroupBy(i => i / 50), g => Assert.Equal(50, g.Count()));
        }
        Assert.Equal(14 * 50, split.Train.Count);
        var again = Splits.Blocked(1000, seed, blocks: 20);
        Assert.Equal(split.Train, again.Train);
        Assert.Equal(split.Validation, again.Validation);
        Assert.Equal(split.Test, again.Test);
    }

    [Fact]
    public void Different_seeds_give_different_blocked_splits()
    {
        var a = Splits.Blocked(1000, 1);
        var b = Splits.Blocked(1000, 2);
        Assert.False(a.Test.SequenceEqual(b.Test));
    }

    [Fact]
    public void A_chronological_split_trains_on_the_past_and_tests_on_the_future()
    {
        var s = Splits.Chronological(100);
        Assert.Equal(Enumerable.Range(0, 70), s.Train);
        Assert.Equal(Enumerable.Range(70, 15), s.Validation);
        Assert.Equal(Enumerable.Range(85, 15), s.Test);
    }

    [Fact]
    public void The_scaler_is_fitted_on_training_rows_only()
    {
        float[][] train = [[1, 5], [3, 5]];
        var scaler = StandardScaler.Fit(train);
        Assert.Equal([2f, 5f], scaler.Mean);
        Assert.Equal([1f, 1f], scaler.Scale); // the constant feature keeps scale 1
        Assert.Equal([8f, 95f], scaler.Transform([10f, 100f]));
    }
}
