using System.Globalization;

namespace Chain.Simulation;

/// <summary>
/// Environment overrides for the simulation tests:
/// <list type="bullet">
/// <item><c>CHAIN_SIM_SEED=&lt;n&gt;</c>: replay that one schedule in every seeded test (failures name it).</item>
/// <item><c>CHAIN_SIM_SCHEDULES=&lt;N&gt;</c>: run N schedules in total across the property tests instead of the
/// default 1,000 (each property keeps its share; e.g. 100000 for the long mode).</item>
/// </list>
/// </summary>
public static class SimSettings
{
    /// <summary>The default total of schedules across the property tests.</summary>
    public const int DefaultSchedules = 1000;

    public static int? ReplaySeed => Parse("CHAIN_SIM_SEED");

    /// <summary>A property's schedules: its default share of <see cref="DefaultSchedules"/>, scaled.</summary>
    public static int Schedules(int defaultShare)
    {
        var total = Parse("CHAIN_SIM_SCHEDULES");
        if (total is not { } t || t <= 0) return defaultShare;
        return (int)Math.Max(1, (long)defaultShare * t / DefaultSchedules);
    }

    private static int? Parse(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture,
            out var value)
            ? value
            : null;
}
