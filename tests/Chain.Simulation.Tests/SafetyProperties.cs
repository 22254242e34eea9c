namespace Chain.Simulation.Tests;

// The FsCheck properties over random schedules of the real Replica: after every delivered event, agreement
// (DESIGN I1), certificates (I4), integrity, ledger contiguity and bounded memory (I5). Within the bound:
// 0..f Byzantine replicas of random kinds, random drop/duplicate/reorder probabilities, partitions before GST.
// Default shares (1,000 at n = 4 + 1,000 at n = 7 + 300 with crashes = 2,300 schedules per run); CHAIN_SIM_SCHEDULES
// scales them (relative to 1,000), CHAIN_SIM_SEED replays one.
// The classes are separate so xunit runs them in parallel.

/// <summary>n = 4 (f = 1).</summary>
public class SafetyPropertiesFourReplicas
{
    [Fact]
    public void Agreement_integrity_and_bounded_memory_hold_over_random_schedules_n4() =>
        Schedules.Check(1000, seed => ScenarioGenerator.Safety(seed, 4));
}

/// <summary>n = 7 (f = 2).</summary>
public class SafetyPropertiesSevenReplicas
{
    [Fact]
    public void Agreement_integrity_and_bounded_memory_hold_over_random_schedules_n7() =>
        Schedules.Check(1000, seed => ScenarioGenerator.Safety(seed, 7));
}

/// <summary>Crashes and restarts from persisted records, some between persist and send (STYLE b.3).</summary>
public class CrashRestartProperties
{
    [Fact]
    public void Agreement_holds_when_replicas_crash_and_restart_from_persisted_records() =>
        Schedules.Check(300, seed => ScenarioGenerator.CrashRestart(seed));
}
