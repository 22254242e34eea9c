namespace Chain.Node.Tests;

public sealed class NodeOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string json)
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    private const string Valid = """
        { "NodeId": 1, "Genesis": "genesis.json", "SigningKey": "node.key", "Listen": "127.0.0.1:7101",
          "Tls": { "Certificate": "tls.crt", "Key": "tls.key", "TrustedCas": { "hospital-a": "ca.crt" } } }
        """;

    [Fact]
    public void A_valid_file_loads_with_documented_defaults_and_relative_paths()
    {
        var options = NodeHost.LoadOptions(Write(Valid), null);
        Assert.Equal(1, options.NodeId);
        Assert.Equal(Path.Combine(_dir, "genesis.json"), options.Resolve(options.Genesis));
        Assert.Equal(Path.Combine(_dir, "data"), options.Resolve(options.DataDir));
        Assert.Equal(10, options.Consensus.TickMs);
        Assert.Equal(200_000, options.Mempool.Capacity);
        Assert.Equal("cpu-parallel", options.Accelerator.Backend);
        Assert.Equal(100_000, options.VerificationCacheSize);
        Assert.Equal(16 << 20, options.Blobs.MaxBlobBytes);
        Assert.Equal(1L << 30, options.Blobs.MaxTotalBytes);
    }

    [Fact]
    public void The_accelerator_section_binds()
    {
        var options = NodeHost.LoadOptions(Write("""
            { "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } },
              "Accelerator": { "Backend": "opencl", "Path": "plugins/x", "Options": { "device": "pthread" },
                               "CrossCheck": { "FullCheckBatches": 3, "SampleItems": 5 } } }
            """), null);
        Assert.Equal("opencl", options.Accelerator.Backend);
        Assert.Equal("plugins/x", options.Accelerator.Path);
        Assert.Equal("pthread", options.Accelerator.Options["device"]);
        Assert.Equal(3, options.Accelerator.CrossCheck.FullCheckBatches);
        Assert.Equal(5, options.Accelerator.CrossCheck.SampleItems);
    }

    [Fact]
    public void Data_dir_on_the_command_line_wins()
    {
        var options = NodeHost.LoadOptions(Write(Valid), "/tmp/elsewhere");
        Assert.Equal("/tmp/elsewhere", options.Resolve(options.DataDir));
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Colour": "red" }""", "Colour")]
    [InlineData("""{ "Genesis": "g", "SigningKey": "k" }""", "NodeId")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Listen": "nowhere", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } } }""", "Listen")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k" } }""", "TrustedCas")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Consensus": { "TickMs": 0 } }""", "TickMs")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Mempool": { "Capacity": 10, "PerClientCapacity": 11 } }""", "PerClientCapacity")]
    [InlineData("""{ "NodeId": "one" }""", "NodeId")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Accelerator": { "CrossCheck": { "SampleItems": 0 } } }""", "SampleItems")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Accelerator": { "Turbo": true } }""", "Turbo")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "VerificationCacheSize": 0 }""", "VerificationCacheSize")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Blobs": { "MaxBlobBytes": 16777217 } }""", "Blobs:MaxBlobBytes")]
    [InlineData("""{ "NodeId": 1, "Genesis": "g", "SigningKey": "k", "Tls": { "Certificate": "c", "Key": "k", "TrustedCas": { "a": "b" } }, "Blobs": { "MaxBlobBytes": 1000, "MaxTotalBytes": 999 } }""", "Blobs:MaxTotalBytes")]
    public void A_bad_file_is_refused_naming_the_setting(string json, string named)
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeHost.LoadOptions(Write(json), null));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_refused()
    {
        var e = Assert.Throws<NodeConfigException>(() => NodeHost.LoadOptions(Path.Combine(_dir, "absent.json"), null));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }
}
