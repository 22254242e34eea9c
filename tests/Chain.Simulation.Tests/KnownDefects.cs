namespace Chain.Simulation.Tests;

/// <summary>
/// Schedules that once found a defect, kept as regressions (each ran red before its fix). A defect not yet fixed
/// would stay here skipped, with its reason, until the fix lands.
/// </summary>
public class KnownDefects
{
    /// <summary>
    /// Twins (n=4, linear): an honest primary that knew height 10 only from a checkpoint certificate (its host was
    /// still fetching the block) proposed, and hosts judged, a block at 11 repeating #10's transactions. Fixed by
    /// building on and judging blocks only above parents the host holds.
    /// </summary>
    [Fact]
    public void Twins_schedule_1486787784_commits_no_transaction_twice() =>
        Simulation.Run(ScenarioGenerator.Safety(1486787784, 4));

    /// <summary>
    /// Forger (n=4, linear), found by the 100,000-schedule long mode: the verified-certificate cache keyed on
    /// (phase, view, height, digest, vote count) let a copy with forged signatures skip verification, and an honest
    /// replica committed the right block with an invalid certificate. Fixed by keying on the signatures too.
    /// </summary>
    [Fact]
    public void Forger_schedule_888651211_never_gets_a_forged_certificate_committed() =>
        Simulation.Run(ScenarioGenerator.Safety(888651211, 4));
}
