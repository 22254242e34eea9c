using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using Chain.Client;

namespace Chain.Ai.Tests.OnChain;

/// <summary>
/// A real 4-node testnet on 127.0.0.1 for one test, driven through the built <c>testnet</c> command as separate
/// processes (<c>testnet init</c>, <c>testnet up</c>, <c>testnet down</c>), the same way an operator runs it. The test
/// project builds testnet/Chain.Testnet first (a build-order-only reference: its types are internal to the testnet and
/// its tests) and runs <c>testnet.dll</c> from that project's own output, where the node binary sits beside it.
/// Folder: /tmp/chain-ai-onchain-tests/p&lt;base port&gt;/&lt;time&gt;/; a folder an interrupted run left behind on the same
/// port is stopped (testnet down) and deleted first. Dispose runs <c>testnet down</c>, SIGKILLs whatever of ours still
/// runs (by pid file, checked against its command line), and deletes the folder (CHAIN_AI_KEEP_TESTNET=1 keeps it).
/// </summary>
internal sealed class LocalTestnet : IAsyncDisposable
{
    public const int Nodes = 4;
    public static readonly string Root = Path.Combine(Path.GetTempPath(), "chain-ai-onchain-tests");

    private const int SigKill = 9, SigCont = 18, SigStop = 19;
    private readonly Action<string> _log;
    private readonly List<ChainClient> _clients = [];
    private readonly List<(string Organisation, string Path)> _cas;
    private readonly HashSet<int> _stopped = [];
    private bool _disposed;

    private LocalTestnet(string dir, int basePort, Action<string> log)
    {
        Dir = dir;
        BasePort = basePort;
        _log = log;
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "testnet.json")));
        _cas = [.. manifest.RootElement.GetProperty("organisations").EnumerateArray()
            .Select(o => (o.GetProperty("id").GetString()!, Path.GetFullPath(o.GetProperty("ca").GetString()!, dir)))];
    }

    public string Dir { get; }

    public int BasePort { get; }

    public static string Hospital(int index) => "hospital-" + (char)('a' + index);

    public string Address(int node) => $"127.0.0.1:{(BasePort + node).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The built testnet command (testnet/Chain.Testnet/bin/&lt;configuration&gt;/net10.0/testnet.dll).</summary>
    public static string TestnetDll()
    {
        var configured = typeof(LocalTestnet).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "TestnetDll")?.Value;
        if (configured is not null && File.Exists(configured)) return Path.GetFullPath(configured);
        throw new InvalidOperationException($"the testnet command is not built at {configured}: build tests/Chain.Ai.Tests (it builds testnet/Chain.Testnet first)");
    }

    /// <summary>Inits and starts the testnet (ports base..base+216); throws, after cleaning up, if it does not come up.</summary>
    public static async Task<LocalTestnet> StartAsync(int basePort, Action<string> log, CancellationToken cancellationToken)
    {
        var dll = TestnetDll();
        var slot = Path.Combine(Root, "p" + basePort.ToString(CultureInfo.InvariantCulture));
        await CleanLeftoversAsync(dll, slot, log, cancellationToken);
        CheckPortsFree(basePort);
        var dir = Path.Combine(slot, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}");
        Directory.CreateDirectory(slot);
        var port = basePort.ToString(CultureInfo.InvariantCulture);
        await RunAsync(dll, log, TimeSpan.FromSeconds(60), cancellationToken, "init", "--dir", dir, "--nodes", "4", "--base-port", port);
        var testnet = new LocalTestnet(dir, basePort, log);
        try
        {
            // Tried twice: testnet up can catch a process it just started between its launcher's execs and report it exited.
            for (var attempt = 1; ; attempt++)
            {
                var code = await RunAsync(dll, log, TimeSpan.FromSeconds(100), cancellationToken, "up", "--dir", dir, "--base-port", port, "--timeout", "80");
                if (code == 0) break;
                if (attempt == 2) throw new InvalidOperationException($"testnet up failed twice (exit {code}):\n{testnet.LogTails()}");
                await Task.Delay(1000, cancellationToken);
            }
        }
        catch
        {
            await testnet.DisposeAsync();
            throw;
        }
        return testnet;
    }

    /// <summary>A member's client (clients/&lt;name&gt;: TLS certificate and signing key) connected to <paramref name="node"/>.</summary>
    public ChainClient Client(string name, int node)
    {
        var client = ChainClient.Open(Path.Combine(Dir, "clients", name), Address(node), _cas);
        lock (_clients) _clients.Add(client);
        return client;
    }

    /// <summary>The node's pid if it runs (its pid file, checked against its command line).</summary>
    public int? NodePid(int node)
    {
        var file = Path.Combine(Dir, "run", $"node{node}.pid");
        if (!File.Exists(file) || !int.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var pid)) return null;
        return IsOurs(pid) ? pid : null;
    }

    /// <summary>Freezes a node (SIGSTOP): it accepts connections but answers nothing until <see cref="Resume"/>.</summary>
    public void Freeze(int node)
    {
        var pid = NodePid(node) ?? throw new InvalidOperationException($"node {node} is not running");
        if (Kill(pid, SigStop) != 0) throw new InvalidOperationException($"SIGSTOP to node {node} (pid {pid}) failed");
        lock (_stopped) _stopped.Add(pid);
        _log($"node {node} (pid {pid}) frozen (SIGSTOP)");
    }

    public void Resume(int node)
    {
        var pid = NodePid(node) ?? throw new InvalidOperationException($"node {node} is not running");
        Kill(pid, SigCont);
        lock (_stopped) _stopped.Remove(pid);
        _log($"node {node} (pid {pid}) resumed (SIGCONT)");
    }

    /// <summary>The last warnings and errors of each node's log (for failure messages).</summary>
    public string LogTails(int perNode = 6)
    {
        var text = new System.Text.StringBuilder();
        for (var node = 0; node < Nodes; node++)
        {
            var log = Path.Combine(Dir, "run", "logs", $"node{node}.log");
            text.AppendLine(CultureInfo.InvariantCulture, $"--- node{node}.log (problems, last {perNode})");
            try
            {
                if (!File.Exists(log)) continue;
                foreach (var line in File.ReadLines(log).Where(l => l.Contains("\"LogLevel\":\"Error\"", StringComparison.Ordinal)
                             || l.Contains("\"LogLevel\":\"Critical\"", StringComparison.Ordinal) || l.StartsWith("Unhandled", StringComparison.Ordinal))
                             .TakeLast(perNode))
                    text.AppendLine(line.Length > 300 ? line[..300] + "..." : line);
            }
            catch (IOException)
            {
                // the node may still be writing
            }
        }
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_clients)
        {
            foreach (var c in _clients) c.Dispose();
            _clients.Clear();
        }
        int[] stopped;
        lock (_stopped) stopped = [.. _stopped];
        foreach (var pid in stopped) Kill(pid, SigCont);
        var ours = Enumerable.Range(0, Nodes).Select(NodePid).Append(PidFrom(Path.Combine(Dir, "run", "proxy.pid")))
            .Where(p => p is not null).Select(p => p!.Value).ToList();
        try
        {
            await RunAsync(TestnetDll(), _log, TimeSpan.FromSeconds(40), CancellationToken.None, "down", "--dir", Dir);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
            _log($"testnet down failed: {e.Message}");
        }
        foreach (var pid in ours.Where(IsOurs))
        {
            _log($"killing leftover pid {pid}");
            Kill(pid, SigKill);
        }
        if (Environment.GetEnvironmentVariable("CHAIN_AI_KEEP_TESTNET") == "1")
        {
            _log($"kept {Dir} (CHAIN_AI_KEEP_TESTNET=1)");
            return;
        }
        for (var attempt = 0; attempt < 10 && Directory.Exists(Dir); attempt++)
        {
            try
            {
                Directory.Delete(Dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await Task.Delay(200); // a killed node may still be closing its files
            }
        }
        if (Directory.Exists(Dir)) _log($"could not delete {Dir}");
        TryDeleteEmpty(Path.GetDirectoryName(Dir)!);
        TryDeleteEmpty(Root);
    }

    private bool IsOurs(int pid)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains(Dir, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private int? PidFrom(string file) =>
        File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var pid) && IsOurs(pid) ? pid : null;

    /// <summary>Stops (testnet down) and deletes what an interrupted earlier run left in <paramref name="slot"/>.</summary>
    private static async Task CleanLeftoversAsync(string dll, string slot, Action<string> log, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(slot)) return;
        foreach (var dir in Directory.GetDirectories(slot))
        {
            if (File.Exists(Path.Combine(dir, "testnet.json")))
            {
                log($"stopping whatever an earlier run left in {dir}");
                await RunAsync(dll, log, TimeSpan.FromSeconds(40), cancellationToken, "down", "--dir", dir);
            }
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void CheckPortsFree(int basePort)
    {
        var ports = Enumerable.Range(0, Nodes).SelectMany(i => new[] { basePort + i, basePort + 100 + i })
            .Concat(Enumerable.Range(0, Nodes * Nodes).Select(k => basePort + 200 + k));
        foreach (var port in ports)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            }
            catch (SocketException e)
            {
                throw new InvalidOperationException($"port {port} (base {basePort}) is in use: {e.Message}", e);
            }
        }
    }

    /// <summary>Runs <c>dotnet testnet.dll args...</c> (bounded); returns its exit code, logging its output.</summary>
    private static async Task<int> RunAsync(string dll, Action<string> log, TimeSpan timeout, CancellationToken cancellationToken, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        log($"$ testnet {string.Join(' ', args)}");
        using var p = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet testnet.dll");
        var stdout = p.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"testnet {args[0]} did not finish within {timeout.TotalSeconds:0} s");
        }
        foreach (var text in new[] { stdout, stderr })
        {
            if (await Task.WhenAny(text, Task.Delay(2000, CancellationToken.None)) != text) continue;
            foreach (var line in (await text).Split('\n', StringSplitOptions.RemoveEmptyEntries)) log("  " + line.TrimEnd());
        }
        return p.ExitCode;
    }

    private static void TryDeleteEmpty(string dir)
    {
        try
        {
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // another run uses it
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
