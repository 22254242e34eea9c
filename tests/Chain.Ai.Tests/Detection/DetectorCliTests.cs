using Chain.Ai.Cli;

namespace Chain.Ai.Tests.Detection;

/// <summary>chain-ai train / evaluate / zero-day in-process: exit codes and one-line errors.</summary>
public sealed class DetectorCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-detector-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRun.Run(args);

    private string[] SyntheticData(string label = "Label") =>
        ["--data", SyntheticIomt.WriteFile(_dir), "--label", label, "--family", "Category", "--drop", "Id", "--vitals", "v1,v2"];

    private static readonly string[] Quick = ["--epochs", "4", "--hidden", "8", "--seed", "3"];

    [Fact]
    public async Task Train_then_evaluate_on_a_synthetic_file_exits_0_and_agrees()
    {
        var model = Path.Combine(_dir, "model.bin");
        var (code, stdout, stderr) = await Run(["train", .. SyntheticData(), .. Quick, "--out", model]);
        Assert.True(code == 0, stderr);
        Assert.Contains("auroc:", stdout, StringComparison.Ordinal);
        Assert.Contains("chronological", stdout, StringComparison.Ordinal);
        Assert.Contains("epoch   1:", stderr, StringComparison.Ordinal); // progress goes to stderr
        Assert.True(File.Exists(model));

        var (evalCode, evalOut, evalErr) = await Run(["evaluate", .. SyntheticData(), "--model", model]);
        Assert.True(evalCode == 0, evalErr);
        string Line(string text, string key) => text.Split('\n').First(l => l.StartsWith(key, StringComparison.Ordinal));
        Assert.Equal(Line(stdout, "auroc:"), Line(evalOut, "auroc:"));
        Assert.Equal(Line(stdout, "f1:"), Line(evalOut, "f1:"));
    }

    [Fact]
    public async Task Zero_day_prints_a_row_per_family_for_both_detectors()
    {
        var (code, stdout, stderr) = await Run(["zero-day", .. SyntheticData(), .. Quick, "--max-fpr", "0.05"]);
        Assert.True(code == 0, stderr);
        var rows = stdout.Split('\n').Where(l => l.StartsWith("without family", StringComparison.Ordinal)
                                                 || l.StartsWith("all known", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, rows.Length);
        Assert.Equal(2, rows.Count(r => r.Contains(SyntheticIomt.Spoofing, StringComparison.Ordinal)));
        Assert.Equal(2, rows.Count(r => r.Contains(SyntheticIomt.Alteration, StringComparison.Ordinal)));
        Assert.Contains("training without Spoofing", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_minimum_check_exits_1()
    {
        var model = Path.Combine(_dir, "model.bin");
        var (code, _, stderr) = await Run(["train", .. SyntheticData(), .. Quick, "--out", model, "--min-auroc", "1.01"]);
        Assert.Equal(Program.CheckFailed, code);
        Assert.Contains("check failed", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_column_exits_2_with_one_line()
    {
        var (code, _, stderr) = await Run(["train", .. SyntheticData(label: "Nope"), "--out", Path.Combine(_dir, "m.bin")]);
        Assert.Equal(Program.Error, code);
        Assert.Contains("'Nope' is not in the header", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task A_missing_data_file_exits_2()
    {
        var (code, _, stderr) = await Run(["zero-day", "--data", Path.Combine(_dir, "absent.csv")]);
        Assert.Equal(Program.Error, code);
        Assert.Contains("no such file", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_data_file_exits_2()
    {
        var bad = Path.Combine(_dir, "bad.csv");
        await File.WriteAllTextAsync(bad, "Label,Category,x\n0,normal,1\n1,Spoofing,not-a-number\n");
        var (code, _, stderr) = await Run(["train", "--data", bad, "--family", "Category", "--drop", "none", "--vitals", "none", "--out", Path.Combine(_dir, "m.bin")]);
        Assert.Equal(Program.Error, code);
        Assert.Contains("is not a number", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // no stack trace
    }

    [Fact]
    public async Task A_corrupt_or_missing_model_exits_2()
    {
        var model = Path.Combine(_dir, "junk.bin");
        await File.WriteAllTextAsync(model, "not a model");
        var (code, _, stderr) = await Run(["evaluate", .. SyntheticData(), "--model", model]);
        Assert.Equal(Program.Error, code);
        Assert.Contains("not a Chain detector model", stderr, StringComparison.Ordinal);
        var (absent, _, _) = await Run(["evaluate", .. SyntheticData(), "--model", Path.Combine(_dir, "none.bin")]);
        Assert.Equal(Program.Error, absent);
    }

    [Fact]
    public async Task Bad_option_values_exit_2()
    {
        var (features, _, _) = await Run(["train", .. SyntheticData(), "--features", "everything", "--out", "m.bin"]);
        Assert.Equal(Program.Error, features);
        var (epochs, _, err) = await Run(["train", .. SyntheticData(), "--epochs", "0", "--out", Path.Combine(_dir, "m.bin")]);
        Assert.Equal(Program.Error, epochs);
        Assert.Contains("Epochs", err, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_data_file_is_found_by_walking_up()
    {
        var root = Directory.CreateDirectory(Path.Combine(_dir, "a", "b", "c")).FullName;
        Assert.Null(DataArguments.FindDefaultData(root));
        var file = Path.Combine(_dir, DataArguments.DefaultDataRelativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, "x");
        Assert.Equal(file, DataArguments.FindDefaultData(Path.Combine(_dir, "nowhere"), root));
    }
}
