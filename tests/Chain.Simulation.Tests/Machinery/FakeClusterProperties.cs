using Chain.Simulation.Tests.Fakes;

namespace Chain.Simulation.Tests.Machinery;

/// <summary>
/// The safety properties' harness run against the fake replica (safe within the bound): no false alarms from the
/// simulator itself under every Byzantine kind, fault and crash the generators produce.
/// </summary>
public class FakeClusterProperties
{
    [Fact]
    public void The_harness_raises_no_false_alarms_on_a_safe_replica() =>
        Schedules.Check(60, seed => ScenarioGenerator.Safety(seed), MiniBftNode.Factory);

    [Fact]
    public void The_harness_raises_no_false_alarms_with_crashes() =>
        Schedules.Check(60, seed => ScenarioGenerator.CrashRestart(seed), MiniBftNode.Factory);
}
