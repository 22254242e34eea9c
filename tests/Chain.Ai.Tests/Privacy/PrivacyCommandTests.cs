using System.Globalization;
using Chain.Ai.Privacy;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Privacy;

public sealed class PrivacyCommandTests(ITestOutputHelper output)
{
    private async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Cli.Program.RunAsync(args, stdout, stderr);
        output.WriteLine($"chain-ai {string.Join(' ', args)} -> {code}\n{stdout}{stderr}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Epsilon_prints_both_conversions_and_the_best_order()
    {
        var (code, text, _) = await Run("privacy", "epsilon", "--q", "0.01", "--sigma", "1.1", "--steps", "10000", "--delta", "1e-5");
        Assert.Equal(0, code);
        var improved = RdpAccountant.Epsilon(0.01, 1.1, 10000, 1e-5);
        var classic = RdpAccountant.Epsilon(0.01, 1.1, 10000, 1e-5, DpConversion.Classic);
        string G(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        Assert.Contains($"epsilon:           {G(improved.Epsilon)} (order {G(improved.OptimalOrder)}, improved conversion, the default)",
            text, StringComparison.Ordinal);
        Assert.Contains($"epsilon, classic:  {G(classic.Epsilon)} (order {G(classic.OptimalOrder)}", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Target_epsilon_prints_the_noise_multiplier()
    {
        var (code, text, _) = await Run("privacy", "epsilon", "--q", "0.04", "--target-epsilon", "8", "--steps", "2250");
        Assert.Equal(0, code);
        var sigma = RdpAccountant.NoiseMultiplierFor(8, 1e-5, 0.04, 2250);
        Assert.Contains($"noise multiplier:  {sigma.ToString("G6", CultureInfo.InvariantCulture)} (improved", text, StringComparison.Ordinal);
        Assert.Contains("with classic:", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--q 0 --sigma 1 --steps 10", "--q must be in (0, 1]")]
    [InlineData("--q 1.5 --sigma 1 --steps 10", "--q must be in (0, 1]")]
    [InlineData("--q 0.1 --sigma 0 --steps 10", "--sigma must be a number > 0")]
    [InlineData("--q 0.1 --sigma -2 --steps 10", "--sigma must be a number > 0")]
    [InlineData("--q 0.1 --sigma 1 --steps 0", "--steps must be a whole number >= 1")]
    [InlineData("--q 0.1 --sigma 1 --steps 2.5", "--steps must be a whole number >= 1")]
    [InlineData("--q 0.1 --sigma 1 --steps 10 --delta 1", "--delta must be in (0, 1)")]
    [InlineData("--q 0.1 --sigma 1 --steps 10 --delta 0", "--delta must be in (0, 1)")]
    [InlineData("--q abc --sigma 1 --steps 10", "--q 'abc' is not a number")]
    [InlineData("--q 0.1 --steps 10", "give exactly one of --sigma")]
    [InlineData("--q 0.1 --sigma 1 --target-epsilon 2 --steps 10", "give exactly one of --sigma")]
    [InlineData("--q 0.1 --target-epsilon 0 --steps 10", "--target-epsilon must be a number > 0")]
    [InlineData("--q 1 --target-epsilon 1e-9 --steps 1000000000", "no noise multiplier up to 1e6")]
    [InlineData("--sigma 1 --steps 10", "--q")]
    public async Task Bad_values_exit_2_with_a_message(string args, string message)
    {
        var (code, text, err) = await Run(["privacy", "epsilon", .. args.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.DoesNotContain("epsilon:", text, StringComparison.Ordinal);
    }
}
