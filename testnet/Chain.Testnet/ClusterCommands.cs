using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Chain.Testnet.Cluster;
using Chain.Testnet.Load;
using Spectre.Console;

namespace Chain.Testnet;

/// <summary>The local-cluster commands: init, up, status, down, kill, restart, proxy, partition, heal, load, bench.</summary>
internal static class ClusterCommands
{
    private static Option<DirectoryInfo> DirOption() => new("--dir")
    {
        Description = "The testnet folder (see 'testnet init').",
        DefaultValueFactory = _ => new DirectoryInfo(TestnetLayout.DefaultDir),
    };

    private static Option<int> BasePortOption() => new("--base-port")
    {
        Description = "Node i listens on base+i, its metrics on base+100+i, the proxy on base+200+i*n+j.",
        DefaultValueFactory = _ => TestnetLayout.DefaultBasePort,
    };

    private static Argument<int> NodeArgument() => new("node") { Description = "A node id (0 to n-1)." };

    private static TestnetLayout Layout(ParseResult parse, Option<DirectoryInfo> dir) => new(parse.GetValue(dir)!.FullName);

    private static ClusterControl Control(ParseResult parse, Option<DirectoryInfo> dir)
    {
        // Spectre assumes 80 columns when output goes to a file or pipe; tables and log lines need more.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
        return new ClusterControl(Layout(parse, dir), AnsiConsole.Console);
    }

    private static int Seconds(int value, string option, int min, int max) =>
        value >= min && value <= max ? value : throw new ArgumentException($"{option} must be between {min} and {max:N0} seconds");

    public static void AddTo(RootCommand root)
    {
        root.Add(Start());
        root.Add(Init());
        root.Add(Up());
        root.Add(Status());
        root.Add(Down());
        root.Add(Kill());
        root.Add(Restart());
        root.Add(Proxy());
        root.Add(Partition());
        root.Add(Heal());
        root.Add(LoadCommand());
        root.Add(BenchCommand());
        root.Add(Contracts());
    }

    private static Command Contracts()
    {
        var dir = DirOption();
        var command = new Command("contracts", "The system contracts on the running testnet: attest and endorse a model version and verify " +
            "its weights file, split its key 3-of-4 among the hospitals and release it after three approvals, log defense actions " +
            "and query them, run a federated round under a privacy budget, read it all back through another node, and show an " +
            "auditor's write refused. Needs 4 hospital nodes ('testnet up').") { dir };
        command.SetAction((parse, cancellation) => Cli.RunAsync(async () =>
        {
            var checks = await ContractsDemo.RunAsync(Layout(parse, dir), Console.Out, cancellation).ConfigureAwait(false);
            return checks.All(c => c.Ok) ? 0 : 1;
        }));
        return command;
    }

    private static Command Start()
    {
        var dir = DirOption();
        var basePort = BasePortOption();
        var nodes = new Option<int>("--nodes") { Description = "Hospital nodes for a new testnet (1-16).", DefaultValueFactory = _ => 4 };
        var seconds = new Option<int>("--seconds") { Description = "Seconds of demo workload (3-600).", DefaultValueFactory = _ => 10 };
        var rate = new Option<int>("--rate") { Description = "Demo transactions per second (1-10,000).", DefaultValueFactory = _ => 200 };
        var command = new Command("start", "The demo: bring up the local consortium (init if needed), run a signed workload, verify " +
            "a transaction and a state value with their proofs, crash and restart a node and show it catch up. Leaves the cluster running.")
        {
            dir, basePort, nodes, seconds, rate,
        };
        command.SetAction((parse, cancellation) => Cli.RunAsync(async () =>
        {
            var r = parse.GetValue(rate);
            if (r is < 1 or > 10_000) throw new ArgumentException("--rate must be between 1 and 10,000 tx/s");
            var s = Seconds(parse.GetValue(seconds), "--seconds", 3, 600);
            return await ClusterDemo.RunAsync(Control(parse, dir), parse.GetValue(nodes), parse.GetValue(basePort), s, r, Console.Out,
                cancellation).ConfigureAwait(false);
        }));
        return command;
    }

    private static Command Init()
    {
        var dir = DirOption();
        var basePort = BasePortOption();
        var nodes = new Option<int>("--nodes") { Description = "Validator nodes, one per hospital (1-16).", DefaultValueFactory = _ => 4 };
        var force = new Option<bool>("--force") { Description = "Replace an existing testnet folder (its keys and ledgers are lost)." };
        var command = new Command("init", "Create a testnet folder: a CA per organisation, node and client keys and certificates, " +
            "node configs, genesis.json and testnet.json.") { nodes, dir, basePort, force };
        command.SetAction(parse => Cli.Run(() =>
        {
            TestnetInit.Run(Layout(parse, dir).Root, parse.GetValue(nodes), parse.GetValue(basePort), parse.GetValue(force), Console.Out);
        }));
        return command;
    }

    private static Command Up()
    {
        var dir = DirOption();
        var basePort = BasePortOption();
        var nodes = new Option<int?>("--nodes") { Description = "Nodes for a new testnet (default 4); must match an existing one." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for every node to answer.", DefaultValueFactory = _ => 60 };
        var command = new Command("up", "Start the fault proxy and every node (runs init first if the folder does not exist), " +
            "wait until each answers over mutual TLS, and show their status.") { dir, nodes, basePort, timeout };
        command.SetAction((parse, cancellation) => Cli.RunAsync(() =>
        {
            if (parse.GetValue(nodes) is { } n) TestnetLayout.CheckShape(n, parse.GetValue(basePort));
            var wait = TimeSpan.FromSeconds(Seconds(parse.GetValue(timeout), "--timeout", 1, 600));
            return Control(parse, dir).UpAsync(parse.GetValue(nodes), parse.GetValue(basePort), wait, cancellation);
        }));
        return command;
    }

    private static Command Status()
    {
        var dir = DirOption();
        var command = new Command("status", "Each node's process, height, view, primary, mempool and peers (GetStatus over mutual TLS, 2 s timeout).") { dir };
        command.SetAction((parse, cancellation) => Cli.RunAsync(() => Control(parse, dir).StatusAsync(cancellation)));
        return command;
    }

    private static Command Down()
    {
        var dir = DirOption();
        var command = new Command("down", "Stop every node (SIGTERM, SIGKILL after 10 s) and the proxy; clear the faults.") { dir };
        command.SetAction((parse, cancellation) => Cli.RunAsync(() => Control(parse, dir).DownAsync(cancellation)));
        return command;
    }

    private static Command Kill()
    {
        var dir = DirOption();
        var node = NodeArgument();
        var command = new Command("kill", "Kill one node with SIGKILL (a crash).") { node, dir };
        command.SetAction((parse, cancellation) => Cli.RunAsync(() => Control(parse, dir).KillAsync(parse.GetValue(node), cancellation)));
        return command;
    }

    private static Command Restart()
    {
        var dir = DirOption();
        var node = NodeArgument();
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the node to answer.", DefaultValueFactory = _ => 60 };
        var command = new Command("restart", "Kill one node if it runs and start it again (same config and data).") { node, dir, timeout };
        command.SetAction((parse, cancellation) => Cli.RunAsync(() => Control(parse, dir).RestartAsync(parse.GetValue(node),
            TimeSpan.FromSeconds(Seconds(parse.GetValue(timeout), "--timeout", 1, 600)), cancellation)));
        return command;
    }

    private static Command Proxy()
    {
        var dir = DirOption();
        var command = new Command("proxy", "Run the fault-injecting peer proxy in the foreground ('up' starts it in the background).") { dir };
        command.SetAction((parse, cancellation) => Cli.RunAsync(async () =>
        {
            var layout = Layout(parse, dir);
            var manifest = Manifest.Load(layout);
            var links = manifest.Links.Select(l =>
                new ProxyLink(l.From, l.To, l.Port, new IPEndPoint(IPAddress.Loopback, l.TargetPort))).ToList();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            await using var proxy = new FaultProxy(links, layout.Faults, log: Console.Out);
            proxy.Start();
            Directory.CreateDirectory(layout.RunDir);
            await File.WriteAllTextAsync(layout.ProxyReady, $"{Environment.ProcessId}\n", CancellationToken.None).ConfigureAwait(false);
            Console.WriteLine($"proxy listening on 127.0.0.1:{manifest.BasePort + 200}-{manifest.Links.Select(l => l.Port).DefaultIfEmpty(manifest.BasePort + 200).Max()} " +
                $"({links.Count} links); watching {layout.Relative(layout.Faults)}");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                File.Delete(layout.ProxyReady);
            }
            Console.WriteLine("proxy stopped");
            return 0;
        }));
        return command;
    }

    private static Command Partition()
    {
        var dir = DirOption();
        var nodes = new Argument<int[]>("nodes") { Description = "Node ids to isolate.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("partition", "Isolate nodes: the proxy cuts every peer link to or from them (clients still reach them).") { nodes, dir };
        command.SetAction(parse => Cli.Run(() => Control(parse, dir).Partition(parse.GetValue(nodes) ?? [])));
        return command;
    }

    private static Command Heal()
    {
        var dir = DirOption();
        var command = new Command("heal", "Clear every fault: all peer links open again.") { dir };
        command.SetAction(parse => Cli.Run(() => Control(parse, dir).Heal()));
        return command;
    }

    private static Option<int?> ClientsOption() => new("--clients")
    {
        Description = "Client identities to sign with (hospital applications; default up to 8).",
    };

    private static Command LoadCommand()
    {
        var dir = DirOption();
        var rate = new Option<int>("--rate") { Description = "Transactions per second (1-100,000), whatever the latency.", DefaultValueFactory = _ => 200 };
        var duration = new Option<int>("--duration") { Description = "Seconds to submit for (1-3,600).", DefaultValueFactory = _ => 10 };
        var clients = ClientsOption();
        var command = new Command("load", "Open-loop load: signed ~200-byte kv puts at a fixed rate, spread over all nodes and " +
            "several clients, each waiting for its commit; reports commits, refusals by reason, throughput and latency.")
        {
            rate, duration, clients, dir,
        };
        command.SetAction((parse, cancellation) => Cli.RunAsync(async () =>
        {
            var r = parse.GetValue(rate);
            if (r is < 1 or > 100_000) throw new ArgumentException("--rate must be between 1 and 100,000 tx/s");
            var d = Seconds(parse.GetValue(duration), "--duration", 1, 3600);
            var layout = Layout(parse, dir);
            var manifest = Manifest.Load(layout);
            using var submitter = new GrpcSubmitter(layout, manifest, parse.GetValue(clients), TimeSpan.FromSeconds(10));
            await WarmUp(submitter, cancellation).ConfigureAwait(false);
            Console.WriteLine($"load: {r:N0} tx/s for {d} s to {submitter.Nodes} node(s) as {string.Join(", ", submitter.ClientNames)}; " +
                $"{submitter.TransactionBytes} bytes per transaction");
            var runner = new LoadRunner(submitter, Console.Error, !Console.IsErrorRedirected);
            var result = await runner.OpenLoopAsync(r, TimeSpan.FromSeconds(d), cancellation).ConfigureAwait(false);
            foreach (var line in result.Describe()) Console.WriteLine(line);
            return result.Committed > 0 ? 0 : 1;
        }));
        return command;
    }

    private static Command BenchCommand()
    {
        var dir = DirOption();
        var duration = new Option<int>("--duration") { Description = "Seconds of each fixed-rate run (5-600).", DefaultValueFactory = _ => 20 };
        var step = new Option<int>("--step") { Description = "Seconds of each closed-loop ramp step (1-60).", DefaultValueFactory = _ => 5 };
        var rate = new Option<int>("--rate") { Description = "The fixed rate to measure latency at (tx/s).", DefaultValueFactory = _ => 1000 };
        var clients = ClientsOption();
        var noCatchUp = new Option<bool>("--no-catch-up") { Description = "Skip the state-transfer measurement (kill, load, restart, time the catch-up)." };
        var command = new Command("bench", "Find the maximum sustained committed throughput (closed-loop ramp), then measure " +
            "latency at a fixed rate and at half the maximum, with each node's CPU, then the state-transfer rate of a restarted node; " +
            "prints a Markdown table for BENCHMARKS.md.")
        {
            duration, step, rate, clients, dir, noCatchUp,
        };
        command.SetAction((parse, cancellation) => Cli.RunAsync(async () =>
        {
            var options = new BenchOptions
            {
                Duration = TimeSpan.FromSeconds(Seconds(parse.GetValue(duration), "--duration", 5, 600)),
                StepDuration = TimeSpan.FromSeconds(Seconds(parse.GetValue(step), "--step", 1, 60)),
                FixedRate = parse.GetValue(rate) is >= 1 and <= 100_000 and var r ? r
                    : throw new ArgumentException("--rate must be between 1 and 100,000 tx/s"),
            };
            var layout = Layout(parse, dir);
            var manifest = Manifest.Load(layout);
            using var submitter = new GrpcSubmitter(layout, manifest, parse.GetValue(clients), TimeSpan.FromSeconds(10));
            var unreachable = await WarmUp(submitter, cancellation).ConfigureAwait(false);
            if (unreachable.Count > 0)
                throw new TestnetException($"node(s) {string.Join(", ", unreachable)} do not answer; the benchmark needs every node up");
            var bench = new Bench(submitter, new NodeCpuProbe(layout, manifest), Console.Error, !Console.IsErrorRedirected);
            var report = await bench.RunAsync(options, submitter.TransactionBytes, MachineInfo.Detect(), cancellation).ConfigureAwait(false);
            CatchUpResult? catchUp = null;
            if (!parse.GetValue(noCatchUp))
            {
                // Numbers far above the benchmark's own, so no transaction repeats one already committed.
                var runner = new LoadRunner(submitter, Console.Error, !Console.IsErrorRedirected) { FirstSequence = 1L << 40 };
                catchUp = await CatchUpBench.RunAsync(Control(parse, dir), runner, Math.Max(50, report.MaxThroughput / 2),
                    options.Duration, Console.Error, cancellation).ConfigureAwait(false);
            }
            Console.WriteLine();
            Console.Write(report.ToMarkdown());
            if (catchUp is not null) Console.Write(catchUp.ToMarkdown());
            return 0;
        }));
        return command;
    }

    private static async Task<IReadOnlyList<int>> WarmUp(GrpcSubmitter submitter, CancellationToken cancellation)
    {
        var unreachable = await submitter.WarmUpAsync(cancellation).ConfigureAwait(false);
        if (unreachable.Count == submitter.Nodes)
            throw new TestnetException("no node answers; is the testnet up? ('testnet up', 'testnet status')");
        if (unreachable.Count > 0)
            Console.Error.WriteLine($"warning: node(s) {string.Join(", ", unreachable)} do not answer; their share of the load will fail");
        return unreachable;
    }
}
