using System.Text.Json;
using Chain.Ledger.Identity;

namespace Chain.Testnet.Cluster;

/// <summary>The node's config file as <c>testnet init</c> writes it (the shape of Chain.Node's NodeOptions).</summary>
internal sealed record NodeConfigFile(
    int NodeId,
    string Genesis,
    string SigningKey,
    string DataDir,
    string Listen,
    string MetricsListen,
    Dictionary<string, string> Peers,
    NodeTlsConfig Tls);

internal sealed record NodeTlsConfig(string Certificate, string Key, Dictionary<string, string> TrustedCas);

/// <summary>
/// <c>testnet init</c>: one folder with a CA per organisation, every node's signing key, TLS certificate and config,
/// every client's signing key and TLS certificate, the genesis and the manifest. The folder is built beside its
/// destination and moved into place at the end, so a failure leaves nothing half-made.
/// </summary>
internal static class TestnetInit
{
    private static readonly JsonSerializerOptions ConfigJson = new() { WriteIndented = true };

    public static Manifest Run(string dir, int nodes, int basePort, bool force, TextWriter output)
    {
        TestnetLayout.CheckShape(nodes, basePort);
        var target = new TestnetLayout(dir);
        PrepareTarget(target, force);
        var staging = new TestnetLayout(Path.Combine(Path.GetDirectoryName(target.Root) ?? ".",
            $".{Path.GetFileName(target.Root)}.init-{Guid.NewGuid():N}"));
        try
        {
            var manifest = Create(staging, nodes, basePort, DateTimeOffset.UtcNow);
            if (Directory.Exists(target.Root)) Directory.Delete(target.Root, recursive: true);
            Directory.Move(staging.Root, target.Root);
            output.WriteLine($"created testnet '{manifest.ChainId}' in {target.Root}: {nodes} validator node(s), " +
                $"{manifest.Organisations.Count} organisations, {manifest.Clients.Count} clients; " +
                $"nodes listen on 127.0.0.1:{TestnetLayout.ListenPort(basePort, 0)}-{TestnetLayout.ListenPort(basePort, nodes - 1)}");
            return manifest;
        }
        finally
        {
            if (Directory.Exists(staging.Root)) Directory.Delete(staging.Root, recursive: true);
        }
    }

    /// <summary>Refuses an existing, non-empty folder unless forced; even forced, only a testnet folder is replaced.</summary>
    private static void PrepareTarget(TestnetLayout target, bool force)
    {
        if (File.Exists(target.Root)) throw new TestnetException($"{target.Root} exists and is a file");
        if (!Directory.Exists(target.Root) || !Directory.EnumerateFileSystemEntries(target.Root).Any()) return;
        if (!force) throw new TestnetException($"{target.Root} already exists; use --force to replace it");
        if (!File.Exists(target.Manifest))
            throw new TestnetException($"{target.Root} is not a testnet folder (no testnet.json); refusing to replace it even with --force");
        var running = ClusterProcesses.Running(target);
        if (running.Count > 0)
            throw new TestnetException($"the testnet in {target.Root} is running ({string.Join(", ", running)}); run 'testnet down' first");
    }

    internal static Manifest Create(TestnetLayout layout, int nodes, int basePort, DateTimeOffset now)
    {
        Directory.CreateDirectory(layout.CaDir);
        var organisations = new List<ManifestOrganisation>();
        for (var i = 0; i < nodes; i++)
        {
            var id = TestnetLayout.HospitalId(i);
            organisations.Add(new ManifestOrganisation(id, "Hospital " + char.ToUpperInvariant(id[^1]), Role.Hospital, ""));
        }
        organisations.Add(new ManifestOrganisation("auditor", "Auditor", Role.Auditor, ""));
        organisations.Add(new ManifestOrganisation("regulator", "Regulator", Role.Regulator, ""));
        organisations = organisations.Select(o => o with { Ca = layout.Relative(layout.CaCertificate(o.Id)) }).ToList();

        var cas = new Dictionary<string, OrganisationCa>();
        try
        {
            foreach (var org in organisations)
            {
                var ca = OrganisationCa.Create(org.Id, now);
                cas.Add(org.Id, ca);
                ca.Save(layout.CaCertificate(org.Id), layout.CaKey(org.Id));
            }

            var nodeEntries = new List<ManifestNode>();
            var links = new List<ManifestLink>();
            var nodeDocs = new Dictionary<string, List<Genesis.NodeDocument>>();
            for (var i = 0; i < nodes; i++)
            {
                var org = TestnetLayout.HospitalId(i);
                var nodeDir = layout.NodeDir(i);
                Directory.CreateDirectory(nodeDir);
                var publicKey = KeyFile.Generate(Path.Combine(nodeDir, "node.key"), $"{org} node {i}");
                using (var cert = cas[org].Issue($"node-{i}", node: true, now))
                    Pem.Save(cert, Path.Combine(nodeDir, "tls.crt"), Path.Combine(nodeDir, "tls.key"));
                var listen = $"127.0.0.1:{TestnetLayout.ListenPort(basePort, i)}";
                var peers = new Dictionary<string, string>();
                for (var j = 0; j < nodes; j++)
                {
                    if (j == i) continue;
                    var port = TestnetLayout.ProxyPort(basePort, nodes, i, j);
                    peers.Add(j.ToString(System.Globalization.CultureInfo.InvariantCulture), $"127.0.0.1:{port}");
                    links.Add(new ManifestLink(i, j, port, TestnetLayout.ListenPort(basePort, j)));
                }
                var fromNode = Path.GetRelativePath(nodeDir, layout.Root).Replace('\\', '/');
                var config = new NodeConfigFile(i, $"{fromNode}/genesis.json", "node.key", "data", listen,
                    $"127.0.0.1:{TestnetLayout.MetricsPort(basePort, i)}", peers,
                    new NodeTlsConfig("tls.crt", "tls.key",
                        organisations.ToDictionary(o => o.Id, o => $"{fromNode}/{o.Ca}")));
                File.WriteAllText(layout.NodeConfig(i), JsonSerializer.Serialize(config, ConfigJson) + "\n");
                nodeDocs.Add(org, [new Genesis.NodeDocument((ushort)i, $"node{i}", publicKey.ToString(), listen)]);
                nodeEntries.Add(new ManifestNode(i, org, layout.Relative(nodeDir), layout.Relative(layout.NodeConfig(i)),
                    listen, TestnetLayout.ListenPort(basePort, i), TestnetLayout.MetricsPort(basePort, i)));
            }

            var clients = new List<ManifestClient>();
            var clientDocs = new Dictionary<string, List<Genesis.ClientDocument>>();
            foreach (var org in organisations)
            {
                string[] names = org.Role == Role.Hospital ? [$"{org.Id}-app", $"{org.Id}-app2"] : [$"{org.Id}-1"];
                var docs = new List<Genesis.ClientDocument>();
                foreach (var name in names)
                {
                    var clientDir = layout.ClientDir(name);
                    Directory.CreateDirectory(clientDir);
                    var publicKey = KeyFile.Generate(Path.Combine(clientDir, "signing.key"), name);
                    using (var cert = cas[org.Id].Issue(name, node: false, now))
                        Pem.Save(cert, Path.Combine(clientDir, "tls.crt"), Path.Combine(clientDir, "tls.key"));
                    docs.Add(new Genesis.ClientDocument(name, publicKey.ToString()));
                    clients.Add(new ManifestClient(name, org.Id, org.Role, layout.Relative(clientDir)));
                }
                clientDocs.Add(org.Id, docs);
            }

            var document = new Genesis.Document(TestnetLayout.ChainId, now.ToUnixTimeMilliseconds(),
                organisations.Select(o => new Genesis.OrganisationDocument(o.Id, o.Name, o.Role,
                    nodeDocs.GetValueOrDefault(o.Id) ?? [], clientDocs[o.Id])).ToList());
            File.WriteAllText(layout.Genesis, Genesis.FromDocument(document).ToJson() + "\n");
            var genesis = Genesis.LoadFile(layout.Genesis);
            if (genesis.Validators.Count != nodes)
                throw new TestnetException($"the written genesis lists {genesis.Validators.Count} validators, expected {nodes}");

            Directory.CreateDirectory(layout.RunDir);
            var manifest = new Manifest(Manifest.CurrentVersion, TestnetLayout.ChainId, basePort,
                layout.Relative(layout.Genesis), organisations, nodeEntries, links, clients);
            manifest.Save(layout.Manifest);
            return manifest;
        }
        finally
        {
            foreach (var ca in cas.Values) ca.Dispose();
        }
    }
}
