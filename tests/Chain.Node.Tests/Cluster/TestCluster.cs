using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Chain.Api.V1;
using Chain.Ledger.Identity;
using Chain.Testnet.Cluster;
using Grpc.Core;
using Spectre.Console;

namespace Chain.Node.Tests.Cluster;

/// <summary>One node's answer to GetStatus, or why there was none.</summary>
internal sealed record Probe(int Node, NodeStatus? Status, string? Error)
{
    public override string ToString() => Status is { } s
        ? $"node {Node}: height {s.Height} tip {Short(s.TipHash)} root {Convert.ToHexStringLower(s.StateRoot.Span)[..8]} " +
          $"view {s.View} primary {s.Primary}{(s.InViewChange ? " (view change)" : "")} mempool {s.MempoolSize} peers {s.PeersConnected}"
        : $"node {Node}: {Error}";

    private static string Short(string hash) => hash.Length > 8 ? hash[..8] : hash;
}

/// <summary>
/// A real 4-node testnet for one test: <c>testnet init</c> in a fresh folder under /tmp/chain-cluster-tests/p&lt;base
/// port&gt;/, then <c>testnet up</c> (fault proxy and 4 Chain.Node processes on 127.0.0.1), driven in-process through
/// the testnet's own classes (ClusterControl, the same code as the CLI). Dispose runs <c>testnet down</c> and kills
/// whatever of ours is left by pid. A folder left by an earlier, interrupted run on the same base port is stopped
/// (by its pid files) and deleted first; the last run's folder stays for its logs (run/logs/node&lt;i&gt;.log), without
/// the nodes' ledgers unless CHAIN_CLUSTER_KEEP_DATA=1.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    public const int Nodes = 4;
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    public static readonly string Root = Path.Combine(Path.GetTempPath(), "chain-cluster-tests");

    private readonly Dictionary<string, ClusterClient> _clients = [];
    private readonly IAnsiConsole _console;
    private bool _disposed;

    private TestCluster(string dir, TestLog log)
    {
        Log = log;
        Layout = new TestnetLayout(dir);
        Manifest = Manifest.Load(Layout);
        Genesis = Genesis.LoadFile(Layout.Genesis);
        _console = MakeConsole(log.Writer("  testnet: "));
        Control = new ClusterControl(Layout, _console);
    }

    public TestLog Log { get; }
    public TestnetLayout Layout { get; }
    public Manifest Manifest { get; }
    public Genesis Genesis { get; }
    public ClusterControl Control { get; }
    public AckBook Book { get; } = new();
    public int BasePort => Manifest.BasePort;
    public IReadOnlyList<int> All { get; } = Enumerable.Range(0, Nodes).ToList();

    /// <summary>Inits and starts a 4-node testnet whose ports are base..base+200+16; throws (after cleaning up) when it does not come up.</summary>
    public static async Task<TestCluster> StartAsync(int basePort, TestLog log)
    {
        var slot = Path.Combine(Root, "p" + basePort.ToString(CultureInfo.InvariantCulture));
        await CleanLeftoversAsync(slot, log);
        CheckPortsFree(basePort);
        Directory.CreateDirectory(slot);
        var dir = Path.Combine(slot, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}");
        TestnetInit.Run(dir, Nodes, basePort, force: false, log.Writer("  init: "));
        var cluster = new TestCluster(dir, log);
        try
        {
            await cluster.UpAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    private static IAnsiConsole MakeConsole(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 160;
        return console;
    }

    /// <summary>Stops the testnets an interrupted earlier run left in <paramref name="slot"/> (by their pid files) and deletes them.</summary>
    private static async Task CleanLeftoversAsync(string slot, TestLog log)
    {
        if (!Directory.Exists(slot)) return;
        foreach (var dir in Directory.GetDirectories(slot))
        {
            var layout = new TestnetLayout(dir);
            if (File.Exists(layout.Manifest) && ClusterProcesses.Running(layout).Count > 0)
            {
                log.Line($"stopping a testnet left running in {dir}");
                await new ClusterControl(layout, MakeConsole(log.Writer("  leftover: "))).DownAsync(CancellationToken.None);
            }
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Fails at once, naming the port, when something already listens on one of this cluster's ports.</summary>
    private static void CheckPortsFree(int basePort)
    {
        var ports = Enumerable.Range(0, Nodes).SelectMany(i => new[]
            {
                TestnetLayout.ListenPort(basePort, i), TestnetLayout.MetricsPort(basePort, i),
            })
            .Concat(Enumerable.Range(0, Nodes * Nodes).Select(k => TestnetLayout.ProxyPort(basePort, Nodes, k / Nodes, k % Nodes)));
        foreach (var port in ports)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"port {port} (base {basePort}) is in use: {e.Message}; another process holds it", e);
            }
        }
    }

    /// <summary>
    /// testnet up. Tried twice: ClusterControl checks a process it has just started by reading /proc/&lt;pid&gt;/cmdline,
    /// which can be caught between the launcher's execs (sh, setsid, dotnet) and then reports a running process as
    /// exited ("the proxy exited at start"); a second up finds it running and carries on.
    /// </summary>
    public async Task UpAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            Log.Line($"testnet up (base port {BasePort}, {Layout.Root})");
            string problem;
            try
            {
                var code = await Control.UpAsync(null, BasePort, StartTimeout, CancellationToken.None);
                if (code == 0) return;
                problem = $"exit {code}";
            }
            catch (TestnetException e)
            {
                problem = e.Message;
            }
            if (attempt == 2) throw new InvalidOperationException($"testnet up failed twice ({problem}):\n{LogTails()}");
            Log.Line($"testnet up failed ({problem}); trying once more");
            await Task.Delay(1000);
        }
    }

    public async Task DownAsync()
    {
        Log.Line("testnet down");
        await Control.DownAsync(CancellationToken.None);
    }

    public async Task KillAsync(int node)
    {
        Log.Line($"testnet kill {node} (SIGKILL)");
        var code = await Control.KillAsync(node, CancellationToken.None);
        if (code != 0) throw new InvalidOperationException($"testnet kill {node} failed (exit {code})");
        if (ClusterProcesses.NodePid(Layout, node) is not null) throw new InvalidOperationException($"node {node} still runs after kill");
    }

    public async Task RestartAsync(int node)
    {
        Log.Line($"testnet restart {node}");
        var code = await Control.RestartAsync(node, StartTimeout, CancellationToken.None);
        if (code == 0) return;
        // The same /proc race as in UpAsync can report a starting node as exited: believe the node if it answers.
        for (var i = 0; i < 60 && IsRunning(node); i++)
        {
            if ((await StatusAsync(node)).Status is not null)
            {
                Log.Line($"testnet restart {node} reported exit {code}, but the node runs and answers");
                return;
            }
            await Task.Delay(500);
        }
        throw new InvalidOperationException($"testnet restart {node} failed (exit {code}):\n{LogTails()}");
    }

    public async Task PartitionAsync(params int[] nodes)
    {
        Log.Line($"testnet partition {string.Join(' ', nodes)}");
        Control.Partition(nodes);
        // The proxy re-reads the faults every 100 ms.
        await Task.Delay(500);
    }

    public async Task HealAsync()
    {
        Log.Line("testnet heal");
        Control.Heal();
        await Task.Delay(500);
    }

    public bool IsRunning(int node) => ClusterProcesses.NodePid(Layout, node) is not null;

    /// <summary>A client of the testnet (clients/&lt;name&gt;: TLS certificate and signing key), connected to every node.</summary>
    public ClusterClient Client(string name)
    {
        lock (_clients)
        {
            if (_clients.TryGetValue(name, out var client)) return client;
            var entry = Manifest.Clients.FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"no client {name}");
            var dir = Layout.Absolute(entry.Dir);
            client = ClusterClient.Load(name, Path.Combine(dir, "tls.crt"), Path.Combine(dir, "tls.key"),
                Path.Combine(dir, "signing.key"), this);
            _clients.Add(name, client);
            return client;
        }
    }

    /// <summary>The hospitals' applications (8 identities), which generate load.</summary>
    public IReadOnlyList<ClusterClient> LoadClients() =>
        Manifest.Clients.Where(c => c.IsLoadClient).Select(c => Client(c.Name)).ToList();

    /// <summary>Who asks the nodes for status, blocks and transactions: the regulator (read access, like an auditor).</summary>
    public ClusterClient Observer => Client("regulator-1");

    public int ListenPort(int node) => Manifest.Node(node).ListenPort;

    public int MetricsPort(int node) => Manifest.Node(node).MetricsPort;

    public async Task<Probe> StatusAsync(int node, TimeSpan? timeout = null)
    {
        try
        {
            var status = await Observer.Ledger(node).GetStatusAsync(new StatusRequest(),
                deadline: DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(3)));
            return new Probe(node, status, null);
        }
        catch (RpcException e)
        {
            return new Probe(node, null, $"{e.StatusCode}: {e.Status.Detail.Split('\n')[0]}");
        }
    }

    public async Task<Probe[]> StatusesAsync(IEnumerable<int>? nodes = null) =>
        await Task.WhenAll((nodes ?? All).Select(n => StatusAsync(n)));

    /// <summary>The primary most answering nodes name (null when fewer than 3 agree).</summary>
    public async Task<(uint Primary, ulong View)?> PrimaryAsync()
    {
        var probes = await StatusesAsync();
        var votes = probes.Where(p => p.Status is { InViewChange: false }).GroupBy(p => (p.Status!.Primary, p.Status.View))
            .OrderByDescending(g => g.Count()).FirstOrDefault();
        return votes is not null && votes.Count() >= 3 ? votes.Key : null;
    }

    /// <summary>Node log lines (JSON console lines) that match <paramref name="filter"/>.</summary>
    public IReadOnlyList<string> LogLines(int node, Func<string, bool> filter)
    {
        try
        {
            return File.Exists(Layout.NodeLog(node)) ? File.ReadLines(Layout.NodeLog(node)).Where(filter).ToList() : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    public static bool IsProblem(string line) =>
        line.Contains("\"LogLevel\":\"Warning\"", StringComparison.Ordinal) ||
        line.Contains("\"LogLevel\":\"Error\"", StringComparison.Ordinal) ||
        line.Contains("\"LogLevel\":\"Critical\"", StringComparison.Ordinal) ||
        line.StartsWith("Unhandled", StringComparison.Ordinal) || line.StartsWith("error", StringComparison.Ordinal);

    public static bool IsFatal(string line) =>
        line.Contains("\"LogLevel\":\"Critical\"", StringComparison.Ordinal) || line.StartsWith("Unhandled", StringComparison.Ordinal);

    /// <summary>The last warnings and errors of every node's log, for failure messages.</summary>
    public string LogTails(int perNode = 8)
    {
        var text = new System.Text.StringBuilder();
        foreach (var node in All)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"--- {Layout.Relative(Layout.NodeLog(node))} (warnings and errors, last {perNode})");
            foreach (var line in LogLines(node, IsProblem).TakeLast(perNode)) text.AppendLine(Shorten(line));
        }
        return text.ToString();
    }

    /// <summary>A JSON log line without its State object (the Message already says it), cut to 400 characters.</summary>
    public static string Shorten(string line)
    {
        var state = line.IndexOf(",\"State\":", StringComparison.Ordinal);
        if (state > 0) line = line[..state];
        return line.Length > 400 ? line[..400] + "..." : line;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        var ours = All.Select(n => (Pid: ClusterProcesses.NodePid(Layout, n), Marker: Layout.NodeConfig(n)))
            .Append((Pid: ClusterProcesses.ProxyPid(Layout), Marker: Layout.Root))
            .Where(p => p.Pid is not null).Select(p => (Pid: p.Pid!.Value, p.Marker)).ToList();
        try
        {
            await DownAsync();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or TestnetException)
        {
            Log.Line($"testnet down failed: {e.Message}");
        }
        foreach (var (pid, marker) in ours)
        {
            // Still alive and still ours (its command line names our config or folder): SIGKILL it.
            if (Posix.CommandLine(pid) is { } argv && argv.Contains(marker))
            {
                Log.Line($"killing leftover pid {pid}");
                Posix.Signal(pid, Posix.SigKill);
            }
        }
        Log.Line("node warnings and errors:\n" + LogTails(5));
        // RocksDB preallocates ~75 MB per node: keep the logs and keys, drop the ledgers (CHAIN_CLUSTER_KEEP_DATA=1 keeps them).
        if (Environment.GetEnvironmentVariable("CHAIN_CLUSTER_KEEP_DATA") != "1")
        {
            foreach (var node in All.Where(n => !IsRunning(n)))
            {
                var data = Path.Combine(Layout.NodeDir(node), "data");
                try
                {
                    if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Log.Line($"could not delete {data}: {e.Message}");
                }
            }
        }
        lock (_clients)
        {
            foreach (var client in _clients.Values) client.Dispose();
            _clients.Clear();
        }
    }
}
