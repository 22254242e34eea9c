using Chain.Consensus;
using Xunit.Abstractions;

namespace Chain.Simulation.Tests;

/// <summary>
/// Crash and restart of the real Replica from its persisted records (STYLE b.3: one test crashes the node
/// between persist and send). Agreement is checked after every step; at the end every honest replica that is
/// up, the restarted one included, must have committed every transaction (it caught up).
/// </summary>
public class CrashRestartTests(ITestOutputHelper output)
{
    private static Scenario Base(int seed, int n) => new()
    {
        Family = "crash-restart",
        Seed = seed,
        N = n,
        Faults = new NetworkFaults(MaxDelay: 10, Duplicate: 0.05),
        Transactions = 60,
        SubmitUntil = 2500,
        CheckLiveness = true,
        EndTime = 2500 + ScenarioGenerator.LivenessBound(new Scenario { N = n, Transactions = 60 }),
    };

    [Theory]
    [InlineData(4, 0)]
    [InlineData(4, 1)]
    [InlineData(7, 0)]
    [InlineData(7, 3)]
    public void A_replica_crashed_between_persist_and_send_restarts_and_catches_up(int n, int replica)
    {
        foreach (var seed in Schedules.Seeds(5, offset: 100 * n + replica))
        {
            var at = 100 + seed % 7 * 40;
            var scenario = Base(seed, n) with
            {
                Crashes = [new CrashSpec(new ReplicaId((ushort)replica), at, at + 400, BetweenPersistAndSend: true)],
            };
            var simulation = new Simulation(scenario);
            var metrics = simulation.Run();
            output.WriteLine($"seed {seed}: {metrics}");
            var host = simulation.Hosts.Single(h => h.Id.Value == replica);
            Assert.True(host.Restarts == 1, $"{scenario}: the replica should have crashed mid-Ready and restarted");
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(7)]
    public void A_replica_down_for_several_checkpoints_catches_up_after_restart(int n)
    {
        foreach (var seed in Schedules.Seeds(5, offset: 300 * n))
        {
            var lagging = new ReplicaId((ushort)(n - 1));
            var scenario = Base(seed, n) with { Crashes = [new CrashSpec(lagging, 50, 1500)] };
            var simulation = new Simulation(scenario);
            var metrics = simulation.Run();
            output.WriteLine($"seed {seed}: {metrics}");
            var heights = simulation.Hosts.Where(h => h.IsHonest).Select(h => h.Ledger.Height).ToList();
            Assert.True(heights.Distinct().Count() == 1, $"{scenario}: ledger heights {string.Join(",", heights)}");
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(7)]
    public void Every_replica_crashing_and_restarting_in_turn_keeps_agreement(int n)
    {
        foreach (var seed in Schedules.Seeds(5, offset: 500 * n))
        {
            var crashes = Enumerable.Range(0, n)
                .Select(i => new CrashSpec(new ReplicaId((ushort)i), 100 + i * 300, 300 + i * 300,
                    BetweenPersistAndSend: i % 2 == 0))
                .ToList();
            var scenario = Base(seed, n) with { Crashes = crashes };
            output.WriteLine($"seed {seed}: {Simulation.Run(scenario)}");
        }
    }
}
