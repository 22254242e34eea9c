using Chain.Consensus;
using Chain.Simulation.Tests.Fakes;
using Xunit.Abstractions;

namespace Chain.Simulation.Tests;

/// <summary>
/// The in-simulation metrics runner works and its numbers make sense (no timing assertions: figures come
/// from <see cref="SimulationBench.Run"/> and are printed).
/// </summary>
public class BenchTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(4, ProtocolMode.Linear)]
    [InlineData(4, ProtocolMode.Classic)]
    [InlineData(7, ProtocolMode.Linear)]
    [InlineData(7, ProtocolMode.Classic)]
    public void Bench_runs_commit_the_requested_blocks_and_report_per_block_costs(int n, ProtocolMode mode)
    {
        var result = SimulationBench.Run(n, mode, seed: 1, blocks: 20);
        output.WriteLine(result.ToString());
        Assert.True(result.Metrics.BlocksCommitted >= 20, result.ToString());
        Assert.True(result.Metrics.MessagesPerBlock > 0 && result.Metrics.VerificationsPerBlock > 0, result.ToString());
    }

    [Fact]
    public void Bench_runs_with_the_fake_replica()
    {
        var result = SimulationBench.Run(4, ProtocolMode.Linear, seed: 1, blocks: 10, factory: MiniBftNode.Factory);
        output.WriteLine(result.ToString());
        Assert.Equal(10ul, result.Metrics.BlocksCommitted);
        Assert.Equal(40, result.Metrics.TransactionsCommitted);
        Assert.True(result.Metrics.MessagesPerBlock > 0 && result.Metrics.BytesPerBlock > 0);
        Assert.True(result.Metrics.VerificationsPerBlock > 0);
        Assert.Equal(40, result.Metrics.CommitLatencies.Count);
        Assert.True(result.Metrics.StepsPerSecond > 0);
    }
}
