using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Chain.Ai.Federated;

namespace Chain.Ai.Cli.Commands;

/// <summary>
/// <c>chain-ai fl secagg</c>: one in-process round of secure aggregation (Bonawitz et al. 2017) on seeded random vectors
/// in [−clip, clip]; checks the result against the plain sum of the included clients' fixed-point encodings (exact, in
/// Z_{2^32}) and of their floats (within the encoding's rounding), and prints the overhead against plain summation:
/// bytes per client and per server, client and server compute. <c>--drop K</c> clients drop after sharing their keys
/// (before masking), <c>--drop-after-masking K</c> after sending their masked input. Times are in-process (no network),
/// after a tiny warm-up round, with all clients run one after another on one thread.
/// Exit codes: 0 the sum is right, 1 it is not or the round failed (too few clients left), 2 bad arguments.
/// </summary>
public static class FlSecAggCommand
{
    private const long MaxTotalValues = 1L << 27;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var clients = new Option<int>("--clients") { Description = "Clients n, 2 to 255.", DefaultValueFactory = _ => 10 };
        var parameters = new Option<int>("--params") { Description = "Parameters per client vector, >= 1.", DefaultValueFactory = _ => 100_000 };
        var threshold = new Option<int>("--threshold") { Description = "Shamir threshold t, n/2 < t <= n (default: floor(n/2) + 1)." };
        var drop = new Option<int>("--drop") { Description = "Clients that drop after sharing keys, before masking (their pairwise masks are removed).", DefaultValueFactory = _ => 0 };
        var dropAfter = new Option<int>("--drop-after-masking") { Description = "Clients that drop after sending their masked input (their input counts).", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the inputs, of which clients drop and of every client's secrets.", DefaultValueFactory = _ => 1 };
        var clip = new Option<double>("--clip") { Description = "Inputs are uniform in [-clip, clip], the fixed-point range.", DefaultValueFactory = _ => 1.0 };
        var command = new Command("secagg", "Secure aggregation (Bonawitz et al. 2017) in-process: checks the masked sum against the plain "
                                            + "sum and prints the overhead.")
        {
            clients, parameters, threshold, drop, dropAfter, seed, clip,
        };
        command.SetAction(parse => Run(stdout, stderr, parse.GetValue(clients), parse.GetValue(parameters),
            parse.GetResult(threshold) is null ? null : parse.GetValue(threshold), parse.GetValue(drop), parse.GetValue(dropAfter),
            parse.GetValue(seed), parse.GetValue(clip)));
        return command;
    }

    private static int Run(TextWriter stdout, TextWriter stderr, int n, int length, int? thresholdOption, int drop, int dropAfter, int seed,
        double clip)
    {
        int threshold;
        try
        {
            if (n is < 2 or > SecureAggregationParameters.MaxClients)
                throw new UsageException($"--clients must be 2 to {SecureAggregationParameters.MaxClients}, not {n}");
            if (length < 1) throw new UsageException($"--params must be >= 1, not {length}");
            if ((long)n * length > MaxTotalValues)
                throw new UsageException($"--clients x --params must be at most {MaxTotalValues} (memory), not {(long)n * length}");
            threshold = thresholdOption ?? SecureAggregationParameters.MajorityThreshold(n);
            if (threshold <= n / 2 || threshold > n) throw new UsageException($"--threshold must be in {n / 2 + 1}..{n} for {n} clients, not {threshold}");
            if (drop < 0 || dropAfter < 0 || drop + dropAfter > n)
                throw new UsageException($"--drop and --drop-after-masking must be >= 0 and add up to at most --clients ({n})");
            if (!(clip > 0) || !double.IsFinite(clip) || clip > float.MaxValue) throw new UsageException($"--clip must be a number > 0, not {clip}");
            _ = new RingFixedPoint((float)clip, n);
        }
        catch (Exception e) when (e is UsageException or ArgumentOutOfRangeException)
        {
            stderr.WriteLine($"error: {(e is ArgumentOutOfRangeException a ? a.Message.Split(" (Parameter")[0] : e.Message)}");
            return Program.Error;
        }

        var rng = new Random(seed);
        var inputs = Enumerable.Range(0, n).Select(_ =>
            Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() * 2 - 1) * clip)).ToArray()).ToArray();
        var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToList();
        var dropBefore = order.Take(drop).ToHashSet();
        var dropAfterSet = order.Skip(drop).Take(dropAfter).ToHashSet();
        stdout.WriteLine($"clients {n}, threshold {threshold}, parameters {length}, clip {Show(clip)}, seed {seed}");
        stdout.WriteLine($"dropped before masking: [{string.Join(", ", dropBefore.Order())}]; after masking: [{string.Join(", ", dropAfterSet.Order())}]");

        // A tiny warm-up round first, so the figures are not the JIT's.
        SecureAggregation.Run([new float[8], new float[8], new float[8]], 2, new HashSet<int>(), new HashSet<int> { 0 }, seed);
        SecureAggregationRun run;
        try
        {
            run = SecureAggregation.Run(inputs, threshold, dropBefore, dropAfterSet, seed, (float)clip);
        }
        catch (SecureAggregationThresholdException e)
        {
            stderr.WriteLine($"the round failed (as it must with fewer than t clients): {e.Message}");
            return Program.CheckFailed;
        }

        var included = run.Included;
        var codec = new RingFixedPoint((float)clip, n);
        var expectedRing = RingFixedPoint.RingSum(included.Select(i => codec.Encode(inputs[i])), length);
        var ringExact = expectedRing.AsSpan().SequenceEqual(run.RingSum);
        // Plain summation, the best of 5 (the first runs are the JIT's), for the comparison.
        var plain = new float[length];
        var plainTime = TimeSpan.MaxValue;
        for (var repeat = 0; repeat < 5; repeat++)
        {
            var watch = Stopwatch.StartNew();
            Array.Clear(plain);
            foreach (var i in included)
            {
                var x = inputs[i];
                for (var j = 0; j < length; j++) plain[j] += x[j];
            }
            if (watch.Elapsed < plainTime) plainTime = watch.Elapsed;
        }
        var maxError = 0.0;
        for (var j = 0; j < length; j++) maxError = Math.Max(maxError, Math.Abs((double)plain[j] - run.Sum[j]));
        var tolerance = included.Count * (codec.Resolution / 2 + clip * 1e-6);
        var floatOk = maxError <= tolerance;

        var s = run.Stats;
        stdout.WriteLine($"included clients:       {included.Count} [{string.Join(", ", included)}]");
        stdout.WriteLine($"fixed point:            2^-{codec.FractionalBits} resolution in Z_2^32");
        stdout.WriteLine($"ring sum exact:         {(ringExact ? "yes" : "NO")}");
        stdout.WriteLine($"max |secure - plain|:   {Show(maxError)} (tolerance {Show(tolerance)}: {(floatOk ? "ok" : "EXCEEDED")})");
        stdout.WriteLine($"bytes per client:       max {s.MaxClientBytesSent:N0}, mean {Enumerable.Range(0, n).Average(s.BytesSentByClient):N0} "
                         + $"(plain {s.PlainBytesPerClient:N0}; x{(double)s.MaxClientBytesSent / s.PlainBytesPerClient:F3})");
        stdout.WriteLine($"server bytes sent:      {s.ServerBytesSent:N0}");
        foreach (var p in s.Phases)
        {
            stdout.WriteLine($"  {p.Phase,-22} client max {p.ClientBytesSent.Max(),12:N0} B, {Ms(p.ClientTime.Max())} ms;  "
                             + $"server {p.ServerBytesSent,12:N0} B, {Ms(p.ServerTime)} ms");
        }
        stdout.WriteLine($"client compute:         mean {Ms(TimeSpan.FromTicks(s.TotalClientTime.Ticks / n))} ms, max {Ms(s.MaxClientTime)} ms");
        stdout.WriteLine($"server compute:         {Ms(s.ServerTime)} ms (plain summation {Ms(plainTime)} ms, "
                         + $"best of 5; x{s.ServerTime.TotalMilliseconds / Math.Max(plainTime.TotalMilliseconds, 1e-6):F0})");
        if (ringExact && floatOk)
        {
            stdout.WriteLine("ok: the secure sum equals the plain sum of the included clients");
            return Program.Ok;
        }
        stderr.WriteLine("check failed: the secure sum differs from the plain sum");
        return Program.CheckFailed;
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture);

    private static string Show(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    private sealed class UsageException(string message) : Exception(message);
}
