using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Chain.Chaincode;
using Chain.Chaincode.Contracts;
using Chain.Client.Queries;
using FsCheck.Xunit;

namespace Chain.Client.Tests;

/// <summary>A state reader over a sorted map: a copy of a fixture's state that a test may corrupt, and a count of the
/// entries its scans yield.</summary>
internal sealed class MapReader : IStateReader
{
    private readonly SortedDictionary<byte[], byte[]> _state = new(Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y)));

    public int Scanned { get; private set; }

    public static async Task<MapReader> CopyAsync(IStateReader source)
    {
        var map = new MapReader();
        await foreach (var (k, v) in source.ScanAsync([])) map._state[k] = v;
        return map;
    }

    public MapReader Set(string key, string? value)
    {
        if (value is null) _state.Remove(Encoding.UTF8.GetBytes(key));
        else _state[Encoding.UTF8.GetBytes(key)] = Encoding.UTF8.GetBytes(value);
        return this;
    }

    public Task<byte[]?> GetAsync(byte[] key, CancellationToken cancellationToken = default) =>
        Task.FromResult(_state.TryGetValue(key, out var v) ? v : null);

    public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var kv in _state.Where(kv => kv.Key.AsSpan().StartsWith(prefix)).ToList())
        {
            Scanned++;
            yield return kv;
        }
        await Task.CompletedTask;
    }
}

public sealed class QueryTests : IDisposable
{
    private const string Metadata = """{"datasetFingerprint":"fp-2024","metrics":{"f1":0.91},"epsilon":1.5}""";
    private static readonly byte[] W1 = Encoding.UTF8.GetBytes("weights of version 1");
    private static readonly byte[] W2 = Encoding.UTF8.GetBytes("weights of version 2");
    private static readonly byte[] W3 = Encoding.UTF8.GetBytes("weights of version 3");
    private static readonly byte[] WEcg = Encoding.UTF8.GetBytes("ecg weights");

    private readonly LedgerFixture _f = new();
    private readonly List<string> _temp = [];

    public void Dispose()
    {
        foreach (var path in _temp) File.Delete(path);
        _f.Dispose();
    }

    private static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static string Sha(string text) => Sha(Encoding.UTF8.GetBytes(text));

    private string TempFile(byte[] content)
    {
        var path = Path.GetTempFileName();
        _temp.Add(path);
        File.WriteAllBytes(path, content);
        return path;
    }

    // ---------------------------------------------------------------- models

    /// <summary>iomt-ids: 1 approved (b, c), 2 pending (b), 3 revoked; ecg-anomaly: 1 pending, owned by hospital-c.</summary>
    private void Models()
    {
        _f.Ok(LedgerFixture.A, "models", "register", "iomt-ids", "1", Sha(W1), "", Metadata);
        _f.Ok(LedgerFixture.A, "models", "register", "iomt-ids", "2", Sha(W2), "1", Metadata);
        _f.Ok(LedgerFixture.B, "models", "endorse", "iomt-ids", "1");
        _f.Ok(LedgerFixture.C, "models", "endorse", "iomt-ids", "1");
        _f.Ok(LedgerFixture.B, "models", "endorse", "iomt-ids", "2");
        _f.Ok(LedgerFixture.A, "models", "register", "iomt-ids", "3", Sha(W3), "2", Metadata);
        _f.Ok(LedgerFixture.A, "models", "revoke", "iomt-ids", "3", "poisoned training data");
        _f.Ok(LedgerFixture.C, "models", "register", "ecg-anomaly", "1", Sha(WEcg), "", Metadata);
    }

    [Fact]
    public async Task Models_are_listed_with_owner_policy_latest_and_status_counts()
    {
        Models();
        var list = await new ModelQueries(_f.Reader).ListAsync();
        Assert.Equal(["ecg-anomaly", "iomt-ids"], list.Select(m => m.Model));
        var ids = list[1];
        Assert.Equal(("hospital-a", 2, 3, "3"), (ids.Owner, ids.Policy, ids.Versions, ids.Latest));
        Assert.Equal(new Dictionary<string, int> { ["approved"] = 1, ["pending"] = 1, ["revoked"] = 1 }, ids.StatusCounts);
        Assert.Equal(("hospital-c", 1, "1"), (list[0].Owner, list[0].Versions, list[0].Latest));
        Assert.Equal(new Dictionary<string, int> { ["pending"] = 1 }, list[0].StatusCounts);
        using var empty = new LedgerFixture();
        Assert.Empty(await new ModelQueries(empty.Reader).ListAsync());
    }

    [Fact]
    public async Task A_model_has_its_versions_by_height_and_a_version_its_record()
    {
        Models();
        var q = new ModelQueries(_f.Reader);
        var info = await q.GetModelAsync("iomt-ids");
        Assert.NotNull(info);
        Assert.Equal(("hospital-a", 2), (info.Owner, info.Policy));
        Assert.Equal(["1", "2", "3"], info.Versions.Select(v => v.Version));
        Assert.True(info.Versions.Zip(info.Versions.Skip(1)).All(p => p.First.Height < p.Second.Height));
        Assert.Null(await q.GetModelAsync("no-such-model"));

        var v1 = await q.GetVersionAsync("iomt-ids", "1");
        Assert.NotNull(v1);
        Assert.Equal(("approved", "hospital-a", Sha(W1)), (v1.Status, v1.Organisation, v1.WeightsSha256));
        Assert.Equal(["hospital-b", "hospital-c"], v1.Endorsements);
        Assert.Equal("fp-2024", v1.Metadata.DatasetFingerprint);
        Assert.Null(v1.Parent);
        Assert.Null(await q.GetVersionAsync("iomt-ids", "9"));
        Assert.Null(await q.GetVersionAsync("no-such-model", "1"));

        Assert.Equal("approved", await q.StatusAsync("iomt-ids", "1"));
        Assert.Equal("pending", await q.StatusAsync("iomt-ids", "2"));
        Assert.Equal("revoked", await q.StatusAsync("iomt-ids", "3"));
        Assert.Null(await q.StatusAsync("iomt-ids", "4"));
    }

    [Fact]
    public async Task Lineage_runs_from_the_first_version_to_the_asked_one()
    {
        Models();
        var q = new ModelQueries(_f.Reader);
        Assert.Equal(["1", "2", "3"], (await q.LineageAsync("iomt-ids", "3")).Select(v => v.Version));
        Assert.Equal(["1", "2"], (await q.LineageAsync("iomt-ids", "2")).Select(v => v.Version));
        Assert.Equal(["1"], (await q.LineageAsync("iomt-ids", "1")).Select(v => v.Version));
        Assert.Empty(await q.LineageAsync("iomt-ids", "7"));
    }

    private static string VersionJson(ModelVersion v) => JsonSerializer.Serialize(v, ContractJson.Options);

    [Fact]
    public async Task Lineage_refuses_a_cycle_or_a_missing_parent()
    {
        Models();
        var v1 = (await new ModelQueries(_f.Reader).GetVersionAsync("iomt-ids", "1"))!;

        var cyclic = (await MapReader.CopyAsync(_f.Reader)).Set("models/iomt-ids/v/1", VersionJson(v1 with { Parent = "3" }));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new ModelQueries(cyclic).LineageAsync("iomt-ids", "3"));
        Assert.Contains("cycle", e.Message, StringComparison.Ordinal);
        Assert.Contains("models/iomt-ids/v/", e.Message, StringComparison.Ordinal);

        var orphan = (await MapReader.CopyAsync(_f.Reader)).Set("models/iomt-ids/v/1", VersionJson(v1 with { Parent = "0" }));
        e = await Assert.ThrowsAsync<InvalidDataException>(() => new ModelQueries(orphan).LineageAsync("iomt-ids", "2"));
        Assert.Contains("models/iomt-ids/v/0", e.Message, StringComparison.Ordinal);

        var selfParent = (await MapReader.CopyAsync(_f.Reader)).Set("models/iomt-ids/v/1", VersionJson(v1 with { Parent = "1" }));
        e = await Assert.ThrowsAsync<InvalidDataException>(() => new ModelQueries(selfParent).LineageAsync("iomt-ids", "1"));
        Assert.Contains("models/iomt-ids/v/1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Weights_are_verified_against_a_named_version()
    {
        Models();
        var q = new ModelQueries(_f.Reader);

        var approved = await q.VerifyWeightsAsync("iomt-ids", "1", TempFile(W1));
        Assert.Equal(WeightsVerdict.Approved, approved.Verdict);
        Assert.Equal(Sha(W1), approved.Sha256);
        Assert.Equal("1", approved.Match?.Version);
        Assert.Equal("weights match iomt-ids 1 (approved; endorsed by hospital-b, hospital-c)", approved.Message);

        var pending = await q.VerifyWeightsAsync("iomt-ids", "2", TempFile(W2));
        Assert.Equal(WeightsVerdict.Pending, pending.Verdict);
        Assert.Equal("weights match iomt-ids 2 (pending: 1 of 2 endorsements; endorsed by hospital-b)", pending.Message);

        var revoked = await q.VerifyWeightsAsync("iomt-ids", "3", TempFile(W3));
        Assert.Equal(WeightsVerdict.Revoked, revoked.Verdict);
        Assert.Equal("weights match iomt-ids 3, which is REVOKED: poisoned training data", revoked.Message);

        var wrong = await q.VerifyWeightsAsync("iomt-ids", "1", TempFile(W2));
        Assert.Equal(WeightsVerdict.NoMatch, wrong.Verdict);
        Assert.Null(wrong.Match);
        Assert.Contains(Sha(W1), wrong.Message, StringComparison.Ordinal);
        Assert.Contains(Sha(W2), wrong.Message, StringComparison.Ordinal);

        var unknownVersion = await q.VerifyWeightsAsync("iomt-ids", "9", TempFile(W1));
        Assert.Equal(WeightsVerdict.UnknownVersion, unknownVersion.Verdict);
        Assert.Equal("iomt-ids has no version 9 (registered: 1, 2, 3)", unknownVersion.Message);

        var unknownModel = await q.VerifyWeightsAsync("no-such-model", "1", TempFile(W1));
        Assert.Equal(WeightsVerdict.UnknownModel, unknownModel.Verdict);
        Assert.Equal("model no-such-model is not registered", unknownModel.Message);
        Assert.Equal(Sha(W1), unknownModel.Sha256);

        await Assert.ThrowsAsync<FileNotFoundException>(() => q.VerifyWeightsAsync("iomt-ids", "1", Path.Combine(Path.GetTempPath(), $"no-such-weights-{Sha(W1)}.bin")));
    }

    [Fact]
    public async Task Weights_without_a_version_are_searched_among_all_versions()
    {
        Models();
        var q = new ModelQueries(_f.Reader);
        Assert.Equal((WeightsVerdict.Approved, "1"), Verdict(await q.VerifyWeightsAsync("iomt-ids", null, TempFile(W1))));
        Assert.Equal((WeightsVerdict.Pending, "2"), Verdict(await q.VerifyWeightsAsync("iomt-ids", null, TempFile(W2))));
        Assert.Equal((WeightsVerdict.Revoked, "3"), Verdict(await q.VerifyWeightsAsync("iomt-ids", null, TempFile(W3))));
        var none = await q.VerifyWeightsAsync("iomt-ids", null, TempFile(WEcg));
        Assert.Equal((WeightsVerdict.NoMatch, null), Verdict(none));
        Assert.Equal($"weights (sha256 {Sha(WEcg)}) match none of the 3 registered versions of iomt-ids", none.Message);
        Assert.Equal(WeightsVerdict.UnknownModel, (await q.VerifyWeightsAsync("no-such-model", null, TempFile(W1))).Verdict);

        // A stream is hashed from its position to its end, in pieces.
        using var stream = new MemoryStream([.. new byte[7], .. W1]) { Position = 7 };
        Assert.Equal((WeightsVerdict.Approved, "1"), Verdict(await q.VerifyWeightsAsync("iomt-ids", null, stream)));
    }

    [Fact]
    public async Task The_same_weights_under_two_versions_get_the_most_cautious_verdict()
    {
        Models();
        // Version 4 re-registers the approved weights of version 1; it is then revoked.
        _f.Ok(LedgerFixture.A, "models", "register", "iomt-ids", "4", Sha(W1), "3", Metadata);
        var q = new ModelQueries(_f.Reader);
        var both = await q.VerifyWeightsAsync("iomt-ids", null, TempFile(W1));
        Assert.Equal((WeightsVerdict.Approved, "1"), Verdict(both));
        Assert.Contains("also registered as version(s) 4 (pending)", both.Message, StringComparison.Ordinal);
        _f.Ok(LedgerFixture.A, "models", "revoke", "iomt-ids", "4", "reused weights");
        Assert.Equal((WeightsVerdict.Revoked, "4"), Verdict(await q.VerifyWeightsAsync("iomt-ids", null, TempFile(W1))));
        Assert.Equal((WeightsVerdict.Approved, "1"), Verdict(await q.VerifyWeightsAsync("iomt-ids", "1", TempFile(W1))));
    }

    private static (WeightsVerdict, string?) Verdict(WeightsVerification v) => (v.Verdict, v.Match?.Version);

    // ---------------------------------------------------------------- defense

    private static string Batch(params (string Device, string Severity)[] actions) =>
        JsonSerializer.Serialize(actions.Select((a, i) =>
            new DefenseAction("agent-1", "iomt-ids:1", a.Severity, a.Device, i % 2 == 0 ? "isolate" : "alert", Sha($"evidence {a.Device} {i}"))).ToList(),
            ContractJson.Options);

    private const long Real = 1_712_345_678_901;

    /// <summary>Actions as (timestamp, device, severity, organisation), in the log's order.</summary>
    private static readonly (long, string, string, string)[] Logged =
    [
        (10_000, "pump-1", "high", "hospital-a"), (10_000, "monitor-2", "low", "hospital-a"),
        (20_000, "pump-1", "critical", "hospital-b"), (20_000, "vent-3", "high", "hospital-b"), (20_000, "pump-1", "low", "hospital-b"),
        (30_000, "monitor-2", "high", "hospital-a"),
        (1_000_000, "pump-1", "high", "hospital-c"),
        (Real, "vent-3", "medium", "hospital-d"),
    ];

    private void Defense()
    {
        _f.NextTimestamp = 10_000;
        _f.Ok(LedgerFixture.A, "defense", "record", Batch(("pump-1", "high"), ("monitor-2", "low")));
        _f.NextTimestamp = 20_000;
        _f.Ok(LedgerFixture.B, "defense", "record", Batch(("pump-1", "critical"), ("vent-3", "high"), ("pump-1", "low")));
        _f.NextTimestamp = 30_000;
        _f.Ok(LedgerFixture.A, "defense", "record", Batch(("monitor-2", "high")));
        _f.NextTimestamp = 1_000_000;
        _f.Ok(LedgerFixture.C, "defense", "record", Batch(("pump-1", "high")));
        _f.NextTimestamp = Real;
        _f.Ok(LedgerFixture.D, "defense", "record", Batch(("vent-3", "medium")));
    }

    private static (long, string, string, string) Row(LoggedAction a) => (a.Timestamp, a.Entry.Device, a.Entry.Severity, a.Organisation);

    private async Task<(long, string, string, string)[]> Query(DefenseQuery query, IStateReader? reader = null)
    {
        var q = new DefenseQueries(reader ?? _f.Reader);
        var rows = (await q.QueryAsync(query)).Select(Row).ToArray();
        if (query.Limit == new DefenseQuery().Limit) Assert.Equal(rows.Length, await q.CountAsync(query));
        return rows;
    }

    private static (long, string, string, string)[] Expected(Func<(long Time, string Device, string Severity, string Org), bool> match) =>
        [.. Logged.Where(r => match(r))];

    [Fact]
    public async Task Defense_actions_are_returned_in_time_order()
    {
        Defense();
        Assert.Equal(Logged, await Query(new DefenseQuery()));
        var all = await new DefenseQueries(_f.Reader).QueryAsync(new DefenseQuery());
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Timestamp <= p.Second.Timestamp));
        Assert.Equal(["isolate", "alert", "isolate"], all.Where(a => a.Timestamp == 20_000).Select(a => a.Entry.Action));
        Assert.All(all, a => Assert.Equal(64, a.Tx.Length));
    }

    [Fact]
    public async Task Defense_actions_are_found_by_device_and_by_severity()
    {
        Defense();
        Assert.Equal(Expected(r => r.Device == "pump-1"), await Query(new DefenseQuery(Device: "pump-1")));
        Assert.Equal(4, (await Query(new DefenseQuery(Device: "pump-1"))).Length);
        Assert.Equal(Expected(r => r.Device == "vent-3"), await Query(new DefenseQuery(Device: "vent-3")));
        Assert.Empty(await Query(new DefenseQuery(Device: "pump")));
        Assert.Equal(Expected(r => r.Severity == "high"), await Query(new DefenseQuery(Severity: "high")));
        Assert.Equal(Expected(r => r.Severity == "critical"), await Query(new DefenseQuery(Severity: "critical")));
        Assert.Empty(await Query(new DefenseQuery(Severity: "info")));
        Assert.Equal(Expected(r => r.Device == "pump-1" && r.Severity == "high"), await Query(new DefenseQuery(Device: "pump-1", Severity: "high")));
    }

    [Fact]
    public async Task Defense_actions_are_found_by_time_range()
    {
        Defense();
        Assert.Equal(Expected(r => r.Time >= 20_000), await Query(new DefenseQuery(Since: 20_000)));
        Assert.Equal(Expected(r => r.Time > 20_000), await Query(new DefenseQuery(Since: 20_001)));
        Assert.Equal(Expected(r => r.Time < 30_000), await Query(new DefenseQuery(Until: 30_000)));
        Assert.Equal(Expected(r => r.Time <= 30_000), await Query(new DefenseQuery(Until: 30_001)));
        Assert.Equal(Expected(r => r.Time == 20_000), await Query(new DefenseQuery(Since: 20_000, Until: 30_000)));
        Assert.Equal(Expected(r => r.Time >= 15_000 && r.Time < Real), await Query(new DefenseQuery(Since: 15_000, Until: Real)));
        Assert.Equal(Expected(r => r.Time == Real), await Query(new DefenseQuery(Since: Real - 901)));
        Assert.Equal(Expected(r => r.Time == Real), await Query(new DefenseQuery(Since: Real, Until: Real + 1)));
        Assert.Empty(await Query(new DefenseQuery(Since: Real + 1)));
        Assert.Empty(await Query(new DefenseQuery(Since: 20_000, Until: 20_000)));
        Assert.Empty(await Query(new DefenseQuery(Until: 10_000)));
        Assert.Equal(Logged, await Query(new DefenseQuery(Since: 0, Until: long.MaxValue)));
    }

    [Fact]
    public async Task Defense_filters_combine_and_the_limit_keeps_the_oldest()
    {
        Defense();
        Assert.Equal(Expected(r => r.Device == "pump-1" && r.Time >= 15_000), await Query(new DefenseQuery(Since: 15_000, Device: "pump-1")));
        Assert.Equal(Expected(r => r.Device == "pump-1" && r.Severity == "high" && r.Time >= 15_000),
            await Query(new DefenseQuery(Since: 15_000, Device: "pump-1", Severity: "high")));
        Assert.Equal(Expected(r => r.Severity == "high" && r.Time >= 15_000 && r.Time < 1_000_000),
            await Query(new DefenseQuery(Since: 15_000, Until: 1_000_000, Severity: "high")));
        Assert.Equal(Logged[..2], await Query(new DefenseQuery(Limit: 2)));
        Assert.Equal(Logged[2..5], await Query(new DefenseQuery(Since: 20_000, Limit: 3)));
        Assert.Equal(Expected(r => r.Device == "pump-1")[..1], await Query(new DefenseQuery(Device: "pump-1", Limit: 1)));
        Assert.Equal(4, await new DefenseQueries(_f.Reader).CountAsync(new DefenseQuery(Severity: "high", Limit: 1)));
    }

    [Fact]
    public async Task A_time_range_is_scanned_by_prefix_not_from_the_start_of_the_log()
    {
        Defense();
        var reader = await MapReader.CopyAsync(_f.Reader);
        var found = await new DefenseQueries(reader).QueryAsync(new DefenseQuery(Since: 1_000_000));
        Assert.Equal(2, found.Count);
        Assert.Equal(2, reader.Scanned); // the records at 1,000,000 and Real; none of the 6 before

        reader = await MapReader.CopyAsync(_f.Reader);
        Assert.Single(await new DefenseQueries(reader).QueryAsync(new DefenseQuery(Since: 20_000, Device: "pump-1", Limit: 1)));
        Assert.Equal(1, reader.Scanned);
    }

    [Fact]
    public async Task Defense_queries_are_validated()
    {
        var q = new DefenseQueries(_f.Reader);
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => q.QueryAsync(new DefenseQuery(Limit: 0)));
        Assert.Contains("Limit must be from 1 to 10000", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => q.QueryAsync(new DefenseQuery(Limit: 10_001)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => q.QueryAsync(new DefenseQuery(Since: -1)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => q.QueryAsync(new DefenseQuery(Until: -1)));
        await Assert.ThrowsAsync<ArgumentException>(() => q.QueryAsync(new DefenseQuery(Since: 10, Until: 5)));
        await Assert.ThrowsAsync<ArgumentException>(() => q.QueryAsync(new DefenseQuery(Severity: "severe")));
        await Assert.ThrowsAsync<ArgumentException>(() => q.QueryAsync(new DefenseQuery(Device: "pump-1/00000")));
        await Assert.ThrowsAsync<ArgumentException>(() => q.QueryAsync(new DefenseQuery(Device: "")));
        Assert.Empty(await q.QueryAsync(new DefenseQuery(Limit: 10_000)));
        Assert.Empty(await q.QueryAsync(new DefenseQuery(Limit: 1, Device: "pump-1", Severity: "info")));
    }

    /// <summary>The prefix cover of [low, high] is ascending, disjoint, covers every time in the range, and the only times
    /// outside it that it covers lie within a second before low or after high's window start (which the scan filters).</summary>
    [Property(MaxTest = 300)]
    public bool Time_prefixes_cover_exactly_the_range(int seed)
    {
        var random = new Random(seed);
        long Pick() => random.Next(4) switch
        {
            0 => random.NextInt64(0, 100_000),
            1 => random.NextInt64(0, 10_000_000_000_000),
            2 => random.NextInt64(0, long.MaxValue),
            _ => (long)Math.Pow(10, random.Next(19)) * random.Next(1, 10),
        };
        var (a, b) = (Pick(), Pick());
        var (low, high) = a <= b ? (a, b) : (b, a);
        var prefixes = DefenseQueries.TimePrefixes(low, high).ToList();
        if (prefixes.Count > 9 * 19 + 10) return false;
        for (var i = 1; i < prefixes.Count; i++)
        {
            // Ascending and disjoint: no prefix starts another, and each sorts after the previous.
            if (string.CompareOrdinal(prefixes[i - 1], prefixes[i]) >= 0 || prefixes[i].StartsWith(prefixes[i - 1], StringComparison.Ordinal)) return false;
        }
        bool Covered(long t) => prefixes.Any(p => t.ToString("D20", CultureInfo.InvariantCulture).StartsWith(p, StringComparison.Ordinal));
        var inside = new[] { low, high, low + (high - low) / 2, low + (high - low) / 3 }.Concat(Enumerable.Range(0, 20).Select(_ => low + random.NextInt64(0, high - low + 1)));
        if (!inside.All(Covered)) return false;
        // Before low, only low's one-second window may be covered.
        if (low - low % 1000 > 0 && Covered(low - low % 1000 - 1)) return false;
        return prefixes.All(p => p.Length <= 20);
    }

    // ---------------------------------------------------------------- rounds

    private void Rounds()
    {
        _f.Ok(LedgerFixture.Regulator, "fl", "budget", "icu-vitals", "5.0");
        _f.Ok(LedgerFixture.Regulator, "fl", "budget", "ecg", "2");
        _f.Ok(LedgerFixture.Regulator, "fl", "budget", "unused", "1");
        _f.Ok(LedgerFixture.A, "fl", "open", "r1", "icu-vitals", "fedavg", "hospital-a,hospital-b,hospital-c");
        _f.Ok(LedgerFixture.A, "fl", "submit", "r1", Sha("update a"), "1.0");
        _f.Ok(LedgerFixture.B, "fl", "submit", "r1", Sha("update b"), "0.5");
        _f.Ok(LedgerFixture.A, "fl", "close", "r1", Sha("aggregate"));
        _f.Ok(LedgerFixture.B, "fl", "open", "r2", "ecg", "median", "hospital-b,hospital-d");
        _f.Ok(LedgerFixture.D, "fl", "submit", "r2", Sha("update d"), "0.25");
    }

    [Fact]
    public async Task Rounds_are_listed_and_read()
    {
        Rounds();
        var q = new RoundQueries(_f.Reader);
        var rounds = await q.ListRoundsAsync();
        Assert.Equal([("r1", "closed"), ("r2", "open")], rounds.Select(r => (r.Round, r.Status)));
        var r1 = await q.GetRoundAsync("r1");
        Assert.NotNull(r1);
        Assert.Equal(("icu-vitals", "fedavg", "hospital-a", Sha("aggregate")), (r1.Dataset, r1.Rule, r1.Coordinator, r1.AggregateSha256));
        Assert.Equal(["hospital-a", "hospital-b", "hospital-c"], r1.Participants);
        Assert.Equal(Sha("update b"), r1.Updates["hospital-b"]);
        Assert.Equal(0.5m, r1.Epsilon["hospital-b"]);
        var r2 = await q.GetRoundAsync("r2");
        Assert.Equal(("open", null, 1), (r2!.Status, r2.AggregateSha256, r2.Updates.Count));
        Assert.Null(await q.GetRoundAsync("r3"));
        using var empty = new LedgerFixture();
        Assert.Empty(await new RoundQueries(empty.Reader).ListRoundsAsync());
        Assert.Empty(await new RoundQueries(empty.Reader).ListBudgetsAsync());
    }

    [Fact]
    public async Task Budgets_show_what_is_spent_and_what_remains()
    {
        Rounds();
        var budgets = await new RoundQueries(_f.Reader).ListBudgetsAsync();
        Assert.Equal(
            [new PrivacyBudget("ecg", 2m, 0.25m), new PrivacyBudget("icu-vitals", 5.0m, 1.5m), new PrivacyBudget("unused", 1m, 0m)],
            budgets);
        Assert.Equal([1.75m, 3.5m, 1m], budgets.Select(b => b.Remaining));
    }

    // ---------------------------------------------------------------- malformed state and hostile names

    public static TheoryData<string, string, string> Corruptions => new()
    {
        { "models/iomt-ids/v/1", "{not json", "version" },
        { "models/iomt-ids/v/1", "null", "version" },
        { "models/iomt-ids/v/1", """{"model":"iomt-ids","version":"1"}""", "version" },
        { "models/iomt-ids/v/2", "VERSION1", "version" },
        { "models/iomt-ids/policy", "two", "model" },
        { "models/iomt-ids/policy", "-1", "model" },
        { "models/iomt-ids/owner", "DELETE", "list" },
        { "models/iomt-ids/policy", "DELETE", "model" },
        { "fl/budget/ecg", "lots", "budgets" },
        { "fl/spent/ecg", "1e3", "budgets" },
        { "fl/spent/nobudget", "1", "budgets" },
        { "fl/round/r1", "{}", "round" },
        { "fl/round/r1", "[]", "rounds" },
        { "fl/round/r1", "ROUND2", "round" },
        { "defense/t/00000000000000010000/tx/0000", "[]", "defense" },
        { "defense/t/not-a-time/tx/0000", "{}", "defense" },
        { "defense/d/pump-1/00000000000000001000/tx/0000", "", "device" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public async Task Malformed_state_is_reported_with_its_key(string key, string value, string query)
    {
        Models();
        Rounds();
        Defense();
        var reader = await MapReader.CopyAsync(_f.Reader);
        if (value == "VERSION1") value = Encoding.UTF8.GetString((await reader.GetAsync("models/iomt-ids/v/1"u8.ToArray()))!);
        if (value == "ROUND2") value = Encoding.UTF8.GetString((await reader.GetAsync("fl/round/r2"u8.ToArray()))!);
        reader.Set(key, value == "DELETE" ? null : value);
        Task run = query switch
        {
            "version" => new ModelQueries(reader).GetVersionAsync("iomt-ids", key[^1..]),
            "model" => new ModelQueries(reader).GetModelAsync("iomt-ids"),
            "list" => new ModelQueries(reader).ListAsync(),
            "budgets" => new RoundQueries(reader).ListBudgetsAsync(),
            "round" => new RoundQueries(reader).GetRoundAsync("r1"),
            "rounds" => new RoundQueries(reader).ListRoundsAsync(),
            "defense" => new DefenseQueries(reader).QueryAsync(new DefenseQuery()),
            "device" => new DefenseQueries(reader).QueryAsync(new DefenseQuery(Device: "pump-1")),
            _ => throw new ArgumentOutOfRangeException(nameof(query)),
        };
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => run);
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_json_is_not_a_raw_json_exception()
    {
        var reader = new MapReader().Set("models/m/v/1", "{\"model\":").Set("models/m/owner", "hospital-a").Set("models/m/policy", "2");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new ModelQueries(reader).GetModelAsync("m"));
        Assert.IsType<JsonException>(e.InnerException, exactMatch: false);
        Assert.StartsWith("state models/m/v/1 is not a valid ModelVersion record", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<InvalidDataException>(() => new ModelQueries(reader).ListAsync());
        Assert.Contains("models/m/v/1", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> BadNames => ["", "a/b", "iomt-ids/v", "../models", "a b", "ümlaut", new string('a', 65), "x\n", "*"];

    [Theory]
    [MemberData(nameof(BadNames))]
    public async Task Names_outside_the_contract_rule_are_refused(string name)
    {
        Models();
        var models = new ModelQueries(_f.Reader);
        var rounds = new RoundQueries(_f.Reader);
        using var empty = new MemoryStream();
        foreach (var call in new Func<Task>[]
        {
            () => models.GetModelAsync(name),
            () => models.GetVersionAsync(name, "1"),
            () => models.GetVersionAsync("iomt-ids", name),
            () => models.LineageAsync("iomt-ids", name),
            () => models.StatusAsync(name, "1"),
            () => models.VerifyWeightsAsync(name, null, empty),
            () => models.VerifyWeightsAsync("iomt-ids", name, empty),
            () => rounds.GetRoundAsync(name),
            () => new DefenseQueries(_f.Reader).QueryAsync(new DefenseQuery(Device: name)),
        })
        {
            var e = await Assert.ThrowsAsync<ArgumentException>(call);
            Assert.Contains("[A-Za-z0-9._:-]", e.Message, StringComparison.Ordinal);
        }
        await Assert.ThrowsAsync<ArgumentNullException>(() => models.GetModelAsync(null!));
    }
}
