using FsCheck;
using FsCheck.Fluent;

namespace Chain.Simulation.Tests;

/// <summary>
/// Runs a scenario family over many schedules as an FsCheck property: FsCheck draws the seed, the family turns
/// it into the scenario (n, Byzantine replicas and kinds, fault probabilities, partitions, crashes), and the
/// simulation checks the invariants after every step. A failure reports the scenario, whose text starts with
/// its seed and the replay variable. With <c>CHAIN_SIM_SEED</c> set, only that seed runs.
/// </summary>
internal static class Schedules
{
    public static Gen<Scenario> Of(Func<int, Scenario> family) => Gen.Choose(0, int.MaxValue - 1).Select(family);

    /// <summary>
    /// Checks <paramref name="family"/> on <see cref="SimSettings.Schedules"/>(<paramref name="share"/>) seeds.
    /// </summary>
    public static void Check(int share, Func<int, Scenario> family, NodeFactory? factory = null)
    {
        if (SimSettings.ReplaySeed is { } seed)
        {
            Simulation.Run(family(seed), factory);
            return;
        }
        var property = Prop.ForAll(Of(family).ToArbitrary(), scenario => { Simulation.Run(scenario, factory); });
        var config = Config.QuickThrowOnFailure.WithMaxTest(SimSettings.Schedules(share)).WithQuietOnSuccess(true);
        FsCheck.Check.One(config, property);
    }

    /// <summary>Seeds for a seeded (non-FsCheck) test: the replay seed alone, or count seeds from offset.</summary>
    public static IEnumerable<int> Seeds(int count, int offset = 0) =>
        SimSettings.ReplaySeed is { } seed ? [seed] : Enumerable.Range(offset, count);
}
