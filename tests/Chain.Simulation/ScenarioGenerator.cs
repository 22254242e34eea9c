using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// Scenario families, each a pure function of a seed (so one integer replays a schedule). Property tests let
/// FsCheck draw the seed; <c>CHAIN_SIM_SEED</c> replays one.
/// </summary>
public static class ScenarioGenerator
{
    private static readonly ByzantineKind[] AllKinds = Enum.GetValues<ByzantineKind>();

    /// <summary>
    /// Safety under everything within the bound: n in {4, 7} (or <paramref name="n"/>), 0..f Byzantine replicas
    /// of random kinds (twins included), random drop/duplicate/reorder probabilities and partitions before a
    /// random GST, linear or classic mode, 30 transactions, at most 300 ticks.
    /// </summary>
    public static Scenario Safety(int seed, int? n = null)
    {
        var random = new Random(seed);
        var size = n ?? (random.Next(2) == 0 ? 4 : 7);
        var byzantine = RandomByzantine(random, size, random.Next(Certificates.Faults(size) + 1), AllKinds);
        var gst = random.NextInt64(0, 2000);
        return new Scenario
        {
            Family = "safety",
            Seed = seed,
            N = size,
            Options = SimDefaults.Options with { Mode = RandomMode(random) },
            Byzantine = byzantine,
            Faults = RandomFaults(random),
            Partitions = RandomPartitions(random, size, gst),
            TwinSideA = RandomSubset(random, size),
            MaxBatch = random.Next(1, 6),
            SubmitUntil = 800,
            Stabilisation = gst,
            EndTime = 3000,
        };
    }

    /// <summary>
    /// Crashes and restarts on top of <see cref="Safety"/>: 1..3 crashes of honest replicas (any of them, so
    /// possibly more than f at once: safety must still hold), about 40% of them between persist and send, most
    /// restarted after 50..600 time units from their persisted records.
    /// </summary>
    public static Scenario CrashRestart(int seed, int? n = null)
    {
        var scenario = Safety(seed, n);
        var random = new Random(unchecked(seed * 31 + 7));
        var honest = Enumerable.Range(0, scenario.N).Select(i => new ReplicaId((ushort)i))
            .Where(id => !scenario.IsByzantine(id)).ToArray();
        var crashes = new List<CrashSpec>();
        for (var i = random.Next(1, 4); i > 0; i--)
        {
            var at = random.NextInt64(0, 2000);
            long? restart = random.NextDouble() < 0.85 ? at + random.NextInt64(50, 600) : null;
            crashes.Add(new CrashSpec(honest[random.Next(honest.Length)], at, restart, random.NextDouble() < 0.4));
        }
        return scenario with { Family = "crash", Crashes = crashes };
    }

    /// <summary>
    /// Liveness: a fault-free network only after GST (drops, reordering and a partition before it), optionally
    /// a Byzantine first primary (r0, the primary of view 0 by DESIGN.md) of <paramref name="primary"/> kind,
    /// transactions submitted until shortly after GST, and a deadline of GST + <see cref="LivenessBound"/>.
    /// </summary>
    public static Scenario Liveness(int seed, int n, ByzantineKind? primary = null, ProtocolMode? mode = null)
    {
        var random = new Random(seed);
        var gst = random.NextInt64(300, 1000);
        var scenario = new Scenario
        {
            Family = "liveness",
            Seed = seed,
            N = n,
            Options = SimDefaults.Options with { Mode = mode ?? RandomMode(random) },
            Byzantine = primary is { } kind ? [new ByzantineSpec(new ReplicaId(0), kind)] : [],
            Faults = RandomFaults(random),
            Partitions = RandomPartitions(random, n, gst),
            TwinSideA = RandomSubset(random, n),
            MaxBatch = random.Next(1, 6),
            SubmitUntil = gst + 200,
            Stabilisation = gst,
            CheckLiveness = true,
        };
        return scenario with { EndTime = Math.Max(gst, scenario.SubmitUntil) + LivenessBound(scenario) };
    }

    /// <summary>
    /// Beyond the bound: f+1 twinned replicas (r0..rf, so the first primary is twinned) and the other replicas
    /// split between the twins' sides with no link across (split brain). Each side holds f+1 twins plus its
    /// honest half; when that reaches a quorum on both sides, the sides commit different blocks.
    /// </summary>
    public static Scenario BeyondBound(int seed, int n)
    {
        var random = new Random(seed);
        var f = Certificates.Faults(n);
        var honest = Enumerable.Range(f + 1, n - f - 1).Select(i => new ReplicaId((ushort)i)).ToArray();
        random.Shuffle(honest);
        return new Scenario
        {
            Family = "beyond-bound",
            Seed = seed,
            N = n,
            Options = SimDefaults.Options with { Mode = RandomMode(random) },
            Byzantine = [.. Enumerable.Range(0, f + 1)
                .Select(i => new ByzantineSpec(new ReplicaId((ushort)i), ByzantineKind.Twins))],
            Faults = RandomFaults(random) with { Drop = 0 },
            TwinSideA = honest.Take(random.Next(1, honest.Length)).ToHashSet(),
            SplitBrain = true,
            MaxBatch = random.Next(2, 6),
            SubmitUntil = 100,
            EndTime = 2000,
        };
    }

    /// <summary>
    /// How long after GST (and after the last submission) liveness may take, in time units. After GST every
    /// message arrives within MaxDelay. The replicas may first need to converge on a view: each view change costs
    /// at most the progress timeout plus the capped view-change timeout (base × 2^MaxBackoffExponent). Up to f
    /// primaries in a row may be faulty, one more change may be needed to leave a view entered before GST, and
    /// one for a primary passed over by the cool-off: f + 2 view changes. Then the blocks commit, each within
    /// 6 message delays (pre-prepare, vote, prepared, vote, decide, and one tick to propose), plus K blocks for a
    /// checkpoint a lagging replica transfers, plus 4 state-transfer delays and 10 ticks of slack.
    /// </summary>
    public static long LivenessBound(Scenario s)
    {
        var o = s.Options;
        var perViewTicks = (long)o.ProgressTimeoutTicks + ((long)o.ViewChangeTimeoutTicks << o.MaxBackoffExponent);
        var viewTicks = (s.F + 2) * perViewTicks + o.ProgressTimeoutTicks;
        var blocks = (s.Transactions + s.MaxBatch - 1) / s.MaxBatch + o.CheckpointInterval;
        var perBlock = 6 * s.Faults.MaxDelay + s.TickLength;
        return (viewTicks + 10) * s.TickLength + blocks * perBlock + 4 * s.StateTransferDelay;
    }

    private static ProtocolMode RandomMode(Random random) =>
        random.Next(4) == 0 ? ProtocolMode.Classic : ProtocolMode.Linear;

    private static NetworkFaults RandomFaults(Random random) => new(
        MinDelay: 1,
        MaxDelay: random.Next(5, 21),
        Drop: random.NextDouble() * 0.2,
        Duplicate: random.NextDouble() * 0.1,
        Reorder: random.NextDouble() * 0.3,
        ReorderDelay: 100);

    /// <summary><paramref name="count"/> distinct Byzantine replicas; r0 (first primary) half the time.</summary>
    private static List<ByzantineSpec> RandomByzantine(Random random, int n, int count, ByzantineKind[] kinds)
    {
        var ids = Enumerable.Range(0, n).Select(i => new ReplicaId((ushort)i)).ToArray();
        random.Shuffle(ids);
        if (count > 0 && random.Next(2) == 0 && !ids.Take(count).Contains(new ReplicaId(0))) ids[0] = new ReplicaId(0);
        return [.. ids.Take(count).Select(id => new ByzantineSpec(id, kinds[random.Next(kinds.Length)]))];
    }

    private static List<PartitionSpec> RandomPartitions(Random random, int n, long gst)
    {
        var partitions = new List<PartitionSpec>();
        for (var i = random.Next(3); i > 0 && gst > 0; i--)
        {
            var from = random.NextInt64(0, gst);
            var until = Math.Min(gst, from + random.NextInt64(50, 800));
            var side = RandomSubset(random, n);
            if (side.Count > 0 && side.Count < n) partitions.Add(new PartitionSpec(side, from, until));
        }
        return partitions;
    }

    private static HashSet<ReplicaId> RandomSubset(Random random, int n) =>
        [.. Enumerable.Range(0, n).Where(_ => random.Next(2) == 0).Select(i => new ReplicaId((ushort)i))];
}
