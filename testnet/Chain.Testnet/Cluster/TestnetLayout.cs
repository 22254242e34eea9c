namespace Chain.Testnet.Cluster;

/// <summary>
/// Where everything of a local testnet lives inside its folder, and how ports are assigned. A node i listens on
/// basePort + i (peers and clients, gRPC over mutual TLS) and basePort + 100 + i (metrics); the fault proxy
/// listens on basePort + 200 + i * n + j for the directed link i -> j and forwards to node j.
/// </summary>
internal sealed class TestnetLayout(string root)
{
    public const int MaxNodes = 16;
    public const string ChainId = "chain-testnet";
    public const string DefaultDir = ".testnet";
    public const int DefaultBasePort = 7100;

    public string Root { get; } = Path.GetFullPath(root);

    public string Manifest => Path.Combine(Root, "testnet.json");
    public string Genesis => Path.Combine(Root, "genesis.json");
    public string CaDir => Path.Combine(Root, "ca");
    public string RunDir => Path.Combine(Root, "run");
    public string LogDir => Path.Combine(RunDir, "logs");
    public string Faults => Path.Combine(RunDir, "faults.json");
    public string ProxyPid => Path.Combine(RunDir, "proxy.pid");
    public string ProxyReady => Path.Combine(RunDir, "proxy.ready");
    public string ProxyLog => Path.Combine(LogDir, "proxy.log");

    public string CaCertificate(string org) => Path.Combine(CaDir, org + ".crt");
    public string CaKey(string org) => Path.Combine(CaDir, org + ".key");
    public string NodeDir(int id) => Path.Combine(Root, "nodes", $"node{id}");
    public string NodeConfig(int id) => Path.Combine(NodeDir(id), "config.json");
    public string NodePid(int id) => Path.Combine(RunDir, $"node{id}.pid");
    public string NodeLog(int id) => Path.Combine(LogDir, $"node{id}.log");
    public string ClientDir(string name) => Path.Combine(Root, "clients", name);

    /// <summary>The path of <paramref name="absolute"/> relative to the testnet folder, with forward slashes.</summary>
    public string Relative(string absolute) => Path.GetRelativePath(Root, absolute).Replace('\\', '/');

    public string Absolute(string relative) => Path.GetFullPath(relative, Root);

    public static int ListenPort(int basePort, int node) => checked(basePort + node);
    public static int MetricsPort(int basePort, int node) => checked(basePort + 100 + node);
    public static int ProxyPort(int basePort, int nodes, int from, int to) => checked(basePort + 200 + from * nodes + to);

    /// <summary>The id of hospital number <paramref name="index"/>: hospital-a, hospital-b, ...</summary>
    public static string HospitalId(int index) => "hospital-" + (char)('a' + index);

    /// <summary>Checks a node count and base port; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public static void CheckShape(int nodes, int basePort)
    {
        if (nodes is < 1 or > MaxNodes) throw new ArgumentException($"--nodes must be between 1 and {MaxNodes}");
        var highest = ProxyPort(Math.Max(basePort, 0), nodes, nodes - 1, nodes - 1);
        if (basePort < 1024 || highest > 65535)
            throw new ArgumentException($"--base-port must leave room for {highest - basePort + 1} ports between 1024 and 65535");
    }
}

/// <summary>An expected failure of a testnet command; its message is printed as one line.</summary>
internal sealed class TestnetException(string message, Exception? inner = null) : Exception(message, inner);
