using System.Globalization;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>The metrics of one benchmark run, for a given (n, mode, seed).</summary>
public sealed record BenchResult(int N, ProtocolMode Mode, int Seed, int Blocks, RunMetrics Metrics)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"n={N} mode={Mode} seed={Seed} target={Blocks}: {Metrics}");
}

/// <summary>
/// In-simulation measurements for the benchmark figures: an honest cluster on a fault-free network (delays
/// 1..MaxDelay), every transaction submitted at time 0, run until every replica has committed them all. No
/// timing assertions: the numbers are virtual-time and per-block counts (plus the simulator's own speed).
/// </summary>
public static class SimulationBench
{
    public static BenchResult Run(int n, ProtocolMode mode, int seed, int blocks, int batch = 4,
        ConsensusOptions? options = null, NodeFactory? factory = null)
    {
        var scenario = Scenario(n, mode, seed, blocks, batch, options);
        return new BenchResult(n, mode, seed, blocks, Simulation.Run(scenario, factory));
    }

    /// <summary>The bench scenario: <paramref name="blocks"/> × <paramref name="batch"/> transactions.</summary>
    public static Scenario Scenario(int n, ProtocolMode mode, int seed, int blocks, int batch = 4,
        ConsensusOptions? options = null)
    {
        var scenario = new Scenario
        {
            Family = "bench",
            Seed = seed,
            N = n,
            Options = (options ?? SimDefaults.Options) with { Mode = mode },
            Transactions = blocks * batch,
            Clients = Math.Max(1, Math.Min(blocks * batch, 16)),
            MaxBatch = batch,
            SubmitUntil = 0,
            CheckLiveness = true,
        };
        return scenario with { EndTime = ScenarioGenerator.LivenessBound(scenario) };
    }
}
