using System.Diagnostics;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// A deterministic run of one <see cref="Scenario"/>: virtual time, one <see cref="Random"/> seeded with
/// <see cref="Scenario.Seed"/>, and an event queue ordered by (time, insertion order). Every replica that is
/// up gets a <see cref="Tick"/> each tick; messages travel through the faulty <see cref="Network"/>; clients
/// submit transactions at seeded times; crashes and restarts follow the scenario. The
/// <see cref="SafetyChecker"/> runs after every replica step, and liveness is checked at the end when asked.
/// Any violation (or a replica throwing) raises <see cref="SimulationViolation"/> with the seed and the step.
/// </summary>
public sealed partial class Simulation : IHostEnvironment
{
    private const int MaxTransferAttempts = 50;

    private readonly NodeFactory _factory;
    private readonly Random _random;
    private readonly EventQueue _queue = new();
    private readonly List<ReplicaHost> _hosts = [];
    private readonly Network _network;
    private readonly SafetyChecker _checker;
    private readonly List<string>? _trace;
    private readonly HashSet<TxId> _committedOnce = [];
    private readonly long _lastFaultTime;
    private bool _ran;

    public Simulation(Scenario scenario, NodeFactory? factory = null)
    {
        Scenario = scenario;
        _factory = factory ?? ReplicaNode.Factory;
        _random = new Random(scenario.Seed);
        _trace = scenario.RecordTrace ? [] : null;
        CreateHosts();
        _network = new Network(scenario, _hosts, _random, _queue, Metrics);
        _checker = new SafetyChecker(scenario, problem => Violation(problem));
        _lastFaultTime = scenario.Crashes.Select(c => Math.Max(c.At, c.RestartAt ?? c.At))
            .Concat(scenario.Partitions.Select(p => p.Until)).DefaultIfEmpty(0).Max();
    }

    public Scenario Scenario { get; }
    public RunMetrics Metrics { get; } = new();
    public IReadOnlyList<ReplicaHost> Hosts => _hosts;
    public long Now { get; private set; }

    /// <summary>Replica steps so far; a violation names the step it happened at.</summary>
    public long StepCount { get; private set; }

    /// <summary>One line per event and step (with <see cref="Scenario.RecordTrace"/>): runs of a seed match.</summary>
    public IReadOnlyList<string> Trace => _trace ?? [];

    /// <summary>The <see cref="Status.LogSize"/> bound the checker enforces.</summary>
    public int LogBound => _checker.LogBound;

    /// <summary>Runs a scenario to its end and returns its metrics; throws <see cref="SimulationViolation"/>.</summary>
    public static RunMetrics Run(Scenario scenario, NodeFactory? factory = null) =>
        new Simulation(scenario, factory).Run();

    public RunMetrics Run()
    {
        if (_ran) throw new InvalidOperationException("a simulation runs once");
        _ran = true;
        var clock = Stopwatch.StartNew();
        foreach (var host in _hosts) Guard(host, host.Start, "construction");
        ScheduleWorkload();
        while (_queue.TryNext(out var ev, out var time) && time <= Scenario.EndTime)
        {
            Now = time;
            Metrics.Events++;
            Handle(ev);
            if (ev is TickAllEvent && Scenario.StopWhenDone && Now >= _lastFaultTime && _checker.Settled(_hosts)) break;
        }
        Finish(clock.Elapsed);
        if (Scenario.CheckLiveness) _checker.CheckLiveness(_hosts);
        return Metrics;
    }

    private void CreateHosts()
    {
        for (var i = 0; i < Scenario.N; i++)
        {
            var id = new ReplicaId((ushort)i);
            var kind = Scenario.KindOf(id);
            if (kind == ByzantineKind.Twins)
            {
                _hosts.Add(new ReplicaHost(this, _hosts.Count, id, kind, twinSideB: false));
                _hosts.Add(new ReplicaHost(this, _hosts.Count, id, kind, twinSideB: true));
            }
            else
            {
                _hosts.Add(new ReplicaHost(this, _hosts.Count, id, kind, twinSideB: !Scenario.TwinSideA.Contains(id)));
            }
        }
    }

    private void ScheduleWorkload()
    {
        _queue.Schedule(Scenario.TickLength, new TickAllEvent());
        for (var i = 0; i < Scenario.Transactions; i++)
        {
            var tx = SimTransaction.Create((ushort)(i % Scenario.Clients), (uint)(i / Scenario.Clients));
            _queue.Schedule(_random.NextInt64(0, Scenario.SubmitUntil + 1), new SubmitEvent(tx));
        }
        foreach (var crash in Scenario.Crashes)
        {
            var instance = _hosts.First(h => h.Id == crash.Replica).Instance;
            _queue.Schedule(crash.At, new CrashEvent(crash, instance));
            if (crash.RestartAt is { } restart) _queue.Schedule(restart, new RestartEvent(instance));
        }
    }

    private void Handle(SimEvent ev)
    {
        switch (ev)
        {
            case TickAllEvent:
                TickAll();
                break;
            case DeliverEvent d:
                Deliver(d);
                break;
            case SubmitEvent s:
                Record($"submit {s.Tx.Id}");
                _checker.OnSubmitted(s.Tx, Now);
                foreach (var host in _hosts) host.Submit(s.Tx);
                break;
            case CrashEvent c:
                Crash(c);
                break;
            case RestartEvent r:
                var restarting = _hosts[r.Instance];
                Record($"restart {restarting.Id} (up={restarting.IsUp})");
                if (!restarting.IsUp) Guard(restarting, restarting.Restart, "restart");
                break;
            case TransferEvent t:
                CompleteTransfer(t);
                break;
        }
    }

    private void TickAll()
    {
        var order = _hosts.Where(h => h.IsUp).ToArray();
        _random.Shuffle(order);
        foreach (var host in order)
        {
            if (host.IsUp) host.Deliver(new Tick(host.MempoolCount > 0));
        }
        _queue.Schedule(Now + Scenario.TickLength, new TickAllEvent());
    }

    private void Deliver(DeliverEvent d)
    {
        var from = _hosts[d.From];
        var to = _hosts[d.To];
        if (!_network.CanDeliver(from, to, Now))
        {
            Metrics.MessagesLost++;
            Record($"lost {d.Kind} {from.Id}/{from.Instance}->{to.Id}/{to.Instance} sent={d.SentAt}");
            return;
        }
        Metrics.MessagesDelivered++;
        Record($"deliver {d.Kind} {from.Id}/{from.Instance}->{to.Id}/{to.Instance} sent={d.SentAt} " +
               $"len={d.Bytes.Length}");
        to.Deliver(new PeerMessage(from.Id, d.Bytes));
    }

    private void Crash(CrashEvent c)
    {
        var host = _hosts[c.Instance];
        Record($"crash {host.Id}{(c.Spec.BetweenPersistAndSend ? " (armed: between persist and send)" : "")}");
        if (!host.IsUp) return;
        if (c.Spec.BetweenPersistAndSend) host.ArmMidReadyCrash();
        else host.Crash();
    }

    private void Finish(TimeSpan wall)
    {
        Metrics.WallTime = wall;
        Metrics.VirtualTime = Now;
        Metrics.SignatureVerifications = _hosts.Sum(h => h.Verifier.Calls);
        Metrics.ValidatorCalls = _hosts.Sum(h => h.ValidatorCalls);
        Metrics.TransactionsCommitted = _committedOnce.Count;
        var honestUp = _hosts.Where(h => h.IsHonest && h.IsUp).ToList();
        Metrics.BlocksCommitted = honestUp.Count == 0 ? 0 : honestUp.Min(h => h.Ledger.Height);
    }

    private void Record(string line) => _trace?.Add($"{Now} {line}");

    private void Guard(ReplicaHost host, Action action, string what)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is not SimulationViolation)
        {
            throw Violation($"{host.Id} threw during {what}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    SimulationViolation IHostEnvironment.Violation(string problem) => Violation(problem);

    /// <summary>A violation at the current step and time, naming the seed.</summary>
    private SimulationViolation Violation(string problem, Exception? inner = null) =>
        new(Scenario, StepCount, Now, problem, inner);
}
