using System.Globalization;
using System.Text.RegularExpressions;
using Chain.Consensus;
using Chain.Simulation.Tests.Fakes;

namespace Chain.Simulation.Tests.Machinery;

/// <summary>
/// The scheduler and network, driven by the fake replica: runs are a function of the seed, and drops,
/// duplicates, delays, partitions and crashes do what the scenario says.
/// </summary>
public partial class SchedulerTests
{
    private static readonly NodeFactory Fake = MiniBftNode.Factory;

    private static Scenario Honest(int seed, int n = 4) => new()
    {
        Family = "machinery",
        Seed = seed,
        N = n,
        RecordTrace = true,
        CheckLiveness = true,
        EndTime = 6000,
    };

    [GeneratedRegex(@"^(\d+) (deliver|lost) (\w+) r(\d+)/(\d+)->r(\d+)/(\d+) sent=(\d+)")]
    private static partial Regex TransferLine();

    private sealed record Line(long Time, bool Delivered, string Kind, int From, int To, long Sent);

    private static List<Line> Transfers(Simulation simulation) => [.. simulation.Trace
        .Select(l => TransferLine().Match(l))
        .Where(m => m.Success)
        .Select(m => new Line(Long(m, 1), m.Groups[2].Value == "deliver", m.Groups[3].Value,
            (int)Long(m, 4), (int)Long(m, 6), Long(m, 8)))];

    private static long Long(Match m, int group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static Simulation RunFake(Scenario scenario)
    {
        var simulation = new Simulation(scenario, Fake);
        simulation.Run();
        return simulation;
    }

    [Fact]
    public void The_same_seed_gives_an_identical_trace_and_another_seed_a_different_one()
    {
        Scenario Faulty(int seed) => ScenarioGenerator.Safety(seed, 4) with { RecordTrace = true, EndTime = 1500 };
        var first = RunFake(Faulty(42));
        var second = RunFake(Faulty(42));
        var other = RunFake(Faulty(43));
        Assert.True(first.Trace.Count > 100, "the trace should record the run");
        Assert.Equal(first.Trace, second.Trace);
        Assert.NotEqual(first.Trace, other.Trace);
    }

    [Fact]
    public void An_honest_fake_cluster_commits_every_transaction_on_every_replica()
    {
        foreach (var n in new[] { 4, 7 })
        {
            var simulation = RunFake(Honest(7, n));
            Assert.All(simulation.Hosts, h => Assert.Equal(30, h.Ledger.TransactionCount));
            Assert.Single(simulation.Hosts.Select(h => h.Ledger.Digest).Distinct());
        }
    }

    [Fact]
    public void Before_GST_drops_lose_messages_and_after_GST_none_are_lost()
    {
        var scenario = Honest(3) with { Faults = new NetworkFaults(Drop: 1.0), Stabilisation = 500 };
        var simulation = RunFake(scenario);
        var transfers = Transfers(simulation);
        Assert.DoesNotContain(transfers, t => t.Sent < 500);
        Assert.True(simulation.Metrics.MessagesLost > 0);
        Assert.All(transfers, t => Assert.True(t.Delivered));
    }

    [Fact]
    public void Delays_stay_within_the_configured_bounds_and_reordering_only_holds_back_before_GST()
    {
        var faults = new NetworkFaults(MinDelay: 3, MaxDelay: 9, Reorder: 0.5, ReorderDelay: 40);
        var simulation = RunFake(Honest(5) with { Faults = faults, Stabilisation = 400 });
        var transfers = Transfers(simulation);
        Assert.All(transfers, t => Assert.InRange(t.Time - t.Sent, 3, t.Sent >= 400 ? 9 : 9 + 40));
        Assert.Contains(transfers, t => t.Time - t.Sent > 9);
    }

    [Fact]
    public void Duplication_delivers_copies()
    {
        var simulation = RunFake(Honest(11) with { Faults = new NetworkFaults(Duplicate: 1.0) });
        Assert.Equal(simulation.Metrics.MessagesSent, simulation.Metrics.MessagesDuplicated);
        Assert.True(simulation.Metrics.MessagesDelivered > simulation.Metrics.MessagesSent);
    }

    [Fact]
    public void A_partition_blocks_messages_across_its_sides_until_it_heals()
    {
        var side = new HashSet<ReplicaId> { new(3) };
        var scenario = Honest(13) with { Partitions = [new PartitionSpec(side, 0, 800)], Stabilisation = 800 };
        var simulation = RunFake(scenario);
        var transfers = Transfers(simulation);
        bool Across(Line t) => (t.From == 3) != (t.To == 3);
        Assert.DoesNotContain(transfers, t => Across(t) && t.Time < 800 && t.Delivered);
        Assert.Contains(transfers, t => Across(t) && t.Time < 800 && !t.Delivered);
        Assert.Contains(transfers, t => Across(t) && t.Time >= 800 && t.Delivered);
        Assert.Equal(30, simulation.Hosts[3].Ledger.TransactionCount);
    }

    [Fact]
    public void A_crashed_replica_receives_nothing_and_restarts_from_its_records()
    {
        var crash = new CrashSpec(new ReplicaId(2), 200, 900);
        var simulation = RunFake(Honest(17) with { Crashes = [crash], SubmitUntil = 1500 });
        var transfers = Transfers(simulation);
        Assert.DoesNotContain(transfers, t => t.To == 2 && t.Delivered && t.Time >= 200 && t.Time < 900);
        Assert.Contains(transfers, t => t.To == 2 && !t.Delivered && t.Time >= 200 && t.Time < 900);
        Assert.Equal(1, simulation.Hosts[2].Restarts);
        Assert.Equal(30, simulation.Hosts[2].Ledger.TransactionCount);
    }

    [Fact]
    public void A_crash_between_persist_and_send_stores_the_records_and_loses_the_messages()
    {
        var crash = new CrashSpec(new ReplicaId(1), 100, 600, BetweenPersistAndSend: true);
        var simulation = RunFake(Honest(19) with { Crashes = [crash], SubmitUntil = 1200 });
        var line = Assert.Single(simulation.Trace,
            l => l.Contains("crash r1 between persist", StringComparison.Ordinal));
        Assert.Matches(@"\(\d+ records stored\) and send \([1-9]\d* messages", line);
        Assert.Equal(1, simulation.Hosts[1].Restarts);
        Assert.Contains(simulation.Hosts[1].Persisted.Keys, k => k.StartsWith("vote/", StringComparison.Ordinal));
        Assert.Equal(30, simulation.Hosts[1].Ledger.TransactionCount);
    }

    [Fact]
    public void A_restarted_replica_far_behind_catches_up_by_state_transfer()
    {
        var crash = new CrashSpec(new ReplicaId(3), 50, 1500);
        var scenario = Honest(23) with { Crashes = [crash], Transactions = 80, SubmitUntil = 2500, MaxBatch = 2 };
        var simulation = RunFake(scenario);
        Assert.True(simulation.Metrics.StateTransfers > 0, simulation.Metrics.ToString());
        Assert.Contains(simulation.Trace, l => l.Contains("caught up r3", StringComparison.Ordinal));
        Assert.Equal(80, simulation.Hosts[3].Ledger.TransactionCount);
    }

    [Fact]
    public void Twins_are_two_instances_each_reaching_only_its_own_side()
    {
        var scenario = Honest(29) with
        {
            Byzantine = [new ByzantineSpec(new ReplicaId(0), ByzantineKind.Twins)],
            TwinSideA = new HashSet<ReplicaId> { new(1) },
            CheckLiveness = false,
        };
        var simulation = RunFake(scenario);
        Assert.Equal(5, simulation.Hosts.Count);
        var twinA = simulation.Hosts.Single(h => h.Id.Value == 0 && !h.TwinSideB).Instance;
        var twinB = simulation.Hosts.Single(h => h.Id.Value == 0 && h.TwinSideB).Instance;
        var transfers = Transfers(simulation);
        var instanceOf = simulation.Hosts.ToDictionary(h => h.Instance);
        Assert.NotEmpty(transfers);
        Assert.All(Regex.Matches(string.Join("\n", simulation.Trace), @"r\d+/(\d+)->r\d+/(\d+)").Cast<Match>(), m =>
        {
            var from = instanceOf[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)];
            var to = instanceOf[int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)];
            if (from.Instance == twinA || to.Instance == twinA || from.Instance == twinB || to.Instance == twinB)
                Assert.Equal(from.TwinSideB, to.TwinSideB);
        });
    }
}
