using System.Diagnostics;
using System.Globalization;
using System.Text;
using Chain.Testnet.Cluster;

namespace Chain.Testnet.Load;

/// <summary>Cumulative CPU time of one process, to measure its use over a run.</summary>
internal readonly record struct CpuSample(int Pid, double Seconds);

/// <summary>Reads each node's cumulative CPU time (null for a node that is not running).</summary>
internal interface ICpuProbe
{
    IReadOnlyList<CpuSample?> Sample();
}

/// <summary>CPU of the testnet's node processes from /proc/&lt;pid&gt;/stat (user + system time).</summary>
internal sealed class NodeCpuProbe(TestnetLayout layout, Manifest manifest) : ICpuProbe
{
    public IReadOnlyList<CpuSample?> Sample() => manifest.Nodes.OrderBy(n => n.Id).Select(n =>
        ClusterProcesses.NodePid(layout, n.Id) is { } pid && Posix.CpuSeconds(pid) is { } seconds
            ? new CpuSample(pid, seconds)
            : (CpuSample?)null).ToList();
}

/// <summary>The machine and source a benchmark ran on.</summary>
internal sealed record MachineInfo(DateTimeOffset Date, string GitCommit, int Cores, string CpuModel)
{
    public static MachineInfo Detect() => new(DateTimeOffset.UtcNow, ReadGitCommit(), Environment.ProcessorCount, ReadCpuModel());

    private static string ReadCpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    private static string ReadGitCommit()
    {
        try
        {
            var start = new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var git = Process.Start(start);
            if (git is null) return "unknown";
            var output = git.StandardOutput.ReadToEnd().Trim();
            if (!git.WaitForExit(5000)) git.Kill();
            return git.ExitCode == 0 && output.Length > 0 ? output : "unknown";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "unknown";
        }
    }
}

internal sealed record BenchOptions
{
    /// <summary>Length of each fixed-rate run.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Length of each step of the closed-loop ramp.</summary>
    public TimeSpan StepDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Submitters in flight at each ramp step (the ramp stops early once throughput stops growing).</summary>
    public IReadOnlyList<int> Levels { get; init; } = [4, 8, 16, 32, 64, 128, 256, 512];

    /// <summary>A step must beat the best so far by this factor to count as growth.</summary>
    public double MinGain { get; init; } = 1.05;

    public double FixedRate { get; init; } = 1000;
}

/// <summary>One measured run and the nodes' CPU use during it (% of one core; null when unknown).</summary>
internal sealed record BenchRun(string Name, LoadResult Result, IReadOnlyList<double?> CpuPercent, IReadOnlyList<double?> CpuSeconds)
{
    /// <summary>
    /// Node CPU-seconds (all nodes together, user + system) per 1,000 transactions committed during the run; null when
    /// a node's CPU time is unknown or nothing was committed.
    /// </summary>
    public double? CpuSecondsPerThousand =>
        Result.Committed > 0 && CpuSeconds.Count > 0 && CpuSeconds.All(c => c is not null)
            ? CpuSeconds.Sum(c => c!.Value) / Result.Committed * 1000
            : null;
}

internal sealed record BenchReport(int Nodes, int Clients, int TransactionBytes, IReadOnlyList<BenchRun> Ramp, BenchRun Best,
    BenchRun AtFixedRate, BenchRun AtHalfMax, MachineInfo Machine)
{
    public double MaxThroughput => Best.Result.Throughput;

    /// <summary>A Markdown section for BENCHMARKS.md.</summary>
    public string ToMarkdown()
    {
        static string Ms(double? v) => v is { } x ? x.ToString("0.0", CultureInfo.InvariantCulture) : "-";
        static string Cpu(IReadOnlyList<double?> cpu) =>
            string.Join(", ", cpu.Select((c, i) => $"n{i} " + (c is { } v ? v.ToString("0", CultureInfo.InvariantCulture) + "%" : "-")));
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"### Testnet benchmark, {Machine.Date:yyyy-MM-dd} (commit {Machine.GitCommit})");
        md.AppendLine();
        md.AppendLine($"Machine: {Machine.Cores} cores (nproc), {Machine.CpuModel}. {Nodes} validator " +
            $"processes on this one machine, peers through the fault proxy on loopback, mutual TLS everywhere; {Clients} client " +
            $"identities, kv puts of {TransactionBytes} bytes signed with Ed25519, each submitted with wait_for_commit " +
            "(latency = submit to commit acknowledgement). CPU is user + system time per node process as % of one core; " +
            "CPU-s / 1k tx is the CPU-seconds of all nodes together per 1,000 transactions committed during the run.");
        md.AppendLine();
        md.AppendLine("| Run | Load | Committed tx/s | p50 ms | p99 ms | Refused / failed / timed out | CPU per node | CPU-s / 1k tx |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---|---:|");
        void Row(BenchRun run, string load)
        {
            var r = run.Result;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {run.Name} | {load} | {r.Throughput:N0} | {Ms(r.Latency.PercentileMs(50))} | {Ms(r.Latency.PercentileMs(99))} | " +
                $"{r.RejectedCount:N0} / {r.FailedCount:N0} / {r.Pending:N0} | {Cpu(run.CpuPercent)} | {(run.CpuSecondsPerThousand is { } c ? c.ToString("0.00", CultureInfo.InvariantCulture) : "-")} |");
        }
        foreach (var step in Ramp)
            Row(step, $"closed loop, {step.Result.Concurrency} in flight, {step.Result.Window.TotalSeconds:0.#} s");
        Row(AtFixedRate, $"open loop, {AtFixedRate.Result.OfferedRate:N0} tx/s, {AtFixedRate.Result.Window.TotalSeconds:0.#} s");
        Row(AtHalfMax, $"open loop, {AtHalfMax.Result.OfferedRate:N0} tx/s (half the maximum), {AtHalfMax.Result.Window.TotalSeconds:0.#} s");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"Maximum sustained committed throughput: **{MaxThroughput:N0} tx/s** (closed loop, {Best.Result.Concurrency} in flight).");
        return md.ToString();
    }
}

/// <summary>
/// The benchmark: a closed-loop ramp (doubling the submitters in flight until throughput stops growing) finds the
/// maximum sustained committed throughput; then open-loop runs at a fixed rate (1,000 tx/s) and at half the maximum
/// give latency under a known load. Each run records the nodes' CPU time. Bounded: at most
/// |levels| x step + 2 x duration, plus drains.
/// </summary>
internal sealed class Bench(ITxSubmitter submitter, ICpuProbe cpu, TextWriter? progress = null, bool progressOnOneLine = false)
{
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public async Task<BenchReport> RunAsync(BenchOptions options, int transactionBytes, MachineInfo machine,
        CancellationToken cancellation)
    {
        var runner = new LoadRunner(submitter, progress, progressOnOneLine) { DrainTimeout = DrainTimeout };
        var ramp = new List<BenchRun>();
        BenchRun? best = null;
        foreach (var level in options.Levels)
        {
            progress?.WriteLine($"ramp: {level} in flight for {options.StepDuration.TotalSeconds:0.#} s");
            var step = await MeasureAsync($"ramp {ramp.Count + 1}",
                () => runner.ClosedLoopAsync(level, options.StepDuration, cancellation)).ConfigureAwait(false);
            ramp.Add(step);
            progress?.WriteLine($"  -> {step.Result.Throughput:N0} committed tx/s");
            if (cancellation.IsCancellationRequested) break;
            var grew = best is null || step.Result.Throughput >= best.Result.Throughput * options.MinGain;
            if (best is null || step.Result.Throughput > best.Result.Throughput) best = step;
            var mostlyFailing = step.Result.Committed < (step.Result.Submitted - step.Result.Committed);
            if (!grew || mostlyFailing) break;
        }
        if (best is null) throw new InvalidOperationException("the ramp has no levels");

        progress?.WriteLine($"open loop at {options.FixedRate:N0} tx/s for {options.Duration.TotalSeconds:0.#} s");
        var fixedRate = await MeasureAsync("fixed rate",
            () => runner.OpenLoopAsync(options.FixedRate, options.Duration, cancellation)).ConfigureAwait(false);
        var half = Math.Max(1, Math.Round(best.Result.Throughput / 2));
        progress?.WriteLine($"open loop at {half:N0} tx/s (half the maximum) for {options.Duration.TotalSeconds:0.#} s");
        var halfMax = await MeasureAsync("half max",
            () => runner.OpenLoopAsync(half, options.Duration, cancellation)).ConfigureAwait(false);
        return new BenchReport(submitter.Nodes, submitter.Clients, transactionBytes, ramp, best, fixedRate, halfMax, machine);
    }

    private async Task<BenchRun> MeasureAsync(string name, Func<Task<LoadResult>> run)
    {
        var before = cpu.Sample();
        var clock = Stopwatch.StartNew();
        var result = await run().ConfigureAwait(false);
        var wall = clock.Elapsed.TotalSeconds;
        var after = cpu.Sample();
        var seconds = before.Select((b, i) =>
            b is { } x && i < after.Count && after[i] is { } y && x.Pid == y.Pid
                ? y.Seconds - x.Seconds
                : (double?)null).ToList();
        var percent = seconds.Select(s => s is { } v && wall > 0 ? v / wall * 100 : (double?)null).ToList();
        return new BenchRun(name, result, percent, seconds);
    }
}
