namespace Chain.Ai.Tests;

/// <summary>Runs one chain-ai command line in-process and returns its exit code, stdout and stderr.</summary>
internal static class CliRun
{
    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Cli.Program.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
