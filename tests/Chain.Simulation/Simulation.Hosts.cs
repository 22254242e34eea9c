using Chain.Consensus;
using Chain.Simulation.Byzantine;

namespace Chain.Simulation;

/// <summary>The simulation as the hosts' environment: steps, sends, commits, state transfer, new nodes.</summary>
public sealed partial class Simulation
{
    NodeOutput IHostEnvironment.Step(ReplicaHost host, INode node, Input input)
    {
        StepCount++;
        Metrics.Steps++;
        try
        {
            return node.Step(input);
        }
        catch (Exception e) when (e is not SimulationViolation)
        {
            throw Violation($"{host.Id} (instance {host.Instance}) threw on {Describe(input)}: " +
                            $"{e.GetType().Name}: {e.Message}", e);
        }
    }

    private static string Describe(Input input) => input switch
    {
        PeerMessage m => $"a {m.Bytes.Length}-byte message from {m.From}",
        Tick t => $"Tick(pendingWork: {t.PendingWork})",
        Propose p => $"Propose({p.Seq}, parent {p.Parent.Short}, {p.Payload.Length} bytes)",
        _ => input.ToString() ?? input.GetType().Name,
    };

    void IHostEnvironment.Send(ReplicaHost host, Envelope envelope) => _network.Send(host, envelope, Now);

    void IHostEnvironment.Committed(ReplicaHost host, CommittedEntry entry, SimTransaction[]? txs,
        IReadOnlyList<TxId> duplicates)
    {
        Record($"commit {host.Id}/{host.Instance} {entry.Seq} {entry.Digest.Short}");
        _checker.OnCommitted(host, entry, txs, duplicates);
        if (!host.IsHonest || txs is null) return;
        foreach (var tx in txs)
        {
            if (_committedOnce.Add(tx.Id)) Metrics.AddLatency(Now - _checker.Submitted[tx.Id]);
        }
    }

    void IHostEnvironment.Stepped(ReplicaHost host, NodeOutput output)
    {
        if (_trace is not null)
        {
            Record($"step {host.Id}/{host.Instance} persist={output.Persist.Count} send={output.Send.Count} " +
                   $"commit={output.Committed.Count} events={output.Events.Count}" +
                   string.Concat(output.Committed.Select(c => $" [commit {c.Seq} {c.Digest.Short}]")) +
                   string.Concat(output.Events.Where(e => e is not MessageDropped).Select(e => $" [{e}]")));
        }
        Metrics.Evidence += output.Evidence.Count;
        if (!host.IsHonest) return;
        foreach (var ev in output.Events)
        {
            if (ev is ViewChangeStarted) Metrics.ViewChangesStarted++;
            else if (ev is NewViewInstalled) Metrics.NewViewsInstalled++;
        }
        if (output.Status is not null) _checker.OnStatus(host, output.Status);
    }

    void IHostEnvironment.CrashedMidReady(ReplicaHost host, NodeOutput lost) =>
        Record($"crash {host.Id} between persist ({lost.Persist.Count} records stored) and send " +
               $"({lost.Send.Count} messages, {lost.Committed.Count} commits lost)");

    void IHostEnvironment.TransferNeeded(ReplicaHost host, StateTransferNeeded request)
    {
        Record($"state transfer {host.Id} {request.From}->{request.Target}");
        host.TransferPending = true;
        var transfer = new TransferEvent(host.Instance, host.Incarnation, request, 0);
        _queue.Schedule(Now + Scenario.StateTransferDelay, transfer);
    }

    INode IHostEnvironment.CreateNode(ReplicaHost host, NodeContext context)
    {
        if (host.Kind is null or ByzantineKind.Twins) return _factory(context);
        var random = new Random(_random.Next());
        var (signer, n) = (context.Signer, Scenario.N);
        return host.Kind switch
        {
            ByzantineKind.Silent => new SilentNode(host.Id),
            ByzantineKind.Equivocator => new EquivocatingNode(_factory(context), signer, n, random),
            ByzantineKind.ConflictingVoter => new ConflictingVoterNode(_factory(context), signer, n, random),
            ByzantineKind.Replayer => new ReplayingNode(_factory(context), signer, n, random),
            ByzantineKind.Forger => new ForgingNode(_factory(context), signer, n, random),
            _ => throw new InvalidOperationException($"unknown Byzantine kind {host.Kind}"),
        };
    }

    /// <summary>
    /// Completes a state transfer: copies the blocks above the host's height up to the target from an honest
    /// ledger (preferring the peers the replica named and replicas that are up), verifies each certificate with
    /// the host's verifier, appends them, and delivers <see cref="CaughtUp"/>. Retries while no honest ledger
    /// reaches the target yet.
    /// </summary>
    private void CompleteTransfer(TransferEvent t)
    {
        var host = _hosts[t.Instance];
        if (!host.IsUp || host.Incarnation != t.Incarnation) return;
        var target = t.Request.Target.Value;
        if (host.Ledger.Height < target)
        {
            var source = TransferSource(host, t.Request);
            if (source is null)
            {
                if (t.Attempt < MaxTransferAttempts)
                    _queue.Schedule(Now + Scenario.StateTransferDelay, t with { Attempt = t.Attempt + 1 });
                else host.TransferPending = false;
                return;
            }
            CopyBlocks(host, source, target);
        }
        host.TransferPending = false;
        Metrics.StateTransfers++;
        var digest = host.Ledger.DigestAt(target);
        if (host.IsHonest && digest != t.Request.TargetDigest)
        {
            throw Violation($"state transfer: {host.Id} was told the stable checkpoint {t.Request.Target} has digest " +
                            $"{t.Request.TargetDigest.Short}.., the honest ledger has {digest.Short}..");
        }
        Record($"caught up {host.Id} to {t.Request.Target}");
        host.Deliver(new CaughtUp(t.Request.Target, digest));
    }

    private ReplicaHost? TransferSource(ReplicaHost host, StateTransferNeeded request)
    {
        var candidates = _hosts
            .Where(h => h != host && h.IsHonest && h.Ledger.Height >= request.Target.Value)
            .OrderByDescending(h => h.IsUp && request.Peers.Contains(h.Id))
            .ThenByDescending(h => h.IsUp)
            .ThenBy(h => h.Instance)
            .ToList();
        return candidates.Count == 0 ? null : candidates[0];
    }

    private void CopyBlocks(ReplicaHost host, ReplicaHost source, ulong target)
    {
        for (var height = host.Ledger.Height + 1; height <= target; height++)
        {
            var entry = source.Ledger.At(height);
            var problem = Certificates.Problem(entry, host.Verifier, Scenario.N);
            if (problem is not null)
            {
                throw Violation(
                    $"state transfer: {source.Id}'s block {entry.Seq} fails verification at {host.Id}: {problem}");
            }
            host.Append(entry);
        }
    }
}
