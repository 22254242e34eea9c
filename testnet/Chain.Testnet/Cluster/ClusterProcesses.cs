using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Chain.Testnet.Cluster;

/// <summary>Signals and /proc (Linux).</summary>
internal static class Posix
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
    private const int ScClockTicks = 2;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    [DllImport("libc", EntryPoint = "sysconf")]
    private static extern long SysConf(int name);

    /// <summary>Sends <paramref name="signal"/>; false when the process does not exist (or is not ours).</summary>
    public static bool Signal(int pid, int signal) => pid > 0 && SysKill(pid, signal) == 0;

    /// <summary>Clock ticks per second, the unit of /proc/&lt;pid&gt;/stat's CPU times.</summary>
    public static long ClockTicksPerSecond { get; } = ReadClockTicks();

    private static long ReadClockTicks()
    {
        try
        {
            var ticks = SysConf(ScClockTicks);
            return ticks > 0 ? ticks : 100;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100;
        }
    }

    /// <summary>The process's command line arguments (argv), or null when it does not exist or has ended (zombie).</summary>
    public static string[]? CommandLine(int pid)
    {
        if (pid <= 0) return null;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            if (state is "Z" or "X" or "x") return null;
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>User plus system CPU time the process has used, in seconds; null when it does not exist.</summary>
    public static double? CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name "(...)": state is field 3, utime field 14, stime field 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (double)ticks / ClockTicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException
                                      or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}

/// <summary>
/// The processes of a testnet: nodes and the proxy, started detached (own session, output appended to
/// run/logs/*.log) with their pid in run/*.pid. A pid counts as running only while /proc shows a live process
/// whose command line is the one we started (so a recycled pid is not mistaken for a node).
/// </summary>
internal static class ClusterProcesses
{
    /// <summary>The dotnet host that runs Chain.Node.dll and testnet.dll.</summary>
    public static string DotnetHost
    {
        get
        {
            var self = Environment.ProcessPath;
            if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
            foreach (var candidate in new[]
                     {
                         Environment.GetEnvironmentVariable("DOTNET_HOST_PATH"),
                         Environment.GetEnvironmentVariable("DOTNET_ROOT") is { } root ? Path.Combine(root, "dotnet") : null,
                     })
            {
                if (!string.IsNullOrEmpty(candidate) && File.Exists(candidate)) return candidate;
            }
            return "dotnet";
        }
    }

    public static string NodeAssembly => Path.Combine(AppContext.BaseDirectory, "Chain.Node.dll");
    public static string TestnetAssembly => Path.Combine(AppContext.BaseDirectory, "testnet.dll");

    public static string[] NodeArguments(TestnetLayout layout, int id) => [NodeAssembly, "--config", layout.NodeConfig(id)];

    public static string[] ProxyArguments(TestnetLayout layout) => [TestnetAssembly, "proxy", "--dir", layout.Root];

    /// <summary>The pid of node <paramref name="id"/> if it is running.</summary>
    public static int? NodePid(TestnetLayout layout, int id) => LivePid(layout.NodePid(id), layout.NodeConfig(id));

    public static int? ProxyPid(TestnetLayout layout) => LivePid(layout.ProxyPid, "proxy", layout.Root);

    /// <summary>What is running, as "node 0", "proxy" (for messages).</summary>
    public static List<string> Running(TestnetLayout layout)
    {
        var running = new List<string>();
        for (var id = 0; id < TestnetLayout.MaxNodes; id++)
        {
            if (File.Exists(layout.NodePid(id)) && NodePid(layout, id) is not null) running.Add($"node {id}");
        }
        if (ProxyPid(layout) is not null) running.Add("proxy");
        return running;
    }

    private static int? LivePid(string pidFile, params string[] expectedArguments)
    {
        int pid;
        try
        {
            if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out pid)) return null;
        }
        catch (IOException)
        {
            return null;
        }
        var argv = Posix.CommandLine(pid);
        return argv is not null && expectedArguments.All(argv.Contains) ? pid : null;
    }

    public static int StartNode(TestnetLayout layout, int id) =>
        StartDetached(layout.NodeDir(id), layout.NodeLog(id), layout.NodePid(id), NodeArguments(layout, id));

    public static int StartProxy(TestnetLayout layout)
    {
        if (File.Exists(layout.ProxyReady)) File.Delete(layout.ProxyReady);
        return StartDetached(layout.Root, layout.ProxyLog, layout.ProxyPid, ProxyArguments(layout));
    }

    /// <summary>
    /// Starts <c>dotnet arguments...</c> in its own session (so a Ctrl+C in the terminal does not reach it), stdin
    /// from /dev/null, stdout and stderr appended to <paramref name="log"/>; writes its pid.
    /// </summary>
    private static int StartDetached(string workingDirectory, string log, string pidFile, string[] arguments)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
        File.AppendAllText(log, $"---- {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss}Z starting: dotnet {string.Join(' ', arguments)}\n");
        // sh redirects and then execs setsid, which (not being a group leader) execs dotnet in place: same pid.
        var setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = workingDirectory };
        // Every node of the testnet shares this machine's few cores: idle thread-pool workers must sleep rather
        // than spin, or they take the CPU the other nodes need (measured: the proxy went from 23% to 3% of a core).
        start.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=\"$1\"; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(log);
        if (setsid is not null) start.ArgumentList.Add(setsid);
        start.ArgumentList.Add(DotnetHost);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new TestnetException($"could not start dotnet {arguments[0]}");
        File.WriteAllText(pidFile, process.Id.ToString(CultureInfo.InvariantCulture) + "\n");
        return process.Id;
    }

    /// <summary>Sends SIGTERM to each, waits up to <paramref name="grace"/>, then SIGKILLs the rest; true when all ended.</summary>
    public static async Task<bool> StopAsync(IReadOnlyCollection<int> pids, TimeSpan grace, CancellationToken cancellation = default)
    {
        foreach (var pid in pids) Posix.Signal(pid, Posix.SigTerm);
        if (await WaitForExitAsync(pids, grace, cancellation).ConfigureAwait(false)) return true;
        foreach (var pid in pids.Where(p => Posix.CommandLine(p) is not null)) Posix.Signal(pid, Posix.SigKill);
        return await WaitForExitAsync(pids, TimeSpan.FromSeconds(5), cancellation).ConfigureAwait(false);
    }

    public static async Task<bool> KillAsync(int pid, CancellationToken cancellation = default)
    {
        Posix.Signal(pid, Posix.SigKill);
        return await WaitForExitAsync([pid], TimeSpan.FromSeconds(5), cancellation).ConfigureAwait(false);
    }

    private static async Task<bool> WaitForExitAsync(IReadOnlyCollection<int> pids, TimeSpan timeout, CancellationToken cancellation)
    {
        var deadline = Stopwatch.StartNew();
        while (pids.Any(p => Posix.CommandLine(p) is not null))
        {
            if (deadline.Elapsed >= timeout) return false;
            await Task.Delay(50, cancellation).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>The last <paramref name="count"/> lines of a log (for error messages).</summary>
    public static IReadOnlyList<string> Tail(string log, int count)
    {
        try
        {
            return File.Exists(log) ? File.ReadLines(log).TakeLast(count).ToList() : [];
        }
        catch (IOException)
        {
            return [];
        }
    }
}
