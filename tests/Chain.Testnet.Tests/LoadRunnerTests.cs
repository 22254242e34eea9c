using System.Diagnostics;
using Chain.Testnet.Load;

namespace Chain.Testnet.Tests;

/// <summary>The load and benchmark logic against fake submitters (no node): rates, outcomes, latency, the ramp.</summary>
public sealed class LoadRunnerTests
{
    /// <summary>Commits after a fixed delay; refuses every <c>rejectEvery</c>-th; optionally limited to a few at a time.</summary>
    private sealed class FakeSubmitter(TimeSpan delay, int rejectEvery = 0, int capacity = 0) : ITxSubmitter
    {
        private readonly SemaphoreSlim? _slots = capacity > 0 ? new SemaphoreSlim(capacity) : null;
        private long _calls;
        private int _inFlight;
        private int _maxInFlight;

        public int Nodes => 4;

        public int Clients => 3;

        public int[] PerNode { get; } = new int[4];

        public int MaxInFlight => Volatile.Read(ref _maxInFlight);

        public byte[] Prepare(int client, long sequence) => [(byte)client];

        public async Task<SubmitOutcome> SubmitAsync(int client, int node, byte[] transaction, CancellationToken cancellation)
        {
            Assert.Equal((byte)client, transaction[0]);
            Interlocked.Increment(ref PerNode[node]);
            var now = Interlocked.Increment(ref _inFlight);
            for (var max = MaxInFlight; now > max; max = MaxInFlight) Interlocked.CompareExchange(ref _maxInFlight, now, max);
            try
            {
                if (rejectEvery > 0 && Interlocked.Increment(ref _calls) % rejectEvery == 0)
                    return new SubmitOutcome(SubmitResult.Rejected, "ResourceExhausted: the mempool is full; retry later");
                if (_slots is not null) await _slots.WaitAsync(cancellation);
                try
                {
                    await Task.Delay(delay, cancellation);
                }
                finally
                {
                    _slots?.Release();
                }
                return SubmitOutcome.Committed;
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    [Fact]
    public async Task Open_loop_submits_at_the_rate_without_waiting_for_commits()
    {
        var fake = new FakeSubmitter(TimeSpan.FromMilliseconds(300));
        var progress = new StringWriter();
        var clock = Stopwatch.StartNew();
        var result = await new LoadRunner(fake, progress).OpenLoopAsync(100, TimeSpan.FromSeconds(1.5), CancellationToken.None);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal((150, 150, 0L, 0L), (result.Submitted, result.Committed, result.RejectedCount, result.FailedCount));
        // 300 ms each at 100/s: about 30 at once, which a closed loop could never reach.
        Assert.True(fake.MaxInFlight >= 15, $"at most {fake.MaxInFlight} in flight");
        Assert.InRange(result.Latency.PercentileMs(50)!.Value, 290, 2000);
        Assert.All(fake.PerNode, n => Assert.InRange(n, 37, 38));
        Assert.Contains("submitted", progress.ToString());
    }

    [Fact]
    public async Task Refusals_are_counted_by_reason_and_not_as_commits()
    {
        var fake = new FakeSubmitter(TimeSpan.FromMilliseconds(2), rejectEvery: 4);
        var result = await new LoadRunner(fake).OpenLoopAsync(200, TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.Equal(200, result.Submitted);
        Assert.Equal(50, result.Rejected["ResourceExhausted: the mempool is full; retry later"]);
        Assert.Equal(150, result.Committed);
        Assert.Equal(150, result.Latency.Count);
        Assert.Contains(result.Describe(), l => l.Contains("rejected 50: ResourceExhausted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Open_loop_drops_beyond_the_in_flight_bound_and_drains_within_the_bound()
    {
        var fake = new FakeSubmitter(TimeSpan.FromSeconds(30));
        var runner = new LoadRunner(fake) { MaxInFlight = 10, DrainTimeout = TimeSpan.FromMilliseconds(200) };
        var clock = Stopwatch.StartNew();
        var result = await runner.OpenLoopAsync(100, TimeSpan.FromSeconds(0.5), CancellationToken.None);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
        Assert.Equal(10, result.Submitted);
        Assert.Equal(40, result.Dropped);
        Assert.Equal(10, result.FailedCount);
        Assert.Equal(0, result.Committed);
    }

    [Fact]
    public async Task Closed_loop_throughput_is_bounded_by_the_submitters_in_flight()
    {
        var fake = new FakeSubmitter(TimeSpan.FromMilliseconds(20));
        var result = await new LoadRunner(fake).ClosedLoopAsync(2, TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.True(fake.MaxInFlight <= 2);
        // Two submitters, 20 ms each (Task.Delay rounds up): at most 100/s, at least a third of that on a busy machine.
        Assert.InRange(result.Throughput, 30, 101);
        Assert.Equal(result.Submitted, result.Committed);
    }

    [Fact]
    public async Task Bench_ramps_until_throughput_stops_growing_then_measures_fixed_rates_and_cpu()
    {
        // A "cluster" that commits at most 4 transactions at a time, 10 ms each: about 400 tx/s at best.
        var fake = new FakeSubmitter(TimeSpan.FromMilliseconds(10), capacity: 4);
        var cpu = new FakeCpu();
        var options = new BenchOptions
        {
            Levels = [1, 2, 4, 8, 16, 32, 64, 128],
            StepDuration = TimeSpan.FromSeconds(0.5),
            Duration = TimeSpan.FromSeconds(0.5),
            FixedRate = 50,
        };
        var machine = new MachineInfo(DateTimeOffset.UnixEpoch, "abc1234", 2, "Test CPU");
        var clock = Stopwatch.StartNew();
        var report = await new Bench(fake, cpu).RunAsync(options, 200, machine, CancellationToken.None);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.True(report.Ramp.Count is >= 2 and < 8, $"{report.Ramp.Count} ramp steps");
        Assert.InRange(report.MaxThroughput, 60, 420);
        Assert.Equal(report.Ramp.Max(r => r.Result.Throughput), report.MaxThroughput);
        Assert.Equal(50, report.AtFixedRate.Result.OfferedRate);
        Assert.Equal(Math.Max(1, Math.Round(report.MaxThroughput / 2)), report.AtHalfMax.Result.OfferedRate);
        Assert.InRange(report.AtFixedRate.Result.Throughput, 30, 52);
        Assert.Equal([50.0, 50.0, 50.0, null], report.AtFixedRate.CpuPercent.Select(c => c is { } v ? Math.Round(v / 10) * 10 : (double?)null));

        var markdown = report.ToMarkdown();
        Assert.Contains("### Testnet benchmark, 1970-01-01 (commit abc1234)", markdown);
        Assert.Contains("Machine: 2 cores (nproc), Test CPU.", markdown);
        Assert.Contains("| Run | Load | Committed tx/s | p50 ms | p99 ms |", markdown);
        Assert.Contains("n0 50%, n1 50%, n2 50%, n3 -", markdown);
        Assert.Contains("Maximum sustained committed throughput", markdown);
    }

    [Fact]
    public void Histogram_percentiles_are_within_about_one_percent()
    {
        var histogram = new LatencyHistogram();
        for (var ms = 1; ms <= 1000; ms++) histogram.Record(TimeSpan.FromMilliseconds(ms));
        Assert.InRange(histogram.PercentileMs(50)!.Value, 495, 506);
        Assert.InRange(histogram.PercentileMs(99)!.Value, 985, 1001);
        Assert.Equal(1000, histogram.MaxMs);
        Assert.Null(new LatencyHistogram().PercentileMs(50));
    }

    /// <summary>Three nodes each burning half a core; node 3 is down.</summary>
    private sealed class FakeCpu : ICpuProbe
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public IReadOnlyList<CpuSample?> Sample()
        {
            var half = _clock.Elapsed.TotalSeconds / 2;
            return [new CpuSample(10, half), new CpuSample(11, half), new CpuSample(12, half), null];
        }
    }
}
