using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Chain.Ai.Data;
using Chain.Ai.OnChain;
using Chain.Chaincode;
using Chain.Chaincode.Contracts;
using Chain.Client;

namespace Chain.Ai.Tests.OnChain;

/// <summary>Ledger state in memory, keyed as the node keys it ("models/&lt;model&gt;/v/&lt;version&gt;"), scanned in byte order.</summary>
internal sealed class MemoryState : IStateReader
{
    private readonly SortedDictionary<string, byte[]> _state = new(StringComparer.Ordinal);

    public void Put(string key, byte[] value) => _state[key] = value;

    public void Put(string key, string value) => Put(key, Encoding.UTF8.GetBytes(value));

    public void PutVersion(ModelVersion v) => Put($"models/{v.Model}/v/{v.Version}", JsonSerializer.SerializeToUtf8Bytes(v, ContractJson.Options));

    public Task<byte[]?> GetAsync(byte[] key, CancellationToken cancellationToken = default) =>
        Task.FromResult(_state.TryGetValue(Encoding.UTF8.GetString(key), out var v) ? v : null);

    public async IAsyncEnumerable<KeyValuePair<byte[], byte[]>> ScanAsync(byte[] prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        var p = Encoding.UTF8.GetString(prefix);
        foreach (var (k, v) in _state.Where(e => e.Key.StartsWith(p, StringComparison.Ordinal)).ToList())
            yield return KeyValuePair.Create(Encoding.UTF8.GetBytes(k), v);
    }
}

public sealed class ModelAttestorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-ai-attest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Weights(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static ModelVersion Version(string version, byte[] weights, string status, params string[] endorsements) =>
        new("iomt-ids", version, Convert.ToHexStringLower(SHA256.HashData(weights)), version == "1" ? null : "1",
            new TrainingMetadata("data-sha256:00", new Dictionary<string, decimal> { ["auc"] = 0.9m }, 0m),
            "hospital-a", 5, 1_700_000_000_000, [.. endorsements], status, status == "revoked" ? "poisoned training data" : null);

    private static MemoryState State(int policy, params ModelVersion[] versions)
    {
        var state = new MemoryState();
        state.Put("models/iomt-ids/owner", "hospital-a");
        state.Put("models/iomt-ids/policy", policy.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var v in versions) state.PutVersion(v);
        return state;
    }

    private async Task<ModelNotAttestedException> Refused(IStateReader state, string version, byte[] weights) =>
        await Assert.ThrowsAsync<ModelNotAttestedException>(() =>
            ModelAttestor.EnsureUsableAsync(state, "iomt-ids", version, Write($"w-{Guid.NewGuid():N}.bin", weights)));

    [Fact]
    public async Task An_approved_version_with_enough_endorsements_is_usable_and_its_checked_bytes_are_returned()
    {
        var w = Weights(1);
        var state = State(2, Version("1", w, "approved", "hospital-b", "hospital-c"));
        var path = Write("w.bin", w);

        var usable = await ModelAttestor.EnsureUsableAsync(state, "iomt-ids", "1", path);
        var (bytes, again) = await ModelAttestor.ReadUsableAsync(state, "iomt-ids", "1", path);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(w)), usable.WeightsSha256);
        Assert.Equal((2, "hospital-a", "iomt-ids:1"), (usable.Policy, usable.Record.Organisation, usable.LogName));
        Assert.Equal(w, bytes);
        Assert.Equal(usable.WeightsSha256, again.WeightsSha256);
    }

    [Fact]
    public async Task Each_gap_is_named_unknown_model_unknown_version_mismatch_revoked_and_not_endorsed()
    {
        var w = Weights(2);
        Assert.Equal(AttestationGap.UnknownModel, (await Refused(new MemoryState(), "1", w)).Gap);

        var unknown = await Refused(State(2, Version("1", w, "approved", "hospital-b", "hospital-c")), "2", w);
        Assert.Equal(AttestationGap.UnknownVersion, unknown.Gap);
        Assert.Contains("registered: 1", unknown.Message, StringComparison.Ordinal);

        var flipped = (byte[])w.Clone();
        flipped[1234] ^= 0x10;
        var mismatch = await Refused(State(2, Version("1", w, "approved", "hospital-b", "hospital-c")), "1", flipped);
        Assert.Equal(AttestationGap.WeightsMismatch, mismatch.Gap);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(flipped)), mismatch.FileSha256);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(w)), mismatch.Message, StringComparison.Ordinal);

        var revoked = await Refused(State(2, Version("1", w, "revoked", "hospital-b", "hospital-c")), "1", w);
        Assert.Equal(AttestationGap.Revoked, revoked.Gap);
        Assert.Contains("poisoned training data", revoked.Message, StringComparison.Ordinal);

        var pending = await Refused(State(2, Version("1", w, "pending", "hospital-b")), "1", w);
        Assert.Equal((AttestationGap.NotEndorsed, 2), (pending.Gap, pending.Required));
        Assert.Contains("1 of the 2 endorsement(s)", pending.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_raised_after_approval_makes_the_version_unusable_until_endorsed_again()
    {
        var w = Weights(3);
        var gap = await Refused(State(3, Version("1", w, "approved", "hospital-b", "hospital-c")), "1", w);
        Assert.Equal((AttestationGap.NotEndorsed, 3), (gap.Gap, gap.Required));
    }

    [Fact]
    public async Task Bad_names_and_missing_files_are_argument_errors_not_ledger_reads()
    {
        var state = new MemoryState();
        await Assert.ThrowsAsync<ArgumentException>(() => ModelAttestor.EnsureUsableAsync(state, "iomt ids", "1", "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => ModelAttestor.EnsureUsableAsync(state, "iomt-ids", "", "x"));
        await Assert.ThrowsAsync<FileNotFoundException>(() => ModelAttestor.EnsureUsableAsync(state, "iomt-ids", "1", Path.Combine(_dir, "none")));
    }

    [Fact]
    public void Training_metadata_maps_to_the_contracts_fields_and_back()
    {
        var metrics = new Dictionary<string, double> { ["auc"] = 0.973, ["f1"] = 0.912 };
        var none = new TrainingSummary("data-sha256:ab;loader-sha256:cd", TrainingPrivacy.None, metrics).ToContractMetadata();
        Assert.Equal(0m, none.Epsilon);
        Assert.Equal(0m, none.Metrics[TrainingSummary.DpMetric]);
        Assert.Equal(0.973m, none.Metrics["auc"]);

        var dp = new TrainingSummary("fp", TrainingPrivacy.Dp(1.5, 1e-5), metrics);
        var json = dp.ToContractJson();
        var parsed = JsonSerializer.Deserialize<TrainingMetadata>(json, ContractJson.Options)!; // as strictly as the contract reads it
        Assert.Equal((1.5m, 1m, 0.00001m), (parsed.Epsilon, parsed.Metrics[TrainingSummary.DpMetric], parsed.Metrics[TrainingSummary.DeltaMetric]));
        var back = TrainingSummary.FromContractMetadata(parsed);
        Assert.Equal((1.5m, 0.00001m), (back.Privacy.Epsilon!.Value, back.Privacy.Delta!.Value));
        Assert.Equal(metrics, back.Metrics);
        Assert.True(TrainingSummary.FromContractMetadata(none).Privacy.IsNone);

        Assert.Throws<ArgumentException>(() => new TrainingSummary("fp", TrainingPrivacy.None, new Dictionary<string, double> { ["privacy.dp"] = 1 })
            .ToContractMetadata());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingSummary("fp", TrainingPrivacy.None, new Dictionary<string, double> { ["auc"] = double.NaN })
            .ToContractMetadata());
        Assert.Throws<ArgumentException>(() => new TrainingSummary("", TrainingPrivacy.None, metrics).ToContractMetadata());
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingPrivacy.Dp(0, 1e-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingPrivacy.Dp(1, 1));
    }

    [Fact]
    public void The_data_fingerprint_changes_with_the_data_and_with_the_loader_options()
    {
        var data = Write("train.csv", Encoding.UTF8.GetBytes("a,b,Label\n1,2,0\n3,4,1\n"));
        var fp = DataFingerprint.Compute(data, DatasetOptions.WustlEhms2020);
        Assert.Matches("^data-sha256:[0-9a-f]{64};loader-sha256:[0-9a-f]{64}$", fp);
        Assert.Equal(fp, DataFingerprint.Compute(data, DatasetOptions.WustlEhms2020));
        Assert.NotEqual(fp, DataFingerprint.Compute(data, DatasetOptions.WustlEhms2020 with { Drop = ["SrcMac"] }));
        var other = Write("train2.csv", Encoding.UTF8.GetBytes("a,b,Label\n1,2,0\n3,4,0\n"));
        Assert.NotEqual(fp[..76], DataFingerprint.Compute(other, DatasetOptions.WustlEhms2020)[..76]);
        Assert.Throws<FileNotFoundException>(() => DataFingerprint.Compute(Path.Combine(_dir, "none.csv"), "{}"));
    }
}
