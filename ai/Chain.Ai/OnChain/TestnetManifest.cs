using System.Text.Json;
using Chain.Client;

namespace Chain.Ai.OnChain;

/// <summary>A local testnet's <c>testnet.json</c> (written by <c>testnet init</c>): organisations and their CAs, nodes, clients.</summary>
public sealed class TestnetManifest
{
    public sealed record Organisation(string Id, string Role, string CaPath);

    public sealed record Node(int Id, string Organisation, string Listen);

    public sealed record ClientIdentity(string Name, string Organisation, string Dir);

    private TestnetManifest(string dir, IReadOnlyList<Organisation> organisations, IReadOnlyList<Node> nodes, IReadOnlyList<ClientIdentity> clients)
    {
        Dir = dir;
        Organisations = organisations;
        Nodes = nodes;
        Clients = clients;
    }

    public string Dir { get; }

    public IReadOnlyList<Organisation> Organisations { get; }

    public IReadOnlyList<Node> Nodes { get; }

    public IReadOnlyList<ClientIdentity> Clients { get; }

    /// <summary>Reads <c>DIR/testnet.json</c>; <see cref="InvalidDataException"/> when it is missing or malformed.</summary>
    public static TestnetManifest Load(string dir)
    {
        var full = Path.GetFullPath(dir);
        var file = Path.Combine(full, "testnet.json");
        if (!File.Exists(file)) throw new InvalidDataException($"{full} is not a testnet folder (no testnet.json; run 'testnet init')");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var root = doc.RootElement;
            var orgs = root.GetProperty("organisations").EnumerateArray().Select(o => new Organisation(
                o.GetProperty("id").GetString()!, o.GetProperty("role").GetString()!, Path.GetFullPath(o.GetProperty("ca").GetString()!, full))).ToList();
            var nodes = root.GetProperty("nodes").EnumerateArray().Select(n => new Node(
                n.GetProperty("id").GetInt32(), n.GetProperty("organisation").GetString()!, n.GetProperty("listen").GetString()!)).ToList();
            var clients = root.GetProperty("clients").EnumerateArray().Select(c => new ClientIdentity(
                c.GetProperty("name").GetString()!, c.GetProperty("organisation").GetString()!, Path.GetFullPath(c.GetProperty("dir").GetString()!, full))).ToList();
            return new TestnetManifest(full, orgs, nodes, clients);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"{file} is malformed: {e.Message}", e);
        }
    }

    public ClientIdentity Client(string name) =>
        Clients.FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"the testnet has no client {name}");

    /// <summary>The node of <paramref name="organisation"/>, or null.</summary>
    public Node? NodeOf(string organisation) => Nodes.FirstOrDefault(n => n.Organisation == organisation);

    /// <summary>Connects as <paramref name="clientName"/> to node <paramref name="nodeId"/> (default: its organisation's node, else node 0).</summary>
    public ChainClient Connect(string clientName, int? nodeId = null)
    {
        var client = Client(clientName);
        var node = nodeId is { } id
            ? Nodes.FirstOrDefault(n => n.Id == id) ?? throw new ArgumentException($"the testnet has no node {id}")
            : NodeOf(client.Organisation) ?? Nodes[0];
        return ChainClient.Open(client.Dir, node.Listen, Organisations.Select(o => (o.Id, o.CaPath)));
    }
}
