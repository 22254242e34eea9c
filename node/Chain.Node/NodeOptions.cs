using Chain.Accel.Offload;
using Chain.Consensus;

namespace Chain.Node;

/// <summary>
/// A node's settings: one JSON file (<c>--config</c>), overridden by environment variables <c>CHAIN_NODE_Section__Key</c>
/// and by <c>--data-dir</c>. Relative paths are relative to the config file's folder. Every setting is documented
/// with its default; <see cref="Validate"/> names the first bad one.
/// </summary>
public sealed class NodeOptions
{
    /// <summary>This node's validator id in the genesis. Required.</summary>
    public int NodeId { get; set; } = -1;

    /// <summary>The genesis file. Required.</summary>
    public string Genesis { get; set; } = "";

    /// <summary>The node's Ed25519 signing key file (0600). Required.</summary>
    public string SigningKey { get; set; } = "";

    /// <summary>Where the RocksDB ledger lives. Default "data".</summary>
    public string DataDir { get; set; } = "data";

    /// <summary>Address for peers and clients (gRPC over mutual TLS). Default "127.0.0.1:7000".</summary>
    public string Listen { get; set; } = "127.0.0.1:7000";

    /// <summary>Address for /metrics (Prometheus text) and /health over plain HTTP. Default "127.0.0.1:9000"; "" turns it off.</summary>
    public string MetricsListen { get; set; } = "127.0.0.1:9000";

    /// <summary>Where to dial each peer, by node id, when not at its genesis address (for example through a proxy).</summary>
    public Dictionary<string, string> Peers { get; set; } = [];

    public TlsOptions Tls { get; set; } = new();
    public ConsensusSettings Consensus { get; set; } = new();
    public MempoolOptions Mempool { get; set; } = new();

    /// <summary>
    /// Hash and signature offload: <c>Backend</c> "cpu-parallel" (default, every core), "cpu" (the single-thread
    /// reference) or a plugin ("opencl", from <c>plugins/opencl/</c> beside the node, or <c>Path</c>); <c>Options</c>
    /// for the plugin; <c>CrossCheck</c> (<c>FullCheckBatches</c>, <c>SampleOneIn</c>, <c>SampleItems</c>). A backend that is missing or
    /// fails to start is logged and replaced by the CPU reference.
    /// </summary>
    public AcceleratorSettings Accelerator { get; set; } = new();

    /// <summary>Transactions whose valid signature is remembered, so a block does not re-check them (two generations of this many). Default 100,000.</summary>
    public int VerificationCacheSize { get; set; } = 100_000;

    /// <summary>The off-chain blob store (<c>&lt;DataDir&gt;/blobs</c>): the largest blob and the total it may hold.</summary>
    public BlobSettings Blobs { get; set; } = new();

    public string ConfigDirectory { get; set; } = ".";

    public string Resolve(string path) => Path.GetFullPath(path, ConfigDirectory);

    /// <summary>Checks every setting; throws <see cref="NodeConfigException"/> naming the first bad one.</summary>
    public NodeOptions Validate()
    {
        static NodeConfigException Bad(string m) => new(m);
        if (NodeId is < 0 or > ushort.MaxValue) throw Bad("NodeId must be set to this node's id in the genesis (0-65535)");
        if (string.IsNullOrWhiteSpace(Genesis)) throw Bad("Genesis (the genesis file) is required");
        if (string.IsNullOrWhiteSpace(SigningKey)) throw Bad("SigningKey (the node's key file) is required");
        if (string.IsNullOrWhiteSpace(DataDir)) throw Bad("DataDir must not be empty");
        CheckAddress(Listen, "Listen");
        if (MetricsListen.Length > 0) CheckAddress(MetricsListen, "MetricsListen");
        foreach (var (id, address) in Peers)
        {
            if (!ushort.TryParse(id, out _)) throw Bad($"Peers: '{id}' is not a node id");
            CheckAddress(address, $"Peers:{id}");
        }
        Tls.Validate();
        Consensus.Validate();
        Mempool.Validate();
        if (Accelerator is null) throw Bad("Accelerator must be an object (or left out)");
        if (Accelerator.CrossCheck is null || Accelerator.CrossCheck.FullCheckBatches < 0 || Accelerator.CrossCheck.SampleItems < 1
            || Accelerator.CrossCheck.SampleOneIn < 1)
            throw Bad("Accelerator:CrossCheck needs FullCheckBatches >= 0, SampleOneIn >= 1 and SampleItems >= 1");
        if (VerificationCacheSize is < 1 or > 10_000_000) throw Bad("VerificationCacheSize must be 1-10000000");
        if (Blobs is null) throw Bad("Blobs must be an object (or left out)");
        if (Blobs.MaxBlobBytes is < 1 or > 16 << 20) throw Bad("Blobs:MaxBlobBytes must be 1-16777216");
        if (Blobs.MaxTotalBytes < Blobs.MaxBlobBytes) throw Bad("Blobs:MaxTotalBytes must be at least Blobs:MaxBlobBytes");
        return this;
    }

    internal static (string Host, int Port) CheckAddress(string address, string name)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
            throw new NodeConfigException($"{name} must be host:port (got '{address}')");
        return (address[..colon], port);
    }
}

/// <summary>Mutual TLS: this node's certificate and key (PEM) and every organisation's CA certificate.</summary>
public sealed class TlsOptions
{
    /// <summary>PEM certificate issued by this node's organisation CA (common name "node-&lt;id&gt;"). Required.</summary>
    public string Certificate { get; set; } = "";

    /// <summary>PEM private key of <see cref="Certificate"/>. Required.</summary>
    public string Key { get; set; } = "";

    /// <summary>Trusted CAs: organisation id (as in the genesis) to PEM CA certificate file. Required.</summary>
    public Dictionary<string, string> TrustedCas { get; set; } = [];

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Certificate)) throw new NodeConfigException("Tls:Certificate is required");
        if (string.IsNullOrWhiteSpace(Key)) throw new NodeConfigException("Tls:Key is required");
        if (TrustedCas.Count == 0) throw new NodeConfigException("Tls:TrustedCas must list every organisation's CA certificate");
    }
}

/// <summary>Consensus timing and sizes. Ticks are logical time; the node delivers one every <see cref="TickMs"/>.</summary>
public sealed class ConsensusSettings
{
    /// <summary>Milliseconds per logical tick. Default 10.</summary>
    public int TickMs { get; set; } = 10;

    /// <summary>"Linear" (collector, fast path, reputation) or "Classic" (textbook PBFT). Default Linear.</summary>
    public ProtocolMode Mode { get; set; } = ProtocolMode.Linear;

    /// <summary>A checkpoint every K blocks. Default 16.</summary>
    public int CheckpointInterval { get; set; } = 16;

    /// <summary>Blocks in flight above the stable checkpoint. Default 32.</summary>
    public int Window { get; set; } = 32;

    /// <summary>Ticks the collector waits for all n votes after a quorum (fast path). Default 2.</summary>
    public int FastPathTicks { get; set; } = 2;

    /// <summary>Ticks without progress, while work is pending, before suspecting the primary. Default 100 (1 s).</summary>
    public int ProgressTimeoutTicks { get; set; } = 100;

    /// <summary>Ticks to wait for a new view. Default 100.</summary>
    public int ViewChangeTimeoutTicks { get; set; } = 100;

    /// <summary>
    /// Most uncommitted blocks the primary keeps in flight. More overlaps rounds; fewer makes bigger blocks (less
    /// work per transaction) when rounds are short. Default 2.
    /// </summary>
    public int PipelineDepth { get; set; } = 2;

    /// <summary>Most transactions per block. Default 2,000.</summary>
    public int MaxBlockTransactions { get; set; } = 2000;

    /// <summary>Reputation-based primary selection (Linear mode). Default true.</summary>
    public bool UseReputation { get; set; } = true;

    internal ConsensusOptions ToOptions() => new ConsensusOptions
    {
        Mode = Mode,
        CheckpointInterval = CheckpointInterval,
        Window = Window,
        FastPathTicks = FastPathTicks,
        ProgressTimeoutTicks = ProgressTimeoutTicks,
        ViewChangeTimeoutTicks = ViewChangeTimeoutTicks,
        UseReputation = UseReputation,
    }.Validate();

    internal void Validate()
    {
        if (TickMs is < 1 or > 10_000) throw new NodeConfigException("Consensus:TickMs must be 1-10000");
        if (PipelineDepth < 1 || PipelineDepth > Window) throw new NodeConfigException("Consensus:PipelineDepth must be 1..Window");
        if (MaxBlockTransactions is < 1 or > 100_000) throw new NodeConfigException("Consensus:MaxBlockTransactions must be 1-100000");
        try
        {
            ToOptions();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new NodeConfigException($"Consensus:{e.ParamName} is out of range");
        }
    }
}

/// <summary>The bounded pool of admitted, not yet committed transactions.</summary>
public sealed class MempoolOptions
{
    /// <summary>Most transactions held. Default 200,000.</summary>
    public int Capacity { get; set; } = 200_000;

    /// <summary>Most transactions held for one client key (fairness). Default 50,000.</summary>
    public int PerClientCapacity { get; set; } = 50_000;

    internal void Validate()
    {
        if (Capacity < 1) throw new NodeConfigException("Mempool:Capacity must be at least 1");
        if (PerClientCapacity < 1 || PerClientCapacity > Capacity)
            throw new NodeConfigException("Mempool:PerClientCapacity must be 1..Capacity");
    }
}

/// <summary>The node's configuration is missing or wrong; the message names the setting.</summary>
/// <summary>Limits of the node's off-chain blob store.</summary>
public sealed class BlobSettings
{
    /// <summary>The largest blob accepted, in bytes (at most 16 MiB).</summary>
    public int MaxBlobBytes { get; set; } = 16 << 20;

    /// <summary>The most the store holds, in bytes; a put beyond it is refused (RESOURCE_EXHAUSTED).</summary>
    public long MaxTotalBytes { get; set; } = 1L << 30;
}

public sealed class NodeConfigException(string message, Exception? inner = null) : Exception(message, inner);
