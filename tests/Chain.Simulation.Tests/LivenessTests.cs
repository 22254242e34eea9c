using Chain.Consensus;
using Xunit.Abstractions;

namespace Chain.Simulation.Tests;

/// <summary>
/// Liveness of the real Replica (DESIGN "View change"; PBFT §4.4-4.5): after GST, within
/// <see cref="ScenarioGenerator.LivenessBound"/>, every submitted transaction is committed by every honest
/// replica that is up, and no honest replica is left in a view change. Faults before GST: drops, reordering,
/// duplicates, a partition. Each case runs several seeds; a failure names the seed (CHAIN_SIM_SEED replays it).
/// </summary>
public class LivenessTests(ITestOutputHelper output)
{
    private const int SeedsPerCase = 6;

    public static TheoryData<int, string, ProtocolMode> Cases() => new()
    {
        { 4, "honest", ProtocolMode.Linear },
        { 4, "honest", ProtocolMode.Classic },
        { 7, "honest", ProtocolMode.Linear },
        { 4, nameof(ByzantineKind.Silent), ProtocolMode.Linear },
        { 4, nameof(ByzantineKind.Silent), ProtocolMode.Classic },
        { 7, nameof(ByzantineKind.Silent), ProtocolMode.Linear },
        { 4, nameof(ByzantineKind.Equivocator), ProtocolMode.Linear },
        { 4, nameof(ByzantineKind.Equivocator), ProtocolMode.Classic },
        { 7, nameof(ByzantineKind.Equivocator), ProtocolMode.Linear },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void After_GST_every_transaction_commits_within_the_bound(int n, string primary, ProtocolMode mode)
    {
        ByzantineKind? kind = primary == "honest" ? null : Enum.Parse<ByzantineKind>(primary);
        foreach (var seed in Schedules.Seeds(SeedsPerCase, offset: 1000 * n))
        {
            var scenario = ScenarioGenerator.Liveness(seed, n, kind, mode);
            var metrics = Simulation.Run(scenario);
            output.WriteLine($"{scenario.Family} seed {seed}: {metrics}");
            if (kind == ByzantineKind.Silent)
            {
                Assert.True(metrics.NewViewsInstalled > 0,
                    $"{scenario}: a silent first primary must be replaced by a view change");
            }
        }
    }

    [Theory]
    [InlineData(4, ProtocolMode.Linear)]
    [InlineData(4, ProtocolMode.Classic)]
    [InlineData(7, ProtocolMode.Linear)]
    public void View_changes_started_while_the_primary_is_cut_off_terminate_after_it_heals(int n, ProtocolMode mode)
    {
        foreach (var seed in Schedules.Seeds(SeedsPerCase, offset: 2000 * n))
        {
            var baseline = ScenarioGenerator.Liveness(seed, n, mode: mode);
            var gst = Math.Max(baseline.Stabilisation, 600);
            var scenario = baseline with
            {
                Family = "liveness-primary-cut-off",
                Partitions = [new PartitionSpec(new HashSet<ReplicaId> { new(0) }, 0, gst)],
                Stabilisation = gst,
                SubmitUntil = gst / 2,
                EndTime = gst + ScenarioGenerator.LivenessBound(baseline),
            };
            var metrics = Simulation.Run(scenario);
            output.WriteLine($"{scenario.Family} seed {seed}: {metrics}");
            Assert.True(metrics.ViewChangesStarted > 0,
                $"{scenario}: cutting off the primary with pending work must start a view change");
        }
    }
}
