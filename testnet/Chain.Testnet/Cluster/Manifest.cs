using System.Text.Json;
using Chain.Ledger.Identity;

namespace Chain.Testnet.Cluster;

/// <summary>
/// <c>testnet.json</c>: what <c>testnet init</c> created, read by every other command. Paths are relative to the
/// testnet folder; every address is on 127.0.0.1.
/// </summary>
internal sealed record Manifest(
    int Version,
    string ChainId,
    int BasePort,
    string Genesis,
    List<ManifestOrganisation> Organisations,
    List<ManifestNode> Nodes,
    List<ManifestLink> Links,
    List<ManifestClient> Clients)
{
    public const int CurrentVersion = 1;

    public ManifestNode Node(int id) => Nodes.FirstOrDefault(n => n.Id == id)
        ?? throw new ArgumentException($"there is no node {id} (this testnet has nodes 0-{Nodes.Count - 1})");

    /// <summary>Every organisation's CA certificate, as absolute paths (for <c>MutualTls.Load</c>).</summary>
    public IEnumerable<(string Organisation, string Path)> TrustedCas(TestnetLayout layout) =>
        Organisations.Select(o => (o.Id, layout.Absolute(o.Ca)));

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, StrictJson.Options) + "\n");

    /// <summary>Loads the manifest of the testnet in <paramref name="layout"/>; a clear error when there is none.</summary>
    public static Manifest Load(TestnetLayout layout)
    {
        if (!File.Exists(layout.Manifest))
            throw new TestnetException($"no testnet in {layout.Root} ({Path.GetFileName(layout.Manifest)} is missing); run 'testnet init' first");
        Manifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(layout.Manifest), StrictJson.Options);
        }
        catch (JsonException e)
        {
            throw new TestnetException($"{layout.Manifest} is not a testnet manifest: {e.Message}", e);
        }
        if (manifest is null || manifest.Version != CurrentVersion)
            throw new TestnetException($"{layout.Manifest}: unsupported manifest version (expected {CurrentVersion})");
        if (manifest.Nodes.Count is < 1 or > TestnetLayout.MaxNodes)
            throw new TestnetException($"{layout.Manifest}: expected 1-{TestnetLayout.MaxNodes} nodes");
        return manifest;
    }
}

/// <summary>An organisation with its role and CA certificate.</summary>
internal sealed record ManifestOrganisation(string Id, string Name, Role Role, string Ca);

/// <summary>A validator node: its organisation, folder, config file and ports.</summary>
internal sealed record ManifestNode(int Id, string Organisation, string Dir, string Config, string Listen, int ListenPort,
    int MetricsPort);

/// <summary>A directed peer link through the fault proxy: node From dials Port, which forwards to node To's TargetPort.</summary>
internal sealed record ManifestLink(int From, int To, int Port, int TargetPort);

/// <summary>A client identity: signing key and TLS certificate in Dir (signing.key, tls.crt, tls.key).</summary>
internal sealed record ManifestClient(string Name, string Organisation, Role Role, string Dir)
{
    /// <summary>Clients that generate load: the hospitals' applications.</summary>
    public bool IsLoadClient => Role == Role.Hospital && Name.Contains("-app", StringComparison.Ordinal);
}
