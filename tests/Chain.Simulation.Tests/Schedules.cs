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
        FsCheck.Check.One(Reproducible(config, share), property);
    }

    /// <summary>
    /// The test run explores a fixed, reproducible set of schedules (so CI is deterministic); with
    /// <c>CHAIN_SIM_RANDOM=1</c>, or in long mode (<c>CHAIN_SIM_SCHEDULES</c>), FsCheck draws fresh seeds each run.
    /// Either way a failure prints the scenario seed, which <c>CHAIN_SIM_SEED</c> replays.
    /// </summary>
    internal static Config Reproducible(Config config, int salt)
    {
        if (Environment.GetEnvironmentVariable("CHAIN_SIM_RANDOM") == "1"
            || Environment.GetEnvironmentVariable("CHAIN_SIM_SCHEDULES") is not null) return config;
        var replay = new Replay(new Rnd(0x5EED_C0DEUL + (ulong)salt, 0x9E37_79B9_7F4A_7C15UL), Microsoft.FSharp.Core.FSharpOption<int>.None);
        return config.WithReplay(Microsoft.FSharp.Core.FSharpOption<Replay>.Some(replay));
    }

    /// <summary>Seeds for a seeded (non-FsCheck) test: the replay seed alone, or count seeds from offset.</summary>
    public static IEnumerable<int> Seeds(int count, int offset = 0) =>
        SimSettings.ReplaySeed is { } seed ? [seed] : Enumerable.Range(offset, count);
}
