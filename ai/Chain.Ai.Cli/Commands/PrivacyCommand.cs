using System.CommandLine;
using System.Globalization;
using Chain.Ai.Privacy;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai privacy epsilon</c>: the (epsilon, delta) of DP-SGD with Poisson sampling rate q, noise multiplier sigma
/// and a number of steps, by the RDP accountant, with both conversions and the best order; or, given
/// <c>--target-epsilon</c> instead of <c>--sigma</c>, the smallest noise multiplier that reaches it.
/// Exit codes: 0 done, 1 the accountant could not compute, 2 bad arguments (a message on stderr).
/// </summary>
public static class PrivacyCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var q = new Option<string>("--q") { Description = "Poisson sampling rate per step, in (0, 1] (expected batch / N).", Required = true };
        var sigma = new Option<string>("--sigma") { Description = "Noise multiplier (noise std / clipping norm), > 0." };
        var target = new Option<string>("--target-epsilon") { Description = "Instead of --sigma: print the noise multiplier reaching this epsilon." };
        var steps = new Option<string>("--steps") { Description = "Number of DP-SGD steps, >= 1.", Required = true };
        var delta = new Option<string>("--delta") { Description = "Delta, in (0, 1).", DefaultValueFactory = _ => "1e-5" };
        var epsilon = new Command("epsilon", "Epsilon of DP-SGD (sampled Gaussian mechanism, RDP accountant, Opacus' default orders); "
                                             + "or the noise multiplier for --target-epsilon.")
        {
            q, sigma, target, steps, delta,
        };
        epsilon.SetAction(parse => Run(stdout, stderr, parse.GetValue(q), parse.GetValue(sigma), parse.GetValue(target),
            parse.GetValue(steps), parse.GetValue(delta)));
        return new Command("privacy", "Differential privacy of DP-SGD training.") { epsilon };
    }

    private static int Run(TextWriter stdout, TextWriter stderr, string? qText, string? sigmaText, string? targetText, string? stepsText,
        string? deltaText)
    {
        try
        {
            var q = Number("--q", qText);
            if (!(q > 0 && q <= 1)) throw new UsageException($"--q must be in (0, 1], not {Show(q)}");
            var stepsValue = Number("--steps", stepsText);
            if (stepsValue < 1 || stepsValue != Math.Floor(stepsValue) || stepsValue > long.MaxValue / 2)
                throw new UsageException($"--steps must be a whole number >= 1, not {stepsText}");
            var steps = (long)stepsValue;
            var delta = Number("--delta", deltaText);
            if (!(delta > 0 && delta < 1)) throw new UsageException($"--delta must be in (0, 1), not {Show(delta)}");
            if ((sigmaText is null) == (targetText is null))
                throw new UsageException("give exactly one of --sigma (to get epsilon) and --target-epsilon (to get sigma)");

            var lines = new List<string>
            {
                $"sampling rate q:   {Show(q)}",
                $"steps:             {steps.ToString(CultureInfo.InvariantCulture)}",
                $"delta:             {Show(delta)}",
            };
            if (sigmaText is not null)
            {
                var sigma = Number("--sigma", sigmaText);
                if (!(sigma > 0) || double.IsInfinity(sigma)) throw new UsageException($"--sigma must be a number > 0, not {Show(sigma)}");
                var improved = RdpAccountant.Epsilon(q, sigma, steps, delta);
                var classic = RdpAccountant.Epsilon(q, sigma, steps, delta, DpConversion.Classic);
                lines.Add($"noise multiplier:  {Show(sigma)}");
                lines.Add($"epsilon:           {Show(improved.Epsilon)} (order {Show(improved.OptimalOrder)}, improved conversion, the default)");
                lines.Add($"epsilon, classic:  {Show(classic.Epsilon)} (order {Show(classic.OptimalOrder)}, eps = rdp - log(delta)/(alpha-1))");
            }
            else
            {
                var targetEpsilon = Number("--target-epsilon", targetText);
                if (!(targetEpsilon > 0) || double.IsInfinity(targetEpsilon))
                    throw new UsageException($"--target-epsilon must be a number > 0, not {Show(targetEpsilon)}");
                var improved = RdpAccountant.NoiseMultiplierFor(targetEpsilon, delta, q, steps);
                var classic = RdpAccountant.NoiseMultiplierFor(targetEpsilon, delta, q, steps, DpConversion.Classic);
                var reached = RdpAccountant.Epsilon(q, improved, steps, delta);
                lines.Add($"target epsilon:    {Show(targetEpsilon)}");
                lines.Add($"noise multiplier:  {Show(improved)} (improved conversion, the default; epsilon {Show(reached.Epsilon)} "
                          + $"at order {Show(reached.OptimalOrder)})");
                lines.Add($"with classic:      {Show(classic)}");
            }
            foreach (var line in lines) stdout.WriteLine(line);
            return Program.Ok;
        }
        catch (Exception e) when (e is UsageException or ArgumentOutOfRangeException)
        {
            var message = e is ArgumentOutOfRangeException a ? a.Message.Split(" (Parameter")[0] : e.Message;
            stderr.WriteLine($"error: {message}");
            return Program.Error;
        }
        catch (InvalidOperationException e)
        {
            // The RDP series lost precision (never seen for sigma >= 0.05): say so rather than print a wrong number.
            stderr.WriteLine($"error: {e.Message}");
            return Program.CheckFailed;
        }
    }

    private static double Number(string option, string? text)
    {
        if (text is null) throw new UsageException($"{option} is required");
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value))
            throw new UsageException($"{option} '{text}' is not a number");
        return value;
    }

    private static string Show(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    private sealed class UsageException(string message) : Exception(message);
}
