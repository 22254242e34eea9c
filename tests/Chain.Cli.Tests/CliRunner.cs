using System.Text.Json;

namespace Chain.Cli.Tests;

public sealed record CliResult(int Code, string Out, string Err)
{
    public JsonElement Json()
    {
        using var doc = JsonDocument.Parse(Out);
        return doc.RootElement.Clone();
    }

    public override string ToString() => $"exit {Code}\nstdout:\n{Out}\nstderr:\n{Err}";
}

public static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(args, stdout, stderr);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Asserts exit code 2 and exactly one line on stderr starting with "error: ".</summary>
    public static void AssertError(CliResult r, string? contains = null)
    {
        Assert.True(r.Code == 2, r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
        if (contains is not null) Assert.Contains(contains, lines[0], StringComparison.OrdinalIgnoreCase);
    }
}
