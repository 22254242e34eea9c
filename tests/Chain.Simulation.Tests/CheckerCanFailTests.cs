using Chain.Simulation.Tests.Fakes;
using Xunit.Abstractions;

namespace Chain.Simulation.Tests;

/// <summary>
/// The checker can fail: beyond the bound (f+1 twinned replicas, split brain), a search over seeds must find
/// an agreement violation. If it never does, either the checker or the scenario is broken, and the safety
/// properties would pass vacuously. The seed found is printed; CHAIN_SIM_SEED=&lt;seed&gt; replays it.
/// </summary>
public class CheckerCanFailTests(ITestOutputHelper output)
{
    private const int SearchSeeds = 200;

    [Theory]
    [InlineData(4)]
    [InlineData(7)]
    public void Beyond_the_bound_f_plus_1_twins_break_agreement_and_the_checker_reports_it(int n) =>
        AssertFindsAgreementViolation(seed => ScenarioGenerator.BeyondBound(seed, n), factory: null);

    /// <summary>The same search against the fake replica: checks the search and the checker themselves today.</summary>
    [Theory]
    [InlineData(4)]
    [InlineData(7)]
    public void Beyond_the_bound_the_checker_also_catches_the_fake_replica(int n) =>
        AssertFindsAgreementViolation(seed => ScenarioGenerator.BeyondBound(seed, n), MiniBftNode.Factory);

    private void AssertFindsAgreementViolation(Func<int, Scenario> family, NodeFactory? factory)
    {
        var other = new List<string>();
        foreach (var seed in Schedules.Seeds(SearchSeeds))
        {
            try
            {
                Simulation.Run(family(seed), factory);
            }
            catch (SimulationViolation violation) when (IsAgreement(violation))
            {
                output.WriteLine($"found at seed {violation.Seed} (replay: CHAIN_SIM_SEED={violation.Seed}):");
                output.WriteLine(violation.Message);
                return;
            }
            catch (SimulationViolation violation)
            {
                other.Add(violation.Message);
            }
        }
        Assert.Fail($"no agreement violation in {SearchSeeds} seeds beyond the bound; " +
                    $"{other.Count} other violation(s)" + (other.Count > 0 ? ", the first: " + other[0] : ""));
    }

    private static bool IsAgreement(SimulationViolation v) =>
        v.Problem.StartsWith("agreement", StringComparison.Ordinal);
}
