using System.Text.Json;
using Chain.Ledger.Identity;

namespace Chain.Testnet.Cluster;

/// <summary>
/// The faults the proxy injects, as <c>run/faults.json</c>: <c>{"isolated":[2]}</c> cuts every link to or from
/// node 2. Written atomically (temporary file, then rename), so the proxy never reads half a file.
/// </summary>
internal sealed record FaultState(List<int> Isolated)
{
    public static FaultState None { get; } = new([]);

    public bool IsCut(int from, int to) => Isolated.Contains(from) || Isolated.Contains(to);

    public bool SameAs(FaultState other) => Isolated.Order().SequenceEqual(other.Isolated.Order());

    public override string ToString() =>
        Isolated.Count == 0 ? "no faults" : "isolated: " + string.Join(", ", Isolated.Order());

    /// <summary>The faults in <paramref name="path"/>; none when the file is absent; null when it is unreadable.</summary>
    public static FaultState? TryRead(string path)
    {
        try
        {
            if (!File.Exists(path)) return None;
            return JsonSerializer.Deserialize<FaultState>(File.ReadAllText(path), StrictJson.Options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this with { Isolated = [.. Isolated.Distinct().Order()] },
            StrictJson.Options) + "\n");
        File.Move(temporary, path, overwrite: true);
    }
}
