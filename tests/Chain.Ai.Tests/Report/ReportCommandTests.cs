using Chain.Ai.Tests.Detection;

namespace Chain.Ai.Tests.Report;

/// <summary>chain-ai report in-process on a synthetic capture at the quick scale: the document, its sections and its charts.</summary>
public sealed class ReportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRun.Run(args);

    [Fact]
    public async Task The_quick_report_writes_every_section_and_valid_png_charts()
    {
        var data = SyntheticIomt.WriteFile(_dir);
        var output = Path.Combine(_dir, "out");
        var (code, stdout, stderr) = await Run("report", "--data", data, "--family", "Category", "--drop", "Id", "--vitals", "v1,v2",
            "--out", output, "--quick", "--seed", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("EVALUATION.md", stdout, StringComparison.Ordinal);
        Assert.Contains("detector: training on all features", stderr, StringComparison.Ordinal); // progress on stderr

        var md = await File.ReadAllTextAsync(Path.Combine(output, "EVALUATION.md"));
        foreach (var heading in new[] { "## Detector", "## Zero-day", "## Adversarial robustness", "## Differential privacy", "## RL responder" })
            Assert.Contains(heading, md, StringComparison.Ordinal);
        Assert.Contains("Columns removed before anything is fitted: `Id`", md, StringComparison.Ordinal);
        Assert.Contains("| all |", md, StringComparison.Ordinal);
        Assert.Contains("| vital signs |", md, StringComparison.Ordinal);
        Assert.Contains(SyntheticIomt.Spoofing, md, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN | NaN | NaN", md, StringComparison.Ordinal);

        var charts = Directory.GetFiles(output, "*.png");
        Assert.True(charts.Length >= 5, $"charts: {string.Join(", ", charts.Select(Path.GetFileName))}");
        foreach (var chart in charts)
        {
            var bytes = await File.ReadAllBytesAsync(chart);
            Assert.True(bytes.Length > 1000, $"{chart} is too small");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            Assert.Contains($"]({Path.GetFileName(chart)})", md, StringComparison.Ordinal); // every chart is shown in the document
        }
        Assert.Empty(Directory.GetFiles(output, "*.tmp*"));
    }

    [Fact]
    public async Task A_missing_out_option_or_a_bad_data_file_exits_2_with_one_line()
    {
        var (code, _, stderr) = await Run("report", "--data", Path.Combine(_dir, "missing.csv"), "--out", Path.Combine(_dir, "o"));
        Assert.Equal(2, code);
        Assert.Contains("missing.csv", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));

        (code, _, stderr) = await Run("report", "--data", SyntheticIomt.WriteFile(_dir));
        Assert.Equal(2, code);
        Assert.Contains("--out", stderr, StringComparison.Ordinal);
    }
}
