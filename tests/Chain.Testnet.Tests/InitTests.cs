using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Chain.Api.Tls;
using Chain.Ledger.Identity;
using Chain.Node;
using Chain.Testnet.Cluster;

namespace Chain.Testnet.Tests;

public sealed class InitTests : IDisposable
{
    private const int BasePort = 17100;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "chain-init-" + Guid.NewGuid().ToString("N"));

    public InitTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Dir => Path.Combine(_root, "net");

    private (TestnetLayout Layout, Manifest Manifest) Init(int nodes = 4)
    {
        var manifest = TestnetInit.Run(Dir, nodes, BasePort, force: false, new StringWriter());
        return (new TestnetLayout(Dir), manifest);
    }

    [Fact]
    public void Genesis_loads_and_lists_every_node_and_client_key_that_init_wrote()
    {
        var (layout, manifest) = Init();
        var genesis = Genesis.LoadFile(layout.Genesis);

        Assert.Equal(TestnetLayout.ChainId, genesis.ChainId);
        Assert.Equal(4, genesis.Validators.Count);
        Assert.Equal(["hospital-a", "hospital-b", "hospital-c", "hospital-d", "auditor", "regulator"],
            genesis.Organisations.Select(o => o.Id));
        Assert.Equal(Role.Auditor, genesis.Organisations.Single(o => o.Id == "auditor").Role);
        Assert.Equal(Role.Regulator, genesis.Organisations.Single(o => o.Id == "regulator").Role);
        for (var i = 0; i < 4; i++)
        {
            using var key = KeyFile.Load(Path.Combine(layout.NodeDir(i), "node.key"));
            Assert.True(genesis.TryGetMember(key.PublicKey, out var member));
            Assert.True(member.IsNode);
            Assert.Equal(TestnetLayout.HospitalId(i), member.Organisation.Id);
            Assert.Equal($"127.0.0.1:{BasePort + i}", genesis.Addresses[(ushort)i]);
        }
        Assert.Equal(10, manifest.Clients.Count);
        foreach (var client in manifest.Clients)
        {
            using var key = KeyFile.Load(Path.Combine(layout.Absolute(client.Dir), "signing.key"));
            Assert.True(genesis.TryGetMember(key.PublicKey, out var member));
            Assert.False(member.IsNode);
            Assert.Equal((client.Organisation, client.Name), (member.Organisation.Id, member.Name));
        }
        Assert.Contains(manifest.Clients, c => c.Name == "hospital-c-app2" && c.IsLoadClient);
        Assert.Contains(manifest.Clients, c => c.Name == "auditor-1" && c.Role == Role.Auditor && !c.IsLoadClient);
        Assert.Contains(manifest.Clients, c => c.Name == "regulator-1" && c.Role == Role.Regulator);
    }

    [Fact]
    public void Certificates_identify_as_their_organisation_and_name_and_a_foreign_ca_is_refused()
    {
        var (layout, manifest) = Init();
        var tls = MutualTls.Load(Path.Combine(layout.NodeDir(0), "tls.crt"), Path.Combine(layout.NodeDir(0), "tls.key"),
            manifest.TrustedCas(layout));

        for (var i = 0; i < 4; i++)
        {
            using var cert = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(layout.NodeDir(i), "tls.crt"));
            Assert.Equal(new TlsIdentity(TestnetLayout.HospitalId(i), $"node-{i}"), tls.Identify(cert));
            var names = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Contains("localhost", names.EnumerateDnsNames());
            Assert.Contains(System.Net.IPAddress.Loopback, names.EnumerateIPAddresses());
            var usages = cert.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages;
            Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], usages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
        }
        foreach (var (client, org) in new[] { ("auditor-1", "auditor"), ("regulator-1", "regulator"), ("hospital-b-app2", "hospital-b") })
        {
            using var cert = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(layout.ClientDir(client), "tls.crt"));
            Assert.Equal(new TlsIdentity(org, client), tls.Identify(cert));
        }

        // A CA made elsewhere, even under the same organisation name, issues nothing the testnet trusts.
        var now = DateTimeOffset.UtcNow;
        using var foreign = OrganisationCa.Create("hospital-a", now);
        using var forged = foreign.Issue("node-0", node: true, now);
        Assert.Null(tls.Identify(forged));

        // The CA, not the name inside the certificate, decides the organisation: hospital-b cannot pose as hospital-a's node.
        using var hospitalB = OrganisationCa.Load("hospital-b", layout.CaCertificate("hospital-b"), layout.CaKey("hospital-b"));
        using var impostor = hospitalB.Issue("node-0", node: true, now);
        Assert.Equal(new TlsIdentity("hospital-b", "node-0"), tls.Identify(impostor));
    }

    [Fact]
    public void Every_private_key_is_owner_only_and_loads()
    {
        var (layout, _) = Init(2);
        var keys = Directory.EnumerateFiles(layout.Root, "*.key", SearchOption.AllDirectories).ToList();
        // 4 CAs, 2 nodes x (signing + TLS), 6 clients x (signing + TLS).
        Assert.Equal(4 + 2 * 2 + 6 * 2, keys.Count);
        foreach (var key in keys)
            Assert.True(File.GetUnixFileMode(key) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{key} is not 0600");
        foreach (var cert in Directory.EnumerateFiles(layout.Root, "tls.crt", SearchOption.AllDirectories))
        {
            using var withKey = X509Certificate2.CreateFromPemFile(cert, Path.ChangeExtension(cert, ".key"));
            Assert.True(withKey.HasPrivateKey);
        }
    }

    [Fact]
    public void Node_configs_are_valid_node_options_whose_peers_go_through_the_proxy()
    {
        var (layout, manifest) = Init();
        Assert.Equal(12, manifest.Links.Count);
        foreach (var node in manifest.Nodes)
        {
            var path = layout.NodeConfig(node.Id);
            var options = JsonSerializer.Deserialize<NodeOptions>(File.ReadAllText(path))!;
            options.ConfigDirectory = Path.GetDirectoryName(path)!;
            options.Validate();

            Assert.Equal(node.Id, options.NodeId);
            Assert.Equal($"127.0.0.1:{BasePort + node.Id}", options.Listen);
            Assert.Equal($"127.0.0.1:{BasePort + 100 + node.Id}", options.MetricsListen);
            Assert.Equal(layout.Genesis, options.Resolve(options.Genesis));
            Assert.True(File.Exists(options.Resolve(options.SigningKey)));
            Assert.True(File.Exists(options.Resolve(options.Tls.Certificate)));
            Assert.True(File.Exists(options.Resolve(options.Tls.Key)));
            Assert.Equal(manifest.Organisations.Select(o => o.Id).Order(), options.Tls.TrustedCas.Keys.Order());
            foreach (var (org, ca) in options.Tls.TrustedCas) Assert.Equal(layout.CaCertificate(org), options.Resolve(ca));

            Assert.Equal(3, options.Peers.Count);
            foreach (var (peer, address) in options.Peers)
            {
                var to = int.Parse(peer, System.Globalization.CultureInfo.InvariantCulture);
                var port = BasePort + 200 + node.Id * 4 + to;
                Assert.Equal($"127.0.0.1:{port}", address);
                Assert.Contains(new ManifestLink(node.Id, to, port, BasePort + to), manifest.Links);
            }
        }
        Assert.Equal(JsonSerializer.Serialize(manifest), JsonSerializer.Serialize(Manifest.Load(layout)));
    }

    [Fact]
    public void Init_refuses_to_overwrite_unless_forced_and_never_replaces_a_folder_that_is_not_a_testnet()
    {
        var (layout, _) = Init(1);
        var before = File.ReadAllText(Path.Combine(layout.NodeDir(0), "node.key"));

        var refused = Assert.Throws<TestnetException>(() => TestnetInit.Run(Dir, 1, BasePort, false, new StringWriter()));
        Assert.Contains("--force", refused.Message);
        Assert.Equal(before, File.ReadAllText(Path.Combine(layout.NodeDir(0), "node.key")));

        TestnetInit.Run(Dir, 2, BasePort, force: true, new StringWriter());
        Assert.NotEqual(before, File.ReadAllText(Path.Combine(layout.NodeDir(0), "node.key")));
        Assert.Equal(2, Genesis.LoadFile(layout.Genesis).Validators.Count);

        var other = Path.Combine(_root, "precious");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.txt"), "keep me");
        var notTestnet = Assert.Throws<TestnetException>(() => TestnetInit.Run(other, 1, BasePort, true, new StringWriter()));
        Assert.Contains("not a testnet folder", notTestnet.Message);
        Assert.True(File.Exists(Path.Combine(other, "notes.txt")));

        var empty = Path.Combine(_root, "empty");
        Directory.CreateDirectory(empty);
        TestnetInit.Run(empty, 1, BasePort, false, new StringWriter());
        Assert.True(File.Exists(Path.Combine(empty, "testnet.json")));
        Assert.Empty(Directory.EnumerateDirectories(_root, ".*init-*"));
    }

    [Theory]
    [InlineData(0, BasePort)]
    [InlineData(17, BasePort)]
    [InlineData(4, 80)]
    [InlineData(16, 65_300)]
    public void Init_refuses_a_bad_shape(int nodes, int basePort)
    {
        Assert.Throws<ArgumentException>(() => TestnetInit.Run(Dir, nodes, basePort, false, new StringWriter()));
        Assert.False(Directory.Exists(Dir));
    }

    [Fact]
    public void Sixteen_nodes_fit_the_port_plan()
    {
        var (_, manifest) = Init(16);
        Assert.Equal(16 * 15, manifest.Links.Count);
        var ports = manifest.Nodes.SelectMany(n => new[] { n.ListenPort, n.MetricsPort }).Concat(manifest.Links.Select(l => l.Port)).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.Equal("hospital-p", manifest.Nodes[15].Organisation);
    }
}
