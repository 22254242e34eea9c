using System.CommandLine;
using System.Globalization;
using Chain.Ai.Torch;
using TorchSharp;

namespace Chain.Ai.Cli;

/// <summary>
/// chain-ai: the IoMT defense agent. <c>doctor</c> (TorchSharp loads), <c>train</c> / <c>evaluate</c> / <c>zero-day</c>
/// (the detector), <c>privacy epsilon</c> (the RDP accountant), <c>attest</c> / <c>check-weights</c> / <c>log-actions</c>
/// (the ledger) and <c>report</c> (EVALUATION.md). Exit codes: 0 done, 1 a check failed, 2 bad arguments or data.
/// </summary>
public static class Program
{
    public const int Ok = 0, CheckFailed = 1, Error = 2;

    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>Runs one command line with its output on <paramref name="stdout"/> and <paramref name="stderr"/> (tests run it in-process).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var root = new RootCommand("chain-ai: train, evaluate and run the IoMT defense agent, attested and logged on a Chain ledger.");
        var doctor = new Command("doctor", "Checks that TorchSharp and libtorch load here: versions, device, the native library and a tiny computation.");
        doctor.SetAction(_ => Doctor(stdout, stderr));
        root.Add(doctor);
        Commands.DetectorCommands.Add(root, stdout, stderr);
        root.Add(Report.ReportCommand.Create(stdout, stderr));
        root.Add(Commands.PrivacyCommand.Create(stdout, stderr));
        Commands.LedgerCommands.AddTo(root, stdout, stderr);
        root.Add(Commands.FlCommand.Create(stdout, stderr));

        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0)
        {
            await stderr.WriteLineAsync($"error: {string.Join("; ", parsed.Errors.Select(e => e.Message))} (see 'chain-ai --help')")
                .ConfigureAwait(false);
            return Error;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Prints what loads and where; exit 1 when TorchSharp does not load or computes wrongly.</summary>
    private static int Doctor(TextWriter stdout, TextWriter stderr)
    {
        var native = TorchRuntime.NativeLibraryPath();
        if (native is null)
        {
            stdout.WriteLine($"native library:  {TorchRuntime.NativeLibraryName} not found under {AppContext.BaseDirectory}");
        }
        else
        {
            var needs = TorchRuntime.NeedsGlibcxxMarkerVersion(native);
            stdout.WriteLine($"native library:  {native}");
            stdout.WriteLine($"{ElfVersionNeeds.GlibcxxMarkerVersion}:  " +
                             (needs ? "still required (the build did not patch this copy)" : "not required (patched by the build)"));
        }

        TorchInfo info;
        try
        {
            info = TorchRuntime.EnsureLoaded();
        }
        catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
        {
            stderr.WriteLine($"TorchSharp does not load: {e.Message.Split('\n')[0]}");
            return CheckFailed;
        }
        stdout.WriteLine($"torchsharp:      {info.TorchSharpVersion}");
        stdout.WriteLine($"libtorch:        {info.LibTorchVersion}");
        stdout.WriteLine($"device:          {info.Device} ({info.Threads.ToString(CultureInfo.InvariantCulture)} threads)");
        stdout.WriteLine($"seed:            {info.Seed.ToString(CultureInfo.InvariantCulture)}");

        using var ones = torch.ones(2, 3);
        using var sum = ones.sum();
        var value = sum.item<float>();
        var ok = value == 6f;
        stdout.WriteLine($"ones(2,3).sum(): {value.ToString(CultureInfo.InvariantCulture)} ({(ok ? "ok" : "WRONG, expected 6")})");
        return ok ? Ok : CheckFailed;
    }
}
