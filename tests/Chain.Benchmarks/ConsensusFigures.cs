using System.Diagnostics;
using Chain.Consensus;
using Chain.Simulation;

namespace Chain.Benchmarks;

/// <summary>
/// Protocol figures from the deterministic simulator (virtual time, seeded, fake signatures so the run is cheap):
/// messages, bytes and signature verifications per committed block, commit latency in virtual time units, for
/// the linear (improved) and classic modes of the same replica code, on a fault-free network and with one silent
/// replica (no fast path). Also the simulator's own speed.
/// </summary>
public static class ConsensusFigures
{
    public static void Run(TextWriter output, int blocks)
    {
        output.WriteLine($"| n | faults | mode | msgs/block | KB/block | verifications/block | latency mean (p99) | view changes | sim blocks/s CPU |");
        output.WriteLine("|---:|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var n in new[] { 4, 7, 10, 16 })
        {
            foreach (var silent in new[] { false, true })
            {
                foreach (var mode in new[] { ProtocolMode.Linear, ProtocolMode.Classic })
                {
                    var scenario = SimulationBench.Scenario(n, mode, seed: 1, blocks);
                    if (silent) scenario = scenario with { Byzantine = [new ByzantineSpec(new ReplicaId((ushort)(n - 1)), ByzantineKind.Silent)] };
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var m = Chain.Simulation.Simulation.Run(scenario);
                    var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                    output.WriteLine($"| {n} | {(silent ? "1 silent" : "none")} | {mode} | {m.MessagesPerBlock:F1} | " +
                        $"{m.BytesPerBlock / 1024:F1} | {m.VerificationsPerBlock:F1} | {m.MeanLatency:F1} ({m.LatencyPercentile(99)}) | " +
                        $"{m.ViewChangesStarted} | {m.BlocksCommitted / Math.Max(cpuSeconds, 1e-9):F0} |");
                }
            }
        }
    }
}
