using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Chain.Testnet.Cluster;

/// <summary>One node's row in the status table.</summary>
internal sealed record NodeRow(ManifestNode Node, int? Pid, NodeProbe? Probe);

/// <summary>
/// The cluster commands: up, status, down, kill, restart, partition, heal. Every wait is bounded; a node that
/// exits while we wait for it is reported at once with the end of its log.
/// </summary>
internal sealed class ClusterControl(TestnetLayout layout, IAnsiConsole console)
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ProxyStartTimeout = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    public TestnetLayout Layout => layout;

    public async Task<int> UpAsync(int? nodes, int basePort, TimeSpan startTimeout, CancellationToken cancellation)
    {
        if (!File.Exists(layout.Manifest) && Directory.Exists(layout.Root) && Directory.EnumerateFileSystemEntries(layout.Root).Any())
            throw new TestnetException($"{layout.Root} exists but holds no testnet (no testnet.json); choose another --dir");
        if (!File.Exists(layout.Manifest))
            TestnetInit.Run(layout.Root, nodes ?? 4, basePort, force: false, new ConsoleWriter(console));
        var manifest = Manifest.Load(layout);
        if (nodes is { } wanted && wanted != manifest.Nodes.Count)
            throw new TestnetException($"the testnet in {layout.Root} has {manifest.Nodes.Count} nodes, not {wanted}; " +
                $"'testnet down' then 'testnet init --force --nodes {wanted}' to change it");
        if (!File.Exists(ClusterProcesses.NodeAssembly))
            throw new TestnetException($"the node binary {ClusterProcesses.NodeAssembly} is missing; build the solution first");
        Directory.CreateDirectory(layout.LogDir);

        await EnsureProxyAsync(cancellation).ConfigureAwait(false);
        foreach (var node in manifest.Nodes)
        {
            if (ClusterProcesses.NodePid(layout, node.Id) is { } running)
            {
                console.MarkupLine($"node {node.Id} is already running (pid {running})");
                continue;
            }
            var pid = ClusterProcesses.StartNode(layout, node.Id);
            console.MarkupLine($"started node {node.Id} ({Markup.Escape(node.Organisation)}, {node.Listen}), pid {pid}");
        }

        using var client = new NodeStatusClient(layout, manifest);
        var ready = await WaitForNodesAsync(client, manifest.Nodes.Select(n => n.Id).ToList(), startTimeout, cancellation)
            .ConfigureAwait(false);
        console.Write(Table(await RowsAsync(manifest, client, cancellation).ConfigureAwait(false)));
        if (ready) console.MarkupLine($"[green]all {manifest.Nodes.Count} nodes answer[/] (logs in {Markup.Escape(layout.Relative(layout.LogDir))}/)");
        return ready ? 0 : 1;
    }

    private async Task EnsureProxyAsync(CancellationToken cancellation)
    {
        if (ClusterProcesses.ProxyPid(layout) is { } running)
        {
            console.MarkupLine($"proxy is already running (pid {running})");
            return;
        }
        var pid = ClusterProcesses.StartProxy(layout);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(layout.ProxyReady))
        {
            if (ClusterProcesses.ProxyPid(layout) is null)
                throw new TestnetException("the proxy exited at start: " + LastLine(layout.ProxyLog));
            if (clock.Elapsed > ProxyStartTimeout)
                throw new TestnetException($"the proxy (pid {pid}) did not start listening within {ProxyStartTimeout.TotalSeconds:0} s; see {layout.ProxyLog}");
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
        console.MarkupLine($"started the fault proxy, pid {pid}");
    }

    /// <summary>Waits until every node in <paramref name="ids"/> answers GetStatus; false (with reasons printed) on timeout or exit.</summary>
    private async Task<bool> WaitForNodesAsync(NodeStatusClient client, List<int> ids, TimeSpan timeout,
        CancellationToken cancellation)
    {
        var pending = new HashSet<int>(ids);
        var exited = new List<int>();
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (pending.Count > 0 && clock.Elapsed < timeout)
        {
            foreach (var id in pending.Where(id => ClusterProcesses.NodePid(layout, id) is null).ToList())
            {
                pending.Remove(id);
                exited.Add(id);
            }
            var probes = await Task.WhenAll(pending.Select(id => client.ProbeAsync(id, NodeStatusClient.DefaultTimeout, cancellation)))
                .ConfigureAwait(false);
            foreach (var probe in probes.Where(p => p.Answered)) pending.Remove(probe.Id);
            if (pending.Count == 0) break;
            if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(5))
            {
                lastReport = clock.Elapsed;
                console.MarkupLine($"waiting for node(s) {string.Join(", ", pending.Order())} to answer ({clock.Elapsed.TotalSeconds:0} s)");
            }
            await Task.Delay(250, cancellation).ConfigureAwait(false);
        }
        foreach (var id in exited.Order())
        {
            console.MarkupLine($"[red]node {id} exited before answering[/]; the end of {Markup.Escape(layout.Relative(layout.NodeLog(id)))}:");
            foreach (var line in ClusterProcesses.Tail(layout.NodeLog(id), 5)) console.MarkupLine("  " + Markup.Escape(line));
        }
        if (pending.Count > 0)
            console.MarkupLine($"[red]node(s) {string.Join(", ", pending.Order())} did not answer within {timeout.TotalSeconds:0} s[/]");
        if (exited.Count + pending.Count > 0) console.MarkupLine("the rest keeps running; 'testnet down' stops everything");
        return exited.Count == 0 && pending.Count == 0;
    }

    public async Task<IReadOnlyList<NodeRow>> RowsAsync(Manifest manifest, NodeStatusClient client, CancellationToken cancellation)
    {
        var probes = await client.ProbeAllAsync(NodeStatusClient.DefaultTimeout, cancellation).ConfigureAwait(false);
        return manifest.Nodes.Select(n => new NodeRow(n, ClusterProcesses.NodePid(layout, n.Id),
            probes.FirstOrDefault(p => p.Id == n.Id))).ToList();
    }

    public async Task<int> StatusAsync(CancellationToken cancellation)
    {
        var manifest = Manifest.Load(layout);
        using var client = new NodeStatusClient(layout, manifest);
        var rows = await RowsAsync(manifest, client, cancellation).ConfigureAwait(false);
        console.Write(Table(rows));
        var proxy = ClusterProcesses.ProxyPid(layout);
        var faults = FaultState.TryRead(layout.Faults);
        console.MarkupLine($"proxy: {(proxy is { } p ? $"running (pid {p})" : "[red]down[/]")}; " +
            $"faults: {Markup.Escape(faults?.ToString() ?? "unreadable faults.json")}");
        return 0;
    }

    public static Table Table(IReadOnlyList<NodeRow> rows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "node", "org", "process", "listen", "height", "view", "primary", "mempool", "peers", "note" })
            table.AddColumn(new TableColumn(column));
        foreach (var row in rows)
        {
            var s = row.Probe?.Status;
            var process = row.Pid is { } pid ? $"[green]up[/] ({pid})" : "[red]down[/]";
            string Cell(Func<Chain.Api.V1.NodeStatus, object> value) =>
                s is null ? "-" : Convert.ToString(value(s), CultureInfo.InvariantCulture) ?? "-";
            var note = s is null
                ? $"[yellow]unreachable[/] ({Markup.Escape(row.Probe?.Error ?? "not asked")})"
                : s.InViewChange ? "[yellow]view change[/]" : "";
            table.AddRow(row.Node.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(row.Node.Organisation), process,
                row.Node.Listen, Cell(x => x.Height), Cell(x => x.View), Cell(x => x.Primary), Cell(x => x.MempoolSize),
                Cell(x => x.PeersConnected), note);
        }
        return table;
    }

    public async Task<int> DownAsync(CancellationToken cancellation)
    {
        var manifest = Manifest.Load(layout);
        var nodes = manifest.Nodes.Select(n => (n.Id, Pid: ClusterProcesses.NodePid(layout, n.Id)))
            .Where(x => x.Pid is not null).ToList();
        if (nodes.Count > 0)
        {
            console.MarkupLine($"stopping node(s) {string.Join(", ", nodes.Select(n => n.Id))} (SIGTERM, SIGKILL after {StopGrace.TotalSeconds:0} s)");
            if (!await ClusterProcesses.StopAsync(nodes.Select(n => n.Pid!.Value).ToList(), StopGrace, cancellation).ConfigureAwait(false))
                console.MarkupLine("[red]some node processes did not end[/]");
        }
        var proxyPid = ClusterProcesses.ProxyPid(layout);
        if (proxyPid is { } proxy)
        {
            console.MarkupLine($"stopping the proxy (pid {proxy})");
            await ClusterProcesses.StopAsync([proxy], TimeSpan.FromSeconds(3), cancellation).ConfigureAwait(false);
        }
        foreach (var node in manifest.Nodes) File.Delete(layout.NodePid(node.Id));
        File.Delete(layout.ProxyPid);
        File.Delete(layout.ProxyReady);
        File.Delete(layout.Faults);
        console.MarkupLine(nodes.Count == 0 && proxyPid is null ? "nothing was running" : "testnet stopped");
        return 0;
    }

    public async Task<int> KillAsync(int id, CancellationToken cancellation)
    {
        var manifest = Manifest.Load(layout);
        manifest.Node(id);
        if (ClusterProcesses.NodePid(layout, id) is not { } pid)
        {
            console.MarkupLine($"node {id} is not running");
            return 0;
        }
        var ended = await ClusterProcesses.KillAsync(pid, cancellation).ConfigureAwait(false);
        console.MarkupLine(ended ? $"killed node {id} (pid {pid}, SIGKILL)" : $"[red]node {id} (pid {pid}) did not end after SIGKILL[/]");
        return ended ? 0 : 1;
    }

    public async Task<int> RestartAsync(int id, TimeSpan startTimeout, CancellationToken cancellation)
    {
        var manifest = Manifest.Load(layout);
        manifest.Node(id);
        if (ClusterProcesses.NodePid(layout, id) is { } pid)
        {
            if (!await ClusterProcesses.KillAsync(pid, cancellation).ConfigureAwait(false))
                throw new TestnetException($"node {id} (pid {pid}) did not end after SIGKILL");
            console.MarkupLine($"killed node {id} (pid {pid})");
        }
        if (ClusterProcesses.ProxyPid(layout) is null)
            console.MarkupLine("[yellow]the proxy is not running: peers cannot reach each other ('testnet up' starts it)[/]");
        var started = ClusterProcesses.StartNode(layout, id);
        console.MarkupLine($"started node {id}, pid {started}");
        using var client = new NodeStatusClient(layout, manifest);
        var ready = await WaitForNodesAsync(client, [id], startTimeout, cancellation).ConfigureAwait(false);
        var rows = await RowsAsync(manifest, client, cancellation).ConfigureAwait(false);
        console.Write(Table(rows.Where(r => r.Node.Id == id).ToList()));
        return ready ? 0 : 1;
    }

    public int Partition(IReadOnlyCollection<int> ids)
    {
        var manifest = Manifest.Load(layout);
        foreach (var id in ids) manifest.Node(id);
        if (ids.Count == 0) throw new ArgumentException("name at least one node to isolate");
        var faults = new FaultState([.. ids.Distinct().Order()]);
        faults.Write(layout.Faults);
        console.MarkupLine($"{faults}: the proxy cuts their peer links within 100 ms ('testnet heal' restores them)");
        WarnIfProxyDown();
        return 0;
    }

    public int Heal()
    {
        Manifest.Load(layout);
        FaultState.None.Write(layout.Faults);
        console.MarkupLine("healed: every peer link is open again");
        WarnIfProxyDown();
        return 0;
    }

    private void WarnIfProxyDown()
    {
        if (ClusterProcesses.ProxyPid(layout) is null) console.MarkupLine("[yellow]note: the proxy is not running[/]");
    }

    private static string LastLine(string log) =>
        ClusterProcesses.Tail(log, 20).LastOrDefault(l => l.StartsWith("error", StringComparison.Ordinal))
        ?? ClusterProcesses.Tail(log, 1).FirstOrDefault() ?? $"see {log}";
}

/// <summary>A TextWriter onto a Spectre console (plain text, no markup).</summary>
internal sealed class ConsoleWriter(IAnsiConsole console) : TextWriter
{
    public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

    public override void Write(char value) => console.Write(value.ToString());

    public override void Write(string? value) => console.Write(value ?? "");

    public override void WriteLine(string? value) => console.WriteLine(value ?? "");
}
